/**
 * The cluster's floor: a domain's path through the transports issue 7 asks for,
 * with none of the work between — what `npm run bench -- cluster` would reach
 * if parsing, post-parse, placement, the agents and the event store's own
 * bookkeeping cost nothing.
 *
 * Per domain, as the real path: the client's define job on the jobs queue
 * (bench/pipeline-floor-worker.ts in one child process: the intake, its stage as
 * a flow child, four progress updates, the name claim and DomainDefined appended
 * with their subjects' expected sequence); the client sees DomainDefined on
 * core NATS and submits a start job, which the intake hands to the schedule
 * queue; a schedule worker here (concurrency 64) appends the host's claim
 * (expected sequence of the host's subject; claims on one host in turn) and
 * DomainPlaced, and sends the command to the host's agent (one NATS connection
 * per host, 100), which appends DomainStarted and answers; the client counts
 * DomainStarted on core NATS. Events go to a stream configured as the event
 * store's (file storage, duplicate window, direct gets), under `floor.evt.>`.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, eventStreamConfig } from '@virtflow/runtime';
import type { Servers } from '../test/harness/index.ts';
import { floorJobsQueue, spawnFloorWorker } from './floor.ts';

const STREAM = 'BENCH_FLOOR';

export interface PathFloor {
  readonly domains: number;
  readonly runningPerS: number;
  readonly seconds: number;
  readonly cpuSeconds: Record<string, number>;
}

/** `cpu()`: CPU seconds by process, as the cluster bench counts them (its child node process is the floor worker here). */
export async function pathFloor(servers: Servers, n: number, hosts: number, cpu: () => Record<string, number>): Promise<PathFloor> {
  const conns: NatsConnection[] = [];
  const nats = async () => {
    const nc = await connectNats(servers.natsUrl);
    conns.push(nc);
    return nc;
  };
  const redis = [0, 1].map(() => new Redis(servers.redisUrl, { maxRetriesPerRequest: null }));
  const worker = spawnFloorWorker({ REDIS_URL: servers.redisUrl, NATS_URL: servers.natsUrl });
  const jobs = floorJobsQueue(redis[0]!);
  let scheduler: Worker | undefined;
  const nc = await nats();
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.add({ ...eventStreamConfig({ stream: STREAM }), subjects: ['floor.evt.>'] });
    await worker.ready;

    // The agents: each host's command subject on its own connection; DomainStarted appended, then the answer.
    for (let h = 0; h < hosts; h++) {
      const anc = await nats();
      const ajs = jetstream(anc);
      anc.subscribe(`floor.cmd.${h}`, { callback: (_e, m) => {
        const uuid = m.string();
        void ajs.publish(`floor.evt.${uuid}.DomainStarted`, uuid, { msgID: `${uuid}:3`, expect: { lastSubjectSequence: 0 } })
          .then((ack) => m.respond(JSON.stringify({ ok: true, seq: ack.seq })), (e: Error) => m.respond(JSON.stringify({ ok: false, error: e.message })));
      } });
      await anc.flush();
    }

    // The scheduler: claim on the host (in turn per host: the expected sequence is the host's last claim), DomainPlaced, the command.
    const snc = await nats();
    const sjs = jetstream(snc);
    const hostSeq = new Array<number>(hosts).fill(0);
    const hostTurn = new Array<Promise<unknown>>(hosts).fill(Promise.resolve());
    let next = 0;
    scheduler = new Worker<{ uuid: string }>('floor.schedule', async (job) => {
      const { uuid } = job.data;
      const h = next++ % hosts;
      const claimed = hostTurn[h]!.then(async () => {
        const ack = await sjs.publish(`floor.evt.host.${h}.Claimed`, uuid, { expect: { lastSubjectSequence: hostSeq[h]! } });
        hostSeq[h] = ack.seq;
      });
      hostTurn[h] = claimed.catch(() => undefined);
      await claimed;
      await sjs.publish(`floor.evt.${uuid}.DomainPlaced`, String(h), { msgID: `${uuid}:2`, expect: { lastSubjectSequence: 0 } });
      const reply = JSON.parse((await snc.request(`floor.cmd.${h}`, uuid, { timeout: 60_000 })).string()) as { ok: boolean; error?: string };
      if (!reply.ok) throw new Error(reply.error);
      return reply;
    }, { connection: redis[1]!, prefix: 'floor', concurrency: 64, lockDuration: 60_000, stalledInterval: 60_000 });
    await scheduler.waitUntilReady();

    // The client: a define per domain; its DomainDefined seen → its start job; DomainStarted seen → running.
    const cnc = await nats();
    const run = async (k: number): Promise<number> => {
      let running = 0;
      let done!: () => void;
      const all = new Promise<void>((r) => (done = r));
      const defined = cnc.subscribe('floor.evt.*.DomainDefined', { callback: (_e, m) => {
        const uuid = m.subject.split('.')[2]!;
        void jobs.add('start', { payload: { op: 'start', uuid } }, { jobId: `${uuid}.start` });
      } });
      const started = cnc.subscribe('floor.evt.*.DomainStarted', { callback: () => {
        if (++running === k) done();
      } });
      await cnc.flush();
      const t0 = performance.now();
      await jobs.addBulk(Array.from({ length: k }, () => {
        const uuid = randomUUID();
        return { name: 'define', data: { payload: { op: 'define', uuid, xml: `<domain type='test'><name>f-${uuid}</name><uuid>${uuid}</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>` } }, opts: { jobId: uuid } };
      }));
      await all;
      const secs = (performance.now() - t0) / 1000;
      defined.unsubscribe();
      started.unsubscribe();
      return secs;
    };
    await run(Math.min(200, n));
    const cpu0 = cpu();
    const seconds = await run(n);
    const cpu1 = cpu();
    const cpuSeconds = Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, Math.round((v - (cpu0[k] ?? 0)) * 100) / 100]));
    return { domains: n, runningPerS: Math.round((n / seconds) * 10) / 10, seconds: Math.round(seconds * 10) / 10, cpuSeconds };
  } finally {
    await scheduler?.close();
    await jobs.close();
    await worker.stop();
    await jsm.streams.delete(STREAM).catch(() => undefined);
    for (const r of redis) r.disconnect();
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  }
}
