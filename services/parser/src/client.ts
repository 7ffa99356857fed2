/**
 * Submitting jobs and operating the dead-letter queue. The idempotency key is
 * the BullMQ job id: a second submission with the same key finds the first
 * job (BullMQ adds nothing for an existing id) and gets its result.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { VirtError } from '@virtflow/model';
import { queues } from '@virtflow/runtime';
import { jobError, type IntakeData } from './wire.ts';

export interface DeadEntry {
  readonly root: string;
  readonly queue: string;
  readonly jobId: string;
  readonly reason: string;
  readonly at: string;
}

export type Outcome = { readonly ok: true; readonly value: unknown; readonly jobId: string } | { readonly ok: false; readonly error: VirtError; readonly jobId: string };

export class ParserClient {
  readonly jobs: Queue<IntakeData>;
  readonly dead: Queue<DeadEntry>;
  readonly events: QueueEvents;

  readonly #conns: Redis[];

  /** Who submits (ratelimit.ts): `clientId`, else the Redis user of the URL, else none. */
  readonly clientId: string | undefined;

  constructor(redisUrl: string, opts: { readonly prefix?: string; readonly attempts?: number; readonly backoffMs?: number; readonly clientId?: string; readonly redisOptions?: RedisOptions } = {}) {
    const prefix = opts.prefix ?? 'bull';
    this.clientId = opts.clientId ?? (decodeURIComponent(new URL(redisUrl).username) || undefined);
    const connection = new Redis(redisUrl, { ...opts.redisOptions, maxRetriesPerRequest: null });
    const listen = new Redis(redisUrl, { ...opts.redisOptions, maxRetriesPerRequest: null });
    this.#conns = [connection, listen];
    this.jobs = new Queue(queues.jobs, {
      connection, prefix,
      defaultJobOptions: { attempts: opts.attempts ?? 5, backoff: { type: 'exponential', delay: opts.backoffMs ?? 500 }, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } },
    });
    this.dead = new Queue(queues.dead, { connection, prefix });
    this.events = new QueueEvents(queues.jobs, { connection: listen, prefix });
    // Every waiting caller listens for the queue closing.
    this.jobs.setMaxListeners(0);
    this.events.setMaxListeners(0);
  }

  async ready(): Promise<void> {
    await Promise.all([this.jobs.waitUntilReady(), this.events.waitUntilReady()]);
  }

  /** Queues a job; its `key` (else a fresh id) is the job id. */
  submit(payload: Record<string, unknown>): Promise<Job<IntakeData>> {
    const key = typeof payload.key === 'string' ? payload.key : randomUUID();
    return this.jobs.add(String(payload.op ?? 'job'), { payload, ...(this.clientId ? { client: this.clientId } : {}) }, { jobId: key });
  }

  /** The job's result, or its `{code, path, message}` as a VirtError. */
  async outcome(job: Job, timeoutMs = 60_000): Promise<Outcome> {
    try {
      return { ok: true, value: await job.waitUntilFinished(this.events, timeoutMs), jobId: job.id! };
    } catch (e) {
      const fresh = await this.jobs.getJob(job.id!);
      const error = (fresh && jobError(fresh)) ?? new VirtError('INTERNAL_ERROR', e instanceof Error ? e.message : String(e));
      return { ok: false, error, jobId: job.id! };
    }
  }

  async run(payload: Record<string, unknown>, timeoutMs?: number): Promise<Outcome> {
    return this.outcome(await this.submit(payload), timeoutMs);
  }

  /** Jobs that ran out of attempts on an infrastructure fault. */
  async listDead(): Promise<DeadEntry[]> {
    return (await this.dead.getJobs(['waiting', 'delayed', 'paused'])).map((j) => j.data);
  }

  /** Runs a dead job again from the start, under its own id (its key still finds it). */
  async redrive(root: string): Promise<Job<IntakeData>> {
    const old = await this.jobs.getJob(root);
    if (!old) throw new VirtError('NO_DOMAIN', `no job '${root}' on ${queues.jobs}`);
    const payload = old.data.payload;
    await old.remove({ removeChildren: true });
    const job = await this.jobs.add(old.name, { payload }, { jobId: root });
    await this.dead.remove(root);
    return job;
  }

  async close(): Promise<void> {
    await Promise.all([this.jobs.close(), this.dead.close(), this.events.close()]);
    for (const c of this.#conns) c.disconnect();
  }
}
