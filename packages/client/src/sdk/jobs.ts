/**
 * Submitting jobs and waiting for their results, as a user sees them: one
 * call per operation. Every operation enters `virtflow.jobs`; the parser
 * carries out definitions itself and hands lifecycle operations on to
 * `virtflow.schedule` under the same job id (`{handedOn, jobId}`), so a
 * lifecycle job's result is the scheduler's. The idempotency key is the BullMQ
 * job id: submitting the same key again finds the first job and its result.
 */
import { randomUUID } from 'node:crypto';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { VirtError, type VirtErrorJSON } from '@virtflow/model';
import { queues } from '@virtflow/runtime';
import { jobsOf, stateOf, waitFinished } from './plain-reads.ts';

/** What a job reports while it runs: the parser's stages ('parsed', 'stored'), the scheduler's steps. */
export interface Progress {
  readonly jobId: string;
  readonly queue: string;
  readonly progress: unknown;
}

export interface RunOptions {
  /** The idempotency key (default: a fresh UUID). */
  readonly key?: string;
  readonly onProgress?: (p: Progress) => void;
  /** How long to wait for the result, all queues together (default: the client's). */
  readonly timeoutMs?: number;
}

/** A handed-on job's intake result. */
interface HandedOn {
  readonly handedOn: string;
  readonly jobId: string;
}

const isHandedOn = (v: unknown): v is HandedOn => typeof v === 'object' && v !== null && typeof (v as HandedOn).handedOn === 'string';

/** The `{code, path, message}` a failed job keeps (the services fail a user's error with its JSON), or undefined. */
export function jobError(failedReason: string | undefined): VirtError | undefined {
  if (!failedReason) return undefined;
  try {
    const j = JSON.parse(failedReason) as Partial<VirtErrorJSON>;
    if (typeof j.code === 'string' && typeof j.message === 'string') return VirtError.fromJSON(j as VirtErrorJSON);
  } catch {
    // not ours: an infrastructure failure's plain message
  }
  return undefined;
}

export interface JobSummary {
  readonly id: string;
  readonly queue: string;
  readonly op: string;
  readonly state: string;
  /** The domain's uuid or the host's id the job is about, when it names one. */
  readonly target?: string;
  readonly at: string;
  readonly attempts: number;
  readonly error?: string;
}

/** A job parked in the dead-letter queue: its infrastructure fault outlasted its attempts. */
export interface DeadJob {
  /** The intake job's id (its idempotency key): what `redrive` takes. */
  readonly id: string;
  /** The stage queue and job that ran out of attempts. */
  readonly queue: string;
  readonly jobId: string;
  readonly reason: string;
  readonly at: string;
}

export class JobQueues {
  readonly #jobs: Queue;
  readonly #schedule: Queue;
  readonly #connection: Redis;
  readonly #prefix: string;
  #dead: Queue | undefined;
  readonly #events: Map<string, QueueEvents>;
  readonly #timeoutMs: number;
  readonly #clientId: string | undefined;

