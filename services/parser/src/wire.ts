/**
 * What crosses the queues: stage payloads and results, and how an error is
 * carried. A user's error (VirtError) travels as a value `{error}` through the
 * stages and fails the intake job once, without retry, as UnrecoverableError
 * whose message is the error's JSON `{code, path, message}`. Anything else
 * thrown is an infrastructure fault: BullMQ retries it with backoff.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import { VirtError, isVirtError, type JobPayload, type Provenance, type VirtErrorJSON } from '@virtflow/model';

/** Data of a job on `virtflow.jobs`. */
export interface IntakeData {
  readonly payload: unknown;
  /** Where a resumed intake job stands (BullMQ's step-job pattern). */
  readonly step?: 'intake' | 'waiting';
  /** Who submitted it (ratelimit.ts): the client's id, a short token. */
  readonly client?: string;
  /** 'none': no policy stage was registered when its flow was added (the post-parse job is its child). */
  readonly policy?: 'none';
}

/** A post-parse (and policy) stage's result. */
export interface Enriched {
  readonly uuid: string;
  readonly name: string;
  readonly domainType: string;
  readonly driver: string;
  readonly xml: string;
  readonly provenance: readonly Provenance[];
}

export type StageResult = { readonly ok: Enriched } | { readonly error: VirtErrorJSON };

export interface StageData {
  /** The intake job this stage works for (progress goes there). */
  readonly intake: string;
  readonly xml?: string;
  readonly driver: string;
}

export function userFailure(e: VirtError): UnrecoverableError {
  return new UnrecoverableError(JSON.stringify(e.toJSON()));
}

/** A stage's answer to an error: a user's error becomes a value, anything else is rethrown for a retry. */
export function asStageError(e: unknown): StageResult {
  if (isVirtError(e)) return { error: e.toJSON() };
  throw e;
}

/** The `{code, path, message}` a failed job keeps, or undefined for an infrastructure failure. */
export function jobError(job: Pick<Job, 'failedReason'>): VirtError | undefined {
  try {
    const j = JSON.parse(job.failedReason) as Partial<VirtErrorJSON>;
    if (typeof j.code === 'string' && typeof j.message === 'string') return VirtError.fromJSON(j as VirtErrorJSON);
  } catch {
    // not ours: a plain infrastructure failure
  }
  return undefined;
}

export type { JobPayload };
