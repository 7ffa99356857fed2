/**
 * What crosses the `virtflow.schedule` queue: the job payloads the parser
 * hands on (the model's jobs.ts), and how a failure is carried. As in the
 * parser, a user's error (VirtError) fails the job once, without retry, as
 * UnrecoverableError whose message is the error's JSON `{code, path,
 * message}`, which the client's `jobError` rebuilds. Anything else thrown is
 * an infrastructure fault: BullMQ retries it.
 */
import { UnrecoverableError } from 'bullmq';
import { VirtError, isVirtError, validateSchedulerHints, type JobPayload, type SchedulerHints } from '@virtflow/model';
import { isConcurrencyError } from '@virtflow/runtime';

export function userFailure(e: VirtError): UnrecoverableError {
  return new UnrecoverableError(JSON.stringify(e.toJSON()));
}

/**
 * Runs a job's work; a VirtError is the user's answer (no retry), except a lost race (retried). A
 * command an agent did not answer in time is OPERATION_TIMEOUT, libvirt's "Timed out during operation":
 * reported, not retried, since the agent may still carry it out and a blind retry could act twice.
 */
export async function asJob<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isVirtError(e) && !isConcurrencyError(e)) throw userFailure(e);
    throw e;
  }
}

export { VirtError };

/** A job's scheduler hints, checked; a bad one is the user's error with the path at fault. */
export function hintsOf(payload: JobPayload): SchedulerHints | undefined {
  const raw = (payload as { schedulerHints?: unknown }).schedulerHints;
  if (raw === undefined) return undefined;
  const h = validateSchedulerHints(raw);
  if (h instanceof VirtError) throw h;
  return h;
}
