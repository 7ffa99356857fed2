/**
 * The scheduler service, wired: the live inventory (inventory.ts) follows
 * the event stream; a BullMQ worker takes the lifecycle jobs the parser
 * hands on (`virtflow.schedule`): `start` places, claims and starts
 * (start.ts), shutdown/destroy/reboot/reset/suspend/resume go to the host
 * the domain lives on (lifecycle.ts), migrate/evacuate to MIGRATE's modules
 * (moves.ts). A stop watcher gives back the claim of every domain that
 * stopped (a guest powering off, a crash, a destroy, a fence), whoever
 * caused it. Several schedulers can run side by side: they share nothing
 * but the log and the queue.
 *
 * Tests start it in this process with `startScheduler({redisUrl, store, nc})`.
 */
import { randomUUID } from 'node:crypto';
import { Job, Queue, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  VirtError, validateJob,
  type InventoryConfig, type SchedulerConfig, type SchedulerHints,
} from '@virtflow/model';
import { CommandResultWatcher, queues, type EventStore, type SchedulerServiceConfig } from '@virtflow/runtime';
import { claimsContext, claimsPort, release, type ClaimsContext } from './claims.ts';
import { LiveInventory, type StopSeen } from './inventory.ts';
import { isRoutedOp, routeOperation } from './lifecycle.ts';
import { SchedulerMetrics } from './metrics.ts';
import { DEFAULT_OPERATIONS, type OperationHandler } from './moves.ts';
import type { MigrateContext } from './migrate.ts';
import { startDomain, type StartArgs, type StartResult } from './start.ts';
import { asJob, hintsOf, userFailure } from './wire.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>) => void;

/** The defaults of loadSchedulerConfig, for callers that pass only some settings. */
export const DEFAULT_SCHEDULER_CONFIG: SchedulerServiceConfig = Object.freeze({
  maxHosts: 3, commandTimeoutMs: 60_000, ramAllocationRatio: 1.0, cpuAllocationRatio: 4.0, reservedHostMemoryKiB: 512 * 1024, reservedHostCpus: 0,
  hostSubsetSize: 1, weights: Object.freeze({}), maxDomainsPerHost: undefined,
});

export interface SchedulerOptions {
  readonly redisUrl: string;
  /** Extra ioredis options (TLS: redisSecurityOptions of @virtflow/runtime). */
  readonly redisOptions?: RedisOptions;
  readonly store: EventStore;
  readonly nc: NatsConnection;
  readonly config?: Partial<SchedulerServiceConfig>;
  /** Overrides the allocation policy the config gives (aggregates, per-host ratios). */
  readonly inventory?: InventoryConfig;
  /** Overrides the placement settings the config gives (filters, weights). */
  readonly scheduler?: SchedulerConfig;
  /** Jobs run at once (16). */
  readonly concurrency?: number;
  /** BullMQ's key prefix (bull). Retries of an infrastructure fault are the job's own `attempts` (the parser sets them). */
  readonly prefix?: string;
  readonly lockMs?: number;
  readonly stalledMs?: number;
  readonly metrics?: SchedulerMetrics;
  /** [0, 1) draws for host_subset_size. */
  readonly random?: () => number;
  /** migrate / evacuate handlers (default: moves.ts, MIGRATE's modules). */
  readonly operations?: Partial<Record<'migrate' | 'evacuate', OperationHandler | undefined>>;
  readonly log?: Logger;
}

export interface SchedulerService {
  readonly worker: Worker;
  readonly live: LiveInventory;
  readonly claims: ClaimsContext;
  readonly metrics: SchedulerMetrics;
  /** The start path, for callers other than the queue. */
  start(args: StartArgs): Promise<StartResult>;
  /**
   * membership.ts's RestartFn: a fenced domain started on another host than the down one; resolves with
   * its host. Durable: a start job on the schedule queue, one per fence (its id names the domain and the
   * version its fence wrote), so a scheduler that dies meanwhile leaves the job to the others, and the
   * same fence asked for twice (Membership's resumeFenced) runs once.
   */
  restart(r: { readonly uuid: string; readonly version: number; readonly excludeHosts: readonly string[] }): Promise<string>;
  /** What MIGRATE's modules take. */
  migrateContext(): MigrateContext;
  /** Stops taking jobs; running ones finish first. */
  close(): Promise<void>;
}