  /**
   * `clientId` goes into every job as `client`, the id the parser's per-client rate limit counts
   * (connect() passes the Redis user). Reading a handed-on job needs read access to `virtflow.schedule`
   * (the `client` Redis role has it, read-only).
   */
  constructor(connection: Redis, listen: { jobs: Redis; schedule: Redis }, opts: { readonly prefix: string; readonly timeoutMs: number; readonly clientId?: string }) {
    const { prefix } = opts;
    this.#connection = connection;
    this.#prefix = prefix;
    // Attempts and backoff as the parser's own client submits: infrastructure faults retry, a user's error fails once.
    this.#jobs = new Queue(queues.jobs, {
      connection, prefix,
      defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } },
    });
    // Read only: the client's Redis user may read the schedule queue, not write it (not even BullMQ's `meta` stamp).
    this.#schedule = new Queue(queues.schedule, { connection, prefix, skipMetasUpdate: true });
    this.#events = new Map([
      [queues.jobs, new QueueEvents(queues.jobs, { connection: listen.jobs, prefix })],
      [queues.schedule, new QueueEvents(queues.schedule, { connection: listen.schedule, prefix })],
    ]);
    for (const e of this.#events.values()) e.setMaxListeners(0);
    this.#timeoutMs = opts.timeoutMs;
    this.#clientId = opts.clientId;
  }

  async ready(): Promise<void> {
    await Promise.all([this.#jobs.waitUntilReady(), this.#schedule.waitUntilReady(), ...[...this.#events.values()].map((e) => e.waitUntilReady())]);
  }

  /** Submits a payload and resolves with its final result (the scheduler's for a handed-on job); rejects with the job's VirtError. */
  async run<T = unknown>(payload: Record<string, unknown>, opts: RunOptions = {}): Promise<T> {
    const key = opts.key ?? randomUUID();
    const deadline = Date.now() + (opts.timeoutMs ?? this.#timeoutMs);
    const job = await this.#jobs.add(String(payload.op ?? 'job'), { payload: { ...payload, key }, ...(this.#clientId ? { client: this.#clientId } : {}) }, { jobId: key });
    const first = await this.#wait(this.#jobs, job, deadline, opts.onProgress);
    if (!isHandedOn(first)) return first as T;
    const queue = first.handedOn === queues.schedule ? this.#schedule : undefined;
    if (!queue) throw new VirtError('INTERNAL_ERROR', `job ${key} was handed on to an unknown queue '${first.handedOn}'`);
    const next = await Job.fromId(queue, first.jobId);
    if (!next) throw new VirtError('INTERNAL_ERROR', `job ${key} was handed on to ${first.handedOn}, but it is not there`);
    return (await this.#wait(queue, next, deadline, opts.onProgress, true)) as T;
  }

  async #wait(queue: Queue, job: Job, deadline: number, onProgress: RunOptions['onProgress'], handedOn = false): Promise<unknown> {
    const events = this.#events.get(queue.name)!;
    const id = job.id!;
    const progress = ({ jobId, data }: { jobId: string; data: unknown }) => {
      if (jobId === id) onProgress?.({ jobId, queue: queue.name, progress: data });
    };
    if (onProgress) events.on('progress', progress);
    try {
      // Not BullMQ's waitUntilFinished: its script needs write access, and a client only reads virtflow.schedule (plain-reads.ts).
      return await waitFinished(queue, events, id, Math.max(1, deadline - Date.now()));
    } catch (e) {
      const fresh = await queue.getJob(id);
      const failed = jobError(fresh?.failedReason);
      if (failed) throw failed;
      const stage = fresh?.failedReason ? await this.#stageFailure(fresh.failedReason) : undefined;
      if (stage) throw new VirtError('OPERATION_FAILED', `job ${id}: its stage ${stage.queue} failed: ${stage.reason} (retried; parked in ${queues.dead}: virtflow jobs --dead)`);
      if (fresh?.failedReason) throw new VirtError('INTERNAL_ERROR', `job ${id} failed on ${queue.name}: ${fresh.failedReason}`);
      const state = fresh ? await stateOf(queue, fresh) : 'gone';
      // A lifecycle job nobody took: say so, rather than a bare timeout.
      const who = handedOn && state === 'waiting' ? ': is the scheduler running?' : '';
      const why = state === 'gone' ? `it is gone (${(e as Error).message})` : `it is ${state}`;
      throw new VirtError('OPERATION_TIMEOUT', `job ${id} on ${queue.name} did not finish in time; ${why}${who}`);
    } finally {
      if (onProgress) events.off('progress', progress);
    }
  }

  /**
   * A flow's parent fails with BullMQ's "child <key> failed" when a stage ran out of attempts:
   * the stage's own reason, read from its job (a plain read; none when the user may not read it).
   */
  async #stageFailure(parentReason: string): Promise<{ queue: string; reason: string } | undefined> {
    const m = /^child (\S+) failed$/.exec(parentReason);
    const key = m?.[1];
    if (!key || !key.startsWith(`${this.#prefix}:`)) return undefined;
    const queue = key.slice(this.#prefix.length + 1).split(':')[0]!;
    const reason = await this.#connection.hget(key, 'failedReason').catch(() => null);
    return reason ? { queue, reason } : undefined;
  }

  /** Recent jobs of both queues, newest first; `failed` keeps only the failed ones. */
  async list(opts: { readonly failed?: boolean; readonly limit?: number } = {}): Promise<JobSummary[]> {
    const types = opts.failed ? (['failed'] as const) : (['active', 'waiting', 'delayed', 'waiting-children', 'prioritized', 'completed', 'failed'] as const);
    const limit = opts.limit ?? 100;
    const out: JobSummary[] = [];
    for (const q of [this.#jobs, this.#schedule]) {
      for (const type of types) {
        const jobs = await jobsOf(q, type, limit);
        for (const j of jobs) if (j?.id) out.push(summary(q.name, type, j));
      }
    }
    return out.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, limit);
  }

  /** The dead-letter queue, opened on first use: only operators read it (the `client` Redis role may not). */
  #deadQueue(): Queue {
    return (this.#dead ??= new Queue(queues.dead, { connection: this.#connection, prefix: this.#prefix }));
  }

  /** Jobs that ran out of attempts on an infrastructure fault (Redis or NATS away), oldest first. */
  async dead(): Promise<DeadJob[]> {
    const jobs = await this.#deadQueue().getJobs(['waiting', 'delayed', 'paused']);
    return jobs
      .map((j) => j.data as { root: string; queue: string; jobId: string; reason: string; at: string })
      .map((d) => ({ id: d.root, queue: d.queue, jobId: d.jobId, reason: d.reason, at: d.at }))
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  /**
   * Runs a dead job again from the start, under its own id, once the fault is gone: the intake job
   * and its stages are removed and the payload submitted anew (its idempotency key still finds it),
   * then its dead-letter entry goes. Resolves with the new job's result, as `run` does.
   */
  async redrive<T = unknown>(id: string, opts: RunOptions = {}): Promise<T> {
    if (typeof id !== 'string' || id === '') throw new VirtError('INVALID_ARG', 'a job id is required', '/id');
    const entry = await this.#deadQueue().getJob(id);
    if (!entry) throw new VirtError('INVALID_ARG', `no job '${id}' in the dead-letter queue ${queues.dead}`, '/id');
    const old = await this.#jobs.getJob(id);
    const payload = (old?.data as { payload?: Record<string, unknown> } | undefined)?.payload;
    if (!old || !payload) throw new VirtError('INVALID_ARG', `job '${id}' is gone from ${queues.jobs}: nothing to run again`, '/id');
    await old.remove({ removeChildren: true });
    await entry.remove();
    return this.run<T>(payload, { ...opts, key: id });
  }

  async close(): Promise<void> {
    await Promise.all([this.#jobs.close(), this.#schedule.close(), this.#dead?.close(), ...[...this.#events.values()].map((e) => e.close())]);
  }
}

function summary(queue: string, state: string, j: Job): JobSummary {
  // The intake queue wraps the payload ({payload}); the schedule queue holds it as it is.
  const data = (j.data as { payload?: Record<string, unknown> } | undefined) ?? {};
  const p = (queue === queues.jobs ? data.payload : (j.data as Record<string, unknown>)) ?? {};
  const target = typeof p.uuid === 'string' ? p.uuid : typeof p.hostId === 'string' ? p.hostId : undefined;
  const err = state === 'failed' ? (jobError(j.failedReason)?.describe() ?? j.failedReason) : undefined;
  return {
    id: j.id!, queue, op: typeof p.op === 'string' ? p.op : j.name, state, at: new Date(j.timestamp).toISOString(), attempts: j.attemptsMade,
    ...(target ? { target } : {}), ...(err ? { error: err } : {}),
  };
}
