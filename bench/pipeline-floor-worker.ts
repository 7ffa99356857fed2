/**
 * The floor of `npm run bench -- pipeline` and `-- cluster`: one worker process
 * doing exactly the BullMQ work issue 5 asks of a define job — the intake's
 * 'parsed' progress and its stage added as a flow child under it, the wait for
 * it (moveToWaitingChildren), the stage's job with its progress on the intake,
 * the intake resumed with 'policy' and 'stored', the result — with none of the
 * work between (no parse, no post-parse, no provenance).
 *
 * Run as a child process: REDIS_URL, CONCURRENCY. With NATS_URL (the cluster's
 * floor, bench/cluster-floor.ts) the store step also makes the define's two
 * JetStream writes — the name claimed and DomainDefined, each checked against
 * its subject's last sequence, on the FLOOR_STREAM stream — and a `start` job
 * is handed on to the floor's schedule queue, as the parser hands it to
 * virtflow.schedule.
 */
import { FlowProducer, Job, Queue, WaitingChildrenError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';

interface FloorData {
  readonly payload: { readonly op: string; readonly xml?: string; readonly uuid?: string };
}

const url = process.env.REDIS_URL!;
const concurrency = Number(process.env.CONCURRENCY ?? 32);
const prefix = 'floor';
const conn = () => new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false });
const connection = conn();
const jobs = new Queue('floor.jobs', { connection, prefix });
const schedule = new Queue('floor.schedule', { connection, prefix });
const flow = new FlowProducer({ connection, prefix });
const childOpts = { attempts: 5, backoff: { type: 'exponential', delay: 500 }, failParentOnFailure: true, removeOnComplete: { age: 3600 } };
const nc = process.env.NATS_URL ? await connect({ servers: process.env.NATS_URL }) : undefined;
const js = nc && jetstream(nc);

/** The define's event-store writes: the name claimed, then DomainDefined at sequence 0 of its subject. */
const storeDefinition = async (uuid: string, xml: string): Promise<number> => {
  if (!js) return 1;
  await js.publish(`floor.evt.name.${uuid}`, uuid, { expect: { lastSubjectSequence: 0 } });
  const ack = await js.publish(`floor.evt.${uuid}.DomainDefined`, xml, { msgID: `${uuid}:1`, expect: { lastSubjectSequence: 0 } });
  return ack.seq;
};

// Resumed once the stage is done (or straight on, when it finished before the wait), as the service's store step.
const resume = async (job: Job<FloorData>) => {
  const [value] = Object.values(await job.getChildrenValues<{ xml: string }>());
  const policy = job.updateProgress('policy');
  const seq = await storeDefinition(job.data.payload.uuid ?? job.id!, value!.xml);
  await policy;
  await job.updateProgress('stored');
  return { uuid: job.id, version: 1, seq, xml: value!.xml };
};

const intake = new Worker<FloorData>('floor.jobs', async (job, token) => {
  if (job.data.payload.op === 'start') {
    await schedule.add('start', job.data.payload, { jobId: job.id, attempts: 5, backoff: childOpts.backoff });
    return { handedOn: 'floor.schedule', jobId: job.id };
  }
  if ((job.attemptsStarted ?? 1) > 1) return resume(job);
  const parent = { id: job.id!, queue: job.queueQualifiedName };
  await Promise.all([
    job.updateProgress('parsed'),
    flow.add({ name: 'postparse', queueName: 'floor.postparse', data: { intake: job.id, xml: job.data.payload.xml }, opts: { ...childOpts, jobId: `${job.id}.postparse`, parent } }),
  ]);
  if (await job.moveToWaitingChildren(token!)) throw new WaitingChildrenError();
  return resume(job);
}, { connection: conn(), prefix, concurrency, lockDuration: 30_000, stalledInterval: 30_000 });

const stage = new Worker<{ intake: string; xml: string }>('floor.postparse', async (job) => {
  await new Job(jobs, 'progress', {}, {}, job.data.intake).updateProgress('post-parsed:qemu');
  return { xml: job.data.xml };
}, { connection: conn(), prefix, concurrency, lockDuration: 30_000, stalledInterval: 30_000 });

await Promise.all([intake.waitUntilReady(), stage.waitUntilReady()]);
console.log('ready');
process.once('SIGTERM', () => void Promise.all([intake.close(), stage.close()]).then(async () => {
  await nc?.close();
  process.exit(0);
}));
