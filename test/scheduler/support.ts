/**
 * Shared set-up of the scheduler integration tests: a private redis-server
 * and nats-server, in-process agents on the test hypervisor (each with its
 * own NATS connection and store), in-process schedulers, and the schedule
 * queue to hand jobs to and wait on.
 */
import { randomUUID } from 'node:crypto';
import { Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import { VirtError, type AnyEvent, type VirtErrorJSON } from '@virtflow/model';
import { EventStore, connectNats, defineDomain, queues, type SchedulerServiceConfig } from '@virtflow/runtime';
import { Agent, createTestHypervisor, silentLogger, type TestHypervisor, type TestHypervisorOptions } from '@virtflow/host-agent';
import { startScheduler, type SchedulerOptions, type SchedulerService } from '@virtflow/scheduler';
import { startServers, type Servers } from '../harness/index.ts';
import { waitFor as waitForWithin } from '../agent/support.ts';

/** Generous under load: two cores shared with other suites. */
export const TIMEOUT = 60_000;

/** Polls until f gives a value, within the scheduler suites' (longer) timeout by default. */
export const waitFor = <T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = TIMEOUT): Promise<T> => waitForWithin(what, f, timeoutMs);
export const MiB = 1024;
export const GiB = 1024 * 1024;

export interface HostSpec extends TestHypervisorOptions {
  readonly hostId: string;
}

export interface TestHost {
  readonly hostId: string;
  readonly agent: Agent;
  readonly hv: TestHypervisor;
  readonly nc: NatsConnection;
}

export interface Rig {
  readonly servers: Servers;
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly hosts: Map<string, TestHost>;
  readonly schedulers: SchedulerService[];
  readonly queue: Queue;
  readonly events: QueueEvents;
  /** Starts another scheduler in this process, on its own connections. */
  scheduler(opts?: Partial<SchedulerOptions>): Promise<SchedulerService>;
  stop(): Promise<void>;
}

export interface RigOptions {
  readonly hosts: readonly HostSpec[];
  /** Schedulers started at once (1). */
  readonly schedulers?: number;
  readonly config?: Partial<SchedulerServiceConfig>;
  readonly concurrency?: number;
}

export async function startRig(opts: RigOptions): Promise<Rig> {
  const servers = await startServers();
  const conns: NatsConnection[] = [];
  const redis: Redis[] = [];
  const connect = async () => {
    const nc = await connectNats(servers.natsUrl);
    conns.push(nc);
    return nc;
  };
  const nc = await connect();
  const store = await EventStore.open(nc, { onPoison: () => undefined });
  const hosts = new Map<string, TestHost>();
  const schedulers: SchedulerService[] = [];
  const conn = () => {
    const r = new Redis(servers.redisUrl, { maxRetriesPerRequest: null });
    redis.push(r);
    return r;
  };
  const queue = new Queue(queues.schedule, { connection: conn() });
  const events = new QueueEvents(queues.schedule, { connection: conn() });
  events.setMaxListeners(0);
  // Every waiting job listens for the queue closing.
  queue.setMaxListeners(0);
  const rig: Rig = {
    servers, nc, store, hosts, schedulers, queue, events,
    async scheduler(o = {}) {
      const snc = await connect();
      const sstore = await EventStore.open(snc, { onPoison: () => undefined, snapshotEvery: 25 });
      const s = await startScheduler({
        redisUrl: servers.redisUrl, store: sstore, nc: snc, concurrency: opts.concurrency ?? 16,
        config: { reservedHostMemoryKiB: 0, commandTimeoutMs: TIMEOUT, ...opts.config }, ...o,
      });
      schedulers.push(s);
      return s;
    },
    async stop() {
      await Promise.all(schedulers.map((s) => s.close().catch(() => undefined)));
      await Promise.all([...hosts.values()].map((h) => h.agent.stop().catch(() => undefined)));
      await events.close();
      await queue.close();
      for (const r of redis) r.disconnect();
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      await servers.stop();
    },
  };
  try {
    await events.waitUntilReady();
    for (const h of opts.hosts) {
      const { hostId, ...hv } = h;
      const hnc = await connect();
      const hstore = await EventStore.open(hnc, { onPoison: () => undefined });
      const hypervisor = createTestHypervisor(hv);
      const agent = await Agent.start({ hostId, nc: hnc, store: hstore, hypervisor, heartbeatMs: 1_000, log: silentLogger });
      hosts.set(hostId, { hostId, agent, hv: hypervisor, nc: hnc });
    }
    for (let i = 0; i < (opts.schedulers ?? 1); i++) await rig.scheduler();
  } catch (e) {
    await rig.stop();
    throw e;
  }
  return rig;
}

/** A test-driver domain as the parser would store it (already post-parsed: nothing left to fill). */
export function testDomainXml(name: string, uuid: string, memoryKiB: number, vcpus = 1): string {
  return `<domain type='test'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='KiB'>${memoryKiB}</memory>
  <currentMemory unit='KiB'>${memoryKiB}</currentMemory>
  <vcpu placement='static'>${vcpus}</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
</domain>
`;
}

/** Appends DomainDefined straight to the log (the parser's last step), for tests about the scheduler alone. */
export async function define(store: EventStore, name: string, memoryKiB: number, vcpus = 1): Promise<string> {
  const uuid = randomUUID();
  await defineDomain(store, { uuid, name, domainType: 'test', driver: 'test', xml: testDomainXml(name, uuid, memoryKiB, vcpus) }, { correlationId: `define-${name}` });
  return uuid;
}

export type Outcome = { readonly ok: true; readonly value: unknown; readonly id: string } | { readonly ok: false; readonly error: VirtError; readonly id: string };

/** Adds a job to virtflow.schedule, as the parser hands one on. */
export function schedule(rig: Rig, payload: Record<string, unknown>, id = randomUUID()): Promise<Job> {
  return rig.queue.add(String(payload.op), payload, { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 100 } });
}

/** A job's result, or the VirtError it failed with. */
export async function outcome(rig: Rig, job: Job, timeoutMs = TIMEOUT): Promise<Outcome> {
  try {
    return { ok: true, value: await job.waitUntilFinished(rig.events, timeoutMs), id: job.id! };
  } catch (e) {
    const fresh = await rig.queue.getJob(job.id!);
    let error: VirtError;
    try {
      error = VirtError.fromJSON(JSON.parse(fresh?.failedReason ?? '') as VirtErrorJSON);
    } catch {
      error = new VirtError('INTERNAL_ERROR', `${fresh?.failedReason ?? (e as Error).message}`);
    }
    return { ok: false, error, id: job.id! };
  }
}

/** Every event in the stream from its first, decoded (the log rebuilt from zero), up to `last` (default: the stream's last sequence now). */
export async function allEvents(store: EventStore, last?: number): Promise<AnyEvent[]> {
  const out: AnyEvent[] = [];
  last ??= (await store.jsm.streams.info(store.stream)).state.last_seq;
  if (last === 0) return out;
  const sub = store.subscribe('virt.evt.>', { from: 'all', onPoison: () => undefined, batch: 2048 });
  for await (const d of sub) {
    out.push(d.event);
    if (d.seq >= last) sub.stop();
  }
  return out;
}

