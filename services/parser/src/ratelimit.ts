/**
 * Per-client rate limit at the parser's intake: a fixed window counted in
 * Redis (one MULTI of INCR and PEXPIRE per job), so every parser process
 * shares one count per client and a restart forgets nothing. A job over its
 * client's limit fails at once with OPERATION_DENIED, before any parsing: a
 * flood costs the intake two Redis round trips per job, not a parse, and the
 * other clients' jobs go on. Keys live under BullMQ's prefix (the services'
 * Redis ACL grants that prefix only) and expire after two windows.
 *
 * The client id is what the submitter wrote in the job (ParserClient puts its
 * `clientId`, by default its Redis user): Redis ACLs cannot stop one service
 * user from writing another's id into a job, so this is fairness among honest
 * clients and a brake on runaway ones, not authentication.
 */
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { VirtError } from '@virtflow/model';

export interface RateLimit {
  /** Jobs one client may submit per window (VIRTFLOW_INTAKE_RATE). */
  readonly max: number;
  /** The window (VIRTFLOW_INTAKE_WINDOW_MS, 1000). */
  readonly windowMs: number;
}

/** The client a job was submitted by: its `client` (a short token), else `anonymous`. */
export function clientOf(job: Pick<Job, 'data'>): string {
  const c = (job.data as { client?: unknown } | undefined)?.client;
  return typeof c === 'string' && /^[A-Za-z0-9_.@-]{1,64}$/.test(c) ? c : 'anonymous';
}

export class IntakeLimiter {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #limit: RateLimit;
  readonly #now: () => number;

  constructor(redis: Redis, prefix: string, limit: RateLimit, now: () => number = Date.now) {
    if (!(Number.isSafeInteger(limit.max) && limit.max > 0 && Number.isSafeInteger(limit.windowMs) && limit.windowMs > 0)) {
      throw new VirtError('INVALID_ARG', `a rate limit needs a positive max and window (got ${limit.max} per ${limit.windowMs} ms)`, '/intakeLimit');
    }
    this.#redis = redis;
    this.#prefix = prefix;
    this.#limit = limit;
    this.#now = now;
  }

  /** Counts one job of `client`; the OPERATION_DENIED it is when over the limit, else undefined. */
  async take(client: string): Promise<VirtError | undefined> {
    const { max, windowMs } = this.#limit;
    const window = Math.floor(this.#now() / windowMs);
    const key = `${this.#prefix}:virtflow.ratelimit:${client}:${window}`;
    const r = await this.#redis.multi().incr(key).pexpire(key, windowMs * 2).exec();
    const err = r?.[0]?.[0];
    if (err) throw err;
    const n = Number(r?.[0]?.[1]);
    if (n <= max) return undefined;
    return new VirtError('OPERATION_DENIED', `client '${client}' submitted more than ${max} jobs within ${windowMs} ms: submit again later`, '/client');
  }
}
