/**
 * The event store's errors. Both are VirtErrors, so they cross the wire as
 * `{code, path, message}` like every other error; the subclasses let a caller
 * in the same process tell a lost race (reload and retry) from a refusal.
 */
import { VirtError } from '@virtflow/model';
import { aggregateSubjects, type AggregateRef } from './aggregate.ts';

export type ConflictReason =
  /** The aggregate's head is not at the expected version. */
  | 'version'
  /** Another writer took the same version first (its Nats-Msg-Id was already in the stream). */
  | 'duplicate'
  /** The server refused the expected-last-subject-sequence. */
  | 'sequence'
  /** The read the version was checked against is too old for the duplicate window to cover the race. */
  | 'stale-read';

/**
 * Another writer got there first: reload the aggregate, decide again, append
 * again. `appended` events of the batch (the first ones) were stored before
 * the conflict; the reload sees them.
 */
export class ConcurrencyError extends VirtError {
  readonly aggregate: AggregateRef;
  readonly expectedVersion: number;
  readonly actualVersion: number | undefined;
  readonly reason: ConflictReason;
  readonly appended: number;

  constructor(aggregate: AggregateRef, expectedVersion: number, reason: ConflictReason, opts: { actualVersion?: number | undefined; appended?: number; cause?: unknown } = {}) {
    const found = opts.actualVersion === undefined ? '' : `, found version ${opts.actualVersion}`;
    super('OPERATION_INVALID', `${aggregate.kind} '${aggregate.id}' was changed concurrently: expected version ${expectedVersion}${found} (${reason}); reload it and retry`, aggregateSubjects(aggregate).all, { cause: opts.cause });
    this.aggregate = aggregate;
    this.expectedVersion = expectedVersion;
    this.actualVersion = opts.actualVersion;
    this.reason = reason;
    this.appended = opts.appended ?? 0;
  }
}

export function isConcurrencyError(e: unknown): e is ConcurrencyError {
  return e instanceof ConcurrencyError;
}

/**
 * libvirt's "domain 'x' already exists with uuid y". libvirt reports it as
 * VIR_ERR_OPERATION_FAILED, a code the model does not list yet; the nearest it
 * has is OPERATION_INVALID.
 */
export class NameTakenError extends VirtError {
  readonly domainName: string;
  readonly owner: string;

  constructor(name: string, owner: string, path: string) {
    super('OPERATION_INVALID', `domain '${name}' already exists with uuid ${owner}`, path);
    this.domainName = name;
    this.owner = owner;
  }
}
