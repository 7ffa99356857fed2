/** An aggregate — one domain or one host — and the subjects and keys derived from it. */
import { VirtError, aggregateOf, subjects, type AnyEvent, type EventType } from '@virtflow/model';

export type AggregateKind = 'domain' | 'host';

export interface AggregateRef {
  readonly kind: AggregateKind;
  /** The domain's uuid or the host's id. */
  readonly id: string;
}

export const domainRef = (uuid: string): AggregateRef & { readonly kind: 'domain' } => ({ kind: 'domain', id: uuid });
export const hostRef = (hostId: string): AggregateRef & { readonly kind: 'host' } => ({ kind: 'host', id: hostId });

/** The event that brings an aggregate into being: always its version 1. */
export const CREATION_TYPE: Readonly<Record<AggregateKind, EventType>> = { domain: 'DomainDefined', host: 'HostRegistered' };

export function aggregateSubjects(a: AggregateRef): { readonly all: string; event(type: EventType): string } {
  return a.kind === 'domain'
    ? { all: subjects.domain(a.id), event: (type) => subjects.domainEvent(a.id, type) }
    : { all: subjects.host(a.id), event: (type) => subjects.hostEvent(a.id, type) };
}

/** The key of an aggregate in the snapshot bucket and the head cache. */
export const aggregateKey = (a: AggregateRef): string => `${a.kind}.${a.id}`;

/**
 * The Nats-Msg-Id of an aggregate's event at a version: two writers of the
 * same version collide on it inside the stream's duplicate window.
 */
export const versionMsgId = (a: AggregateRef, version: number): string => `${a.kind}.${a.id}@${version}`;

/** The aggregate an event belongs to, read off its subject. */
export function aggregateOfEvent(e: AnyEvent): AggregateRef {
  const a = aggregateOf(e.subject);
  if (!a || a.kind === 'name') throw new VirtError('INVALID_ARG', `event ${e.id} is on '${e.subject}', not on an aggregate's subject`, '/subject');
  return { kind: a.kind, id: a.id };
}
