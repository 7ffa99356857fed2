/**
 * The floor of `npm run bench -- pipeline`: one worker process doing exactly the
 * BullMQ work issue 5 asks of a define job — the intake's 'parsed' progress and
 * its stage added as a flow child under it, the wait for it
 * (moveToWaitingChildren), the stage's job with its progress on the intake,
 * the intake resumed with 'policy' and 'stored', the result — with none of the
 * work between (no XML, no post-parse, no provenance, no event store).
 * Run by bench/pipeline.ts as a child process: REDIS_URL, CONCURRENCY.
 */
import { FlowProducer, Job, Queue, WaitingChildrenError, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL!;
const concurrency = Number(process.env.CONCURRENCY ?? 32);
const prefix = 'floor';
const conn = () => new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false });
const connection = conn();
const jobs = new Queue('floor.jobs', { connection, prefix });
const flow = new FlowProducer({ connection, prefix });
const childOpts = { attempts: 5, backoff: { type: 'exponential', delay: 500 }, failParentOnFailure: true, removeOnComplete: { age: 3600 } };

// Resumed once the stage is done (or straight on, when it finished before the wait), as the service's store step.
const resume = async (job: Job<{ xml: string }>) => {
  const [value] = Object.values(await job.getChildrenValues<{ xml: string }>());
  await job.updateProgress('policy');
  await job.updateProgress('stored');
  return { uuid: job.id, version: 1, xml: value!.xml };
};

const intake = new Worker<{ xml: string }>('floor.jobs', async (job, token) => {
  if ((job.attemptsStarted ?? 1) > 1) return resume(job);
  const parent = { id: job.id!, queue: job.queueQualifiedName };
  await Promise.all([
    job.updateProgress('parsed'),
    flow.add({ name: 'postparse', queueName: 'floor.postparse', data: { intake: job.id, xml: job.data.xml }, opts: { ...childOpts, jobId: `${job.id}.postparse`, parent } }),
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
process.once('SIGTERM', () => void Promise.all([intake.close(), stage.close()]).then(() => process.exit(0)));
