/**
 * Reading a BullMQ queue with plain Redis commands only. BullMQ checks and
 * lists jobs through Lua scripts, and Redis counts every key a script names
 * as written: a user with read-only access to a queue (`%R~`, the `client`
 * role's on `virtflow.schedule`, where a lifecycle job's result is) gets
 * NOPERM from them. So the SDK waits, asks a job's state and lists jobs with
 * commands Redis can check as reads (HGETALL, ZSCORE, LPOS, LRANGE, ...) and
 * the queue's event stream (XREAD, through QueueEvents).
 */
import type { EventEmitter } from 'node:events';
import { Job, type Queue, type QueueEvents } from 'bullmq';

/**
 * BullMQ's `job.waitUntilFinished(events, ttl)` without its script: listens
 * for the job's completed/failed event, and looks once whether it finished
 * before the listeners were on. Rejects with `Error(failedReason)` as BullMQ does.
 */
export async function waitFinished(queue: Queue, events: QueueEvents, id: string, ttlMs: number): Promise<unknown> {
  await events.waitUntilReady();
  const emitter = events as unknown as EventEmitter;
  return new Promise((resolve, reject) => {
    const onCompleted = (a: { returnvalue: unknown }) => settle(undefined, a.returnvalue);
    const onFailed = (a: { failedReason?: string }) => settle(new Error(a.failedReason ?? `job ${id} failed`));
    const timer = setTimeout(() => settle(new Error(`no finish notification arrived after ${ttlMs}ms (id=${id})`)), ttlMs);
    let settled = false;
    function settle(err: Error | undefined, value?: unknown): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      emitter.off(`completed:${id}`, onCompleted);
      emitter.off(`failed:${id}`, onFailed);
      if (err) reject(err);
      else resolve(value);
    }
    emitter.on(`completed:${id}`, onCompleted);
    emitter.on(`failed:${id}`, onFailed);
    void (async () => {
      const c = await queue.client;
      const [completed, failed] = await Promise.all([c.zscore(queue.keys.completed!, id), c.zscore(queue.keys.failed!, id)]);
      if (completed === null && failed === null) {
        if (!(await c.hexists(queue.toKey(id), 'timestamp'))) settle(new Error(`job ${id} is gone`));
        return;
      }
      const [rv, reason] = await c.hmget(queue.toKey(id), 'returnvalue', 'failedReason');
      if (failed !== null) settle(new Error(reason ?? `job ${id} failed`));
      else settle(undefined, rv == null ? null : JSON.parse(rv));
    })().catch((e: unknown) => settle(e as Error));
  });
}

/** A job's state, in BullMQ's names (`getState` is a script). */
export async function stateOf(queue: Queue, job: Job): Promise<string> {
  const c = await queue.client;
  const id = job.id!;
  const k = queue.keys;
  const [completed, failed, active, delayed, prioritized, children, wait] = await Promise.all([
    c.zscore(k.completed!, id), c.zscore(k.failed!, id), c.lpos(k.active!, id), c.zscore(k.delayed!, id), c.zscore(k.prioritized!, id),
    c.zscore(k['waiting-children']!, id), c.lpos(k.wait!, id),
  ]);
  if (completed !== null) return 'completed';
  if (failed !== null) return 'failed';
  if (active !== null) return 'active';
  if (delayed !== null) return 'delayed';
  if (prioritized !== null) return 'prioritized';
  if (children !== null) return 'waiting-children';
  return wait !== null ? 'waiting' : 'unknown';
}

const LISTS: Readonly<Record<string, 'list' | 'zset'>> = {
  active: 'list', waiting: 'list', delayed: 'zset', 'waiting-children': 'zset', prioritized: 'zset', completed: 'zset', failed: 'zset',
};

/** `queue.getJobs([type], 0, limit - 1)` (a script), newest first. */
export async function jobsOf(queue: Queue, type: string, limit: number): Promise<Job[]> {
  const c = await queue.client;
  const key = queue.keys[type === 'waiting' ? 'wait' : type]!;
  const ids = LISTS[type] === 'list' ? await c.lrange(key, 0, limit - 1) : await c.zrevrange(key, 0, limit - 1);
  const jobs = await Promise.all(ids.map((id) => Job.fromId(queue, id)));
  return jobs.filter((j): j is Job => j !== undefined);
}
