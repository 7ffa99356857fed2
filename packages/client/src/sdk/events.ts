/**
 * Event subscriptions for users: the store's subscription narrowed to a
 * domain, a host or some event types. With a name the subscription is a
 * durable consumer: a subscriber that stops (or is killed) and a later one
 * under the same name together see every event once, in order. An event
 * counts as handled when the loop asks for the next one.
 */
import { VirtError, isEventType, subjects, type AnyEvent, type EventType } from '@virtflow/model';
import type { EventStore, EventSubscription } from '@virtflow/runtime';

export interface SubscribeOptions {
  /** A domain's name or uuid: only its events. */
  readonly domain?: string;
  /** Only events about this host: its own, and domain events that happen on it. */
  readonly host?: string;
  readonly types?: readonly string[];
  /** Where a new subscription starts: a stream sequence, a time, 'all' or 'new' (default). A named one that exists resumes instead. */
  readonly from?: number | Date | 'all' | 'new';
  /** Durable name (A-Z a-z 0-9 _ -): resumes where the last subscriber of that name stopped. */
  readonly name?: string;
}

export interface ClientEvent {
  readonly seq: number;
  readonly subject: string;
  readonly event: AnyEvent;
}

/** Durable names are prefixed so a user's name never takes over a service's consumer (`scheduler`, `agent-<host>`). */
export const durableName = (name: string): string => `sub-${name}`;

export class Subscription implements AsyncIterable<ClientEvent> {
  readonly #inner: EventSubscription;
  readonly #keep: (e: AnyEvent) => boolean;

  constructor(inner: EventSubscription, keep: (e: AnyEvent) => boolean) {
    this.#inner = inner;
    this.#keep = keep;
  }

  /** Ends the iteration after the current event (which counts as handled). */
  stop(): void {
    this.#inner.stop();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ClientEvent> {
    for await (const d of this.#inner) {
      if (this.#keep(d.event)) yield { seq: d.seq, subject: d.subject, event: d.event };
    }
  }
}

export function checkSubscribeOptions(o: SubscribeOptions): void {
  if (o.name !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(o.name)) {
    throw new VirtError('INVALID_ARG', `subscription name '${o.name}' must be 1 to 64 characters of A-Z a-z 0-9 _ -`, '/name');
  }
  for (const t of o.types ?? []) if (!isEventType(t)) throw new VirtError('INVALID_ARG', `unknown event type '${t}'`, '/types');
  if (typeof o.from === 'number' && (!Number.isInteger(o.from) || o.from < 1)) throw new VirtError('INVALID_ARG', `a stream sequence starts at 1, not ${o.from}`, '/from');
  if (o.from instanceof Date && Number.isNaN(o.from.getTime())) throw new VirtError('INVALID_ARG', 'an invalid time', '/from');
}

/** Where an event happens: the host in its data, if any. */
function hostOf(e: AnyEvent): string | undefined {
  const d = e.data as { hostId?: string; fromHost?: string; toHost?: string };
  return d.hostId ?? d.toHost;
}

export function subscribe(store: EventStore, o: SubscribeOptions & { readonly uuid?: string }): Subscription {
  checkSubscribeOptions(o);
  const filter = o.uuid ? subjects.domain(o.uuid) : o.types?.length === 1 && o.host === undefined ? subscribeOne(o.types[0]!) : subjects.all();
  const types = o.types?.length ? new Set<string>(o.types) : undefined;
  const keep = (e: AnyEvent) => {
    if (types && !types.has(e.type)) return false;
    if (o.host !== undefined) {
      const d = e.data as { fromHost?: string };
      if (hostOf(e) !== o.host && d.fromHost !== o.host) return false;
    }
    return true;
  };
  const inner = store.subscribe(filter, {
    ...(o.name ? { durable: durableName(o.name) } : {}),
    from: o.from ?? 'new',
  });
  return new Subscription(inner, keep);
}

function subscribeOne(type: string): string {
  // Host events have no per-type builder; their subject filter is narrow enough, the type is filtered here.
  return type.startsWith('Host') || type === 'DomainCommandFailed' ? subjects.allHosts() : subjects.allDomainsOfType(type as EventType);
}