function policyOf(c: SchedulerServiceConfig): InventoryConfig {
  return { policy: { ramAllocationRatio: c.ramAllocationRatio, cpuAllocationRatio: c.cpuAllocationRatio, reservedHostMemoryKiB: c.reservedHostMemoryKiB, reservedHostCpus: c.reservedHostCpus } };
}

function placementOf(c: SchedulerServiceConfig): SchedulerConfig {
  return { weights: c.weights, hostSubsetSize: c.hostSubsetSize, ...(c.maxDomainsPerHost !== undefined ? { maxDomainsPerHost: c.maxDomainsPerHost } : {}) };
}

export async function startScheduler(opts: SchedulerOptions): Promise<SchedulerService> {
  const config: SchedulerServiceConfig = { ...DEFAULT_SCHEDULER_CONFIG, ...opts.config };
  const inventoryConfig = opts.inventory ?? policyOf(config);
  const schedulerConfig = opts.scheduler ?? placementOf(config);
  const log: Logger = opts.log ?? (() => undefined);
  const metrics = opts.metrics ?? new SchedulerMetrics();
  const { store, nc } = opts;
  const newId = () => randomUUID();
  const now = () => new Date();

  // ---------------------------------------------------- the stop watcher
  const stops: StopSeen[] = [];
  let ready = false;
  let reaping: Promise<void> | undefined;
  let claims: ClaimsContext | undefined;
  const reap = () => {
    if (!ready || reaping || stops.length === 0) return;
    reaping = (async () => {
      while (stops.length) {
        const s = stops.shift()!;
        // Released since, or replaced by a newer claim (a start right after): nothing to give back.
        if (live.claimOf(s.hostId, s.uuid) !== s.claimId) continue;
        try {
          const r = await release(claims!, s.hostId, s.uuid, `domain stopped (${s.detail})`, { correlationId: s.correlationId }, { claimId: s.claimId! });
          if (r.event) live.applyLocal([r.event]);
          if (r.released) metrics.claims.inc({ outcome: 'released' });
        } catch (e) {
          log('warn', 'could not give back the claim of a stopped domain: the next stop or restart retries', { uuid: s.uuid, hostId: s.hostId, error: String(e) });
        }
      }
    })().finally(() => {
      reaping = undefined;
      reap();
    });
  };
  const live = await LiveInventory.open(store, {
    config: inventoryConfig,
    onStop: (s) => {
      if (s.claimId === undefined) return;
      stops.push(s);
      reap();
    },
    onError: (e) => log('error', 'the inventory stopped following the event stream', { error: String(e) }),
  });
  claims = claimsContext({
    store, inventory: inventoryConfig, scheduler: schedulerConfig,
    occupants: (hostId) => {
      const inv = live.current();
      return [...(inv.occupants.get(hostId) ?? [])].map((u) => [u, inv.lifecycles.get(u)!] as const);
    },
  });
  metrics.watch(() => live.current(), () => live.seq);
  const watcher = await CommandResultWatcher.open(nc);
  ready = true;
  reap();

  const startCtx = {
    store, nc, watcher, live, claims, scheduler: schedulerConfig, maxHosts: config.maxHosts, commandTimeoutMs: config.commandTimeoutMs,
    newId, now, metrics, ...(opts.random ? { random: opts.random } : {}),
  };
  const routeCtx = { store, nc, watcher, claims, commandTimeoutMs: config.commandTimeoutMs, newId, now };
  const migrateContext = (): MigrateContext => ({
    store, nc, watcher, newId, now, inventory: async () => live.current(), claims: claimsPort(claims!), scheduler: schedulerConfig,
    timeoutMs: Math.max(config.commandTimeoutMs, 120_000), ...(opts.random ? { random: opts.random } : {}),
  });
  const operations = { ...DEFAULT_OPERATIONS, ...opts.operations };

  // ------------------------------------------------------------ the jobs
  const run = async (job: Job): Promise<unknown> => {
    const payload = validateJob(job.data);
    if (payload instanceof VirtError) throw userFailure(payload);
    const ids = { correlationId: job.id! };
    return asJob(async () => {
      if (payload.op === 'start') {
        const r = await startDomain(startCtx, {
          uuid: payload.uuid, correlationId: job.id!, ...withHints(hintsOf(payload)),
          rerun: job.attemptsMade > 0 || (job.attemptsStarted ?? 1) > 1 || (job.stalledCounter ?? 0) > 0,
          // Progress is informational: Redis restarting must not fail a start that went through (its retry would find it done).
          progress: (attempts) => job.updateProgress({ attempts }).catch(() => undefined),
        });
        log('info', 'domain started', { job: job.id, uuid: r.uuid, hostId: r.hostId, attempts: r.attempts.length });
        return r;
      }
      if (isRoutedOp(payload.op) && 'uuid' in payload) return routeOperation(routeCtx, payload.op, payload.uuid, ids);
      if (payload.op === 'migrate' || payload.op === 'evacuate') {
        const handler = operations[payload.op];
        if (!handler) throw new VirtError('OPERATION_UNSUPPORTED', `operation '${payload.op}' is not available in this scheduler`, '/op');
        return handler({ id: job.id!, payload, progress: (p) => job.updateProgress(p as object) }, migrateContext());
      }
      throw new VirtError('OPERATION_UNSUPPORTED', `operation '${payload.op}' is not the scheduler's`, '/op');
    });
  };

  const conns: Redis[] = [];
  const connection = new Redis(opts.redisUrl, { ...opts.redisOptions, maxRetriesPerRequest: null, enableReadyCheck: false });
  conns.push(connection);
  const worker = new Worker(queues.schedule, async (job) => {
    const t0 = performance.now();
    const op = String((job.data as { op?: unknown }).op ?? job.name);
    try {
      const r = await run(job);
      metrics.jobs.inc({ op, outcome: 'completed' });
      return r;
    } catch (e) {
      metrics.jobs.inc({ op, outcome: (e as Error).name === 'UnrecoverableError' ? 'failed' : 'retried' });
      throw e;
    } finally {
      metrics.seconds.observe({ op }, (performance.now() - t0) / 1000);
    }
  }, {
    connection, prefix: opts.prefix ?? 'bull', concurrency: opts.concurrency ?? 16, maxStalledCount: 10,
    ...(opts.lockMs ? { lockDuration: opts.lockMs, stalledInterval: opts.stalledMs ?? opts.lockMs } : {}),
  });
  worker.on('error', (e) => log('warn', 'worker error', { error: String(e) }));
  await worker.waitUntilReady();
  // HA restarts go through the queue (restart below): durable, and once per fence across schedulers.
  const scheduleQueue = new Queue(queues.schedule, { connection, prefix: opts.prefix ?? 'bull' });

  return {
    worker, live, claims, metrics,
    start: (args) => startDomain(startCtx, args),
    restart: async (r) => {
      const id = haRestartJobId(r.uuid, r.version);
      await scheduleQueue.add('start', { op: 'start', uuid: r.uuid, schedulerHints: { excludeHosts: [...r.excludeHosts] } }, { jobId: id, ...HA_RESTART_JOB });
      return ((await finished(scheduleQueue, id)) as StartResult).hostId;
    },
    migrateContext,
    async close() {
      await worker.close();
      await scheduleQueue.close();
      await reaping;
      await watcher.close();
      await live.close();
      for (const c of conns) c.disconnect();
    },
  };
}

const withHints = (h: SchedulerHints | undefined) => (h ? { hints: h } : {});

/** The restart job of a fence: the domain and the version its fence's DomainStopped wrote. */
export const haRestartJobId = (uuid: string, version: number): string => `ha.${uuid}.v${version}`;

/** As the parser's hand-offs: retried with backoff on an infrastructure fault; kept a day (a week when failed) so a second ask finds it. */
const HA_RESTART_JOB = { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } } as const;

/** The job's return value once it completed; its failure as a VirtError (polled: HA restarts are few, a QueueEvents reader per scheduler would read every job's events). */
async function finished(queue: Queue, id: string, everyMs = 200): Promise<unknown> {
  for (;;) {
    const state = await queue.getJobState(id);
    if (state === 'completed' || state === 'failed') {
      const job = await Job.fromId(queue, id);
      if (state === 'completed') return job?.returnvalue;
      throw new VirtError('OPERATION_FAILED', job?.failedReason ?? `restart job ${id} failed`);
    }
    if (state === 'unknown') throw new VirtError('INTERNAL_ERROR', `restart job ${id} is gone from ${queue.name}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

