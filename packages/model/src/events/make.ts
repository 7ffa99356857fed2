/**
 * Building events. The clock and the id source are handed in, so the model
 * stays pure and tests are deterministic.
 */
import { VirtError } from '../errors.ts';
import { ENVELOPE_VERSION, type EventData, type EventEnvelope, type EventType } from './types.ts';
import { dataError, deepFreeze, isEventType, subjectFor } from './validate.ts';

export interface EventMeta {
  /**
   * The aggregate's version after this event (the envelope's `version`):
   * 1 for an aggregate's first event, expectedVersion + 1 for the next.
   */
  readonly aggregateVersion: number;
  /** The job or request that led to it. */
  readonly correlationId: string;
  /** The event or command that directly caused it. */
  readonly causationId: string;
  readonly now: () => Date;
  /** A fresh unique id (a UUID): also JetStream's Nats-Msg-Id, for de-duplication. */
  readonly newId: () => string;
}

/**
 * Makes a frozen event envelope on the subject its type and aggregate give
 * (`virt.evt.domain.<uuid>.<type>` or `virt.evt.host.<hostId>.<type>`).
 * Throws VirtError INVALID_ARG for data decodeEvent would reject, so nothing
 * built here is ever a poison message.
 */
export function makeEvent<T extends EventType>(type: T, data: EventData[T], meta: EventMeta): EventEnvelope<T> {
  if (!isEventType(type)) throw new VirtError('INVALID_ARG', `unknown event type '${String(type)}'`, '/type');
  const bad = dataError(type, data);
  if (bad) throw bad;
  const { aggregateVersion, correlationId, causationId } = meta;
  if (!Number.isSafeInteger(aggregateVersion) || aggregateVersion < 1) {
    throw new VirtError('INVALID_ARG', `event ${type}: aggregateVersion must be a positive integer (the version after this event, 1 for an aggregate's first), not ${String(aggregateVersion)}`, '/version');
  }
  if (typeof correlationId !== 'string') throw new VirtError('INVALID_ARG', `event ${type}: correlationId must be a string`, '/correlationId');
  if (typeof causationId !== 'string') throw new VirtError('INVALID_ARG', `event ${type}: causationId must be a string`, '/causationId');
  const id = meta.newId();
  if (typeof id !== 'string' || id === '') throw new VirtError('INVALID_ARG', `event ${type}: newId() must return a non-empty string`, '/id');
  const when = meta.now();
  if (!(when instanceof Date) || Number.isNaN(when.getTime())) throw new VirtError('INVALID_ARG', `event ${type}: now() must return a valid Date`, '/at');
  const envelope: EventEnvelope<T> = {
    id,
    type,
    subject: subjectFor(type, data),
    version: aggregateVersion,
    at: when.toISOString(),
    correlationId,
    causationId,
    data,
    v: ENVELOPE_VERSION,
  };
  return deepFreeze(envelope);
}
