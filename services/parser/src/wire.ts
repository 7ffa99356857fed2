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
  /**
   * Where a resumed intake job stands, as jobs queued by earlier versions recorded it; the intake
   * now tells from its stages' jobs (their ids derive from its own) and writes nothing.
   */
  readonly step?: 'intake' | 'waiting';
  /** Who submitted it (ratelimit.ts): the client's id, a short token. */
  readonly client?: string;
  /** 'none': no policy stage was registered when its flow was added (earlier versions; now read off its child's key). */
  readonly policy?: 'none';
}

/** The enriched definition the stages make and the intake stores. */
export interface Enriched {
  readonly uuid: string;
  readonly name: string;
  readonly domainType: string;
  readonly driver: string;
  readonly xml: string;
  readonly provenance: readonly Provenance[];
}

/**
 * Provenance as a stage job returns it: one row per entry without its why, and each rule's why
 * once. BullMQ writes a stage's result three times (the job, its completed event, the parent's
 * record) and the intake reads it once; the why sentences, repeated for every value a rule fills,
 * were about half of those bytes. The intake's own result carries the entries in full.
 */
export interface PackedProvenance {
  readonly rows: ReadonlyArray<readonly [path: string, value: string | null, driver: string, rule: string]>;
  /** By `driver/rule`. */
  readonly why: Readonly<Record<string, string>>;
}

/** A post-parse (and policy) stage's result. */
export type StageResult = { readonly ok: Omit<Enriched, 'provenance'> & { readonly provenance: PackedProvenance | readonly Provenance[] } } | { readonly error: VirtErrorJSON };

export function packProvenance(entries: readonly Provenance[]): PackedProvenance {
  const why: Record<string, string> = {};
  const rows = entries.map((p) => {
    why[`${p.driver}/${p.rule}`] = p.why;
    return [p.path, p.value, p.driver, p.rule] as const;
  });
  return { rows, why };
}

/** The entries in full; a plain array (a result written by an earlier version) is taken as it is. */
export function unpackProvenance(p: PackedProvenance | readonly Provenance[]): Provenance[] {
  if (Array.isArray(p)) return p as Provenance[];
  const { rows, why } = p as PackedProvenance;
  return rows.map(([path, value, driver, rule]) => ({ path, value, driver, rule, why: why[`${driver}/${rule}`] ?? '' }));
}

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
