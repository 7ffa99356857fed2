/**
 * The host aggregate: what a host is (capabilities, labels, up or down,
 * drained) from its own events, and which domains occupy it from the domain
 * events that concern it.
 */
import type { Capabilities } from '../caps/types.ts';
import { HOST_EVENT_TYPES, type AnyEvent, type HostClaimData } from './types.ts';
import { isDomainEvent } from './domain.ts';
import { SHUTOFF, hostsNamed, occupiedHosts, reduceLifecycle, type DomainLifecycle } from './lifecycle.ts';

export interface HostTotals {
  readonly memoryKiB: number;
  readonly cpus: number;
}

/** What a host's own events say about it. */
export interface HostFacts {
  readonly hostId: string;
  /** A HostRegistered was seen; a host known only from domain events is not registered. */
  readonly registered: boolean;
  /** The host aggregate's version (its own events only). */
  readonly version: number;
  readonly address?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities?: Capabilities;
  readonly up: boolean;
  readonly drained: boolean;
  readonly lastSeen?: string;
  readonly lastDownReason?: string;
  /** Totals from capabilities.host (0 where the host did not report them). */
  readonly resources: HostTotals;
  /**
   * Resources schedulers claimed on the host and have not released, by
   * domain uuid (HostResourcesClaimed / HostResourcesReleased). Absent while
   * there are none, so a host that never saw a claim folds as it always did.
   */
  readonly claims?: Readonly<Record<string, HostClaim>>;
}

/**
 * One held claim: HostResourcesClaimed's data without the host id and uuid,
 * and which event made it (its id and job), so a release can name the claim
 * it means and leave a newer one alone.
 */
export type HostClaim = Omit<HostClaimData, 'hostId' | 'uuid'> & { readonly id: string; readonly correlationId: string };

export interface HostState extends HostFacts {
  /** Domains that live on this host, sorted. */
  readonly domains: readonly string[];
  /** Domains migrating to or from this host while they live on the other end, sorted. */
  readonly transit: readonly string[];
  /** The lifecycle of each domain occupying the host: what decides when it leaves. */
  readonly occupants: Readonly<Record<string, DomainLifecycle>>;
}

export type HostEvent = Extract<AnyEvent, { type: (typeof HOST_EVENT_TYPES)[number] }>;
const HOST_TYPES: ReadonlySet<string> = new Set(HOST_EVENT_TYPES);

export function isHostEvent(event: AnyEvent): event is HostEvent {
  return HOST_TYPES.has(event.type);
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const NO_RESOURCES: HostTotals = Object.freeze({ memoryKiB: 0, cpus: 0 });

export function emptyHostFacts(hostId: string): HostFacts {
  return Object.freeze({ hostId, registered: false, version: 0, labels: NO_LABELS, up: false, drained: false, resources: NO_RESOURCES });
}

/** A host nothing has been folded into yet: give it to reduceHost to start from domain events. */
export function emptyHost(hostId: string): HostState {
  return Object.freeze({ ...emptyHostFacts(hostId), domains: [], transit: [], occupants: Object.freeze({}) });
}

function totalsOf(caps: Capabilities): HostTotals {
  return Object.freeze({ memoryKiB: caps.host.memoryKiB ?? 0, cpus: caps.host.cpus ?? 0 });
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Folds one of the host's own events into its facts; other events leave them as they are. */
export function reduceHostFacts(facts: HostFacts, event: AnyEvent): HostFacts {
  if (!isHostEvent(event) || event.data.hostId !== facts.hostId) return facts;
  const next: Mutable<HostFacts> = { ...facts, version: event.version };
  switch (event.type) {
    case 'HostRegistered': {
      const d = event.data;
      next.registered = true;
      next.up = true;
      next.lastSeen = event.at;
      next.capabilities = d.capabilities;
      next.resources = totalsOf(d.capabilities);
      next.labels = d.labels ?? NO_LABELS;
      if (d.address !== undefined) next.address = d.address;
      else delete next.address;
      break;
    }
    case 'HostCapabilitiesReported':
      next.capabilities = event.data.capabilities;
      next.resources = totalsOf(event.data.capabilities);
      next.lastSeen = event.at;
      break;
    case 'HostDown':
      next.up = false;
      next.lastDownReason = event.data.reason;
      if (event.data.lastSeen !== undefined) next.lastSeen = event.data.lastSeen;
      break;
    case 'HostUp':
      next.up = true;
      next.lastSeen = event.at;
      break;
    case 'HostDrained':
      next.drained = event.data.drained;
      break;
    case 'HostResourcesClaimed': {
      const { hostId: _h, uuid, ...claim } = event.data;
      next.claims = Object.freeze({ ...facts.claims, [uuid]: Object.freeze({ ...claim, id: event.id, correlationId: event.correlationId }) });
      break;
    }
    case 'HostResourcesReleased': {
      const uuid = event.data.uuid;
      if (!facts.claims || !Object.hasOwn(facts.claims, uuid)) break;
      const { [uuid]: _gone, ...rest } = facts.claims;
      if (Object.keys(rest).length === 0) delete next.claims;
      else next.claims = Object.freeze(rest);
      break;
    }
  }
  return Object.freeze(next);
}

function factsOf(state: HostState): HostFacts {
  const { domains: _d, transit: _t, occupants: _o, ...facts } = state;
  return facts;
}

/** Re-sorts the host's domains after one occupant changed. */
function withOccupants(facts: HostFacts, occupants: Readonly<Record<string, DomainLifecycle>>): HostState {
  const domains: string[] = [];
  const transit: string[] = [];
  for (const [uuid, lc] of Object.entries(occupants)) (lc.hostId === facts.hostId ? domains : transit).push(uuid);
  return Object.freeze({ ...facts, domains: Object.freeze(domains.sort()), transit: Object.freeze(transit.sort()), occupants: Object.freeze(occupants) });
}

/**
 * Folds one event into a host's state. Host events of this host update its
 * facts; a domain event updates its occupants when it names this host or
 * concerns a domain occupying it, so feed it the domain events too for
 * `domains` to mean something. Never throws.
 */
export function reduceHost(state: HostState | undefined, event: AnyEvent): HostState | undefined {
  if (isHostEvent(event)) {
    const base = state ?? emptyHost(event.data.hostId);
    const prior = factsOf(base);
    const facts = reduceHostFacts(prior, event);
    return facts === prior ? state : Object.freeze({ ...facts, domains: base.domains, transit: base.transit, occupants: base.occupants });
  }
  if (!state || !isDomainEvent(event)) return state;
  const uuid = event.data.uuid;
  const prior = Object.hasOwn(state.occupants, uuid) ? state.occupants[uuid] : undefined;
  if (prior === undefined && !hostsNamed(event).includes(state.hostId)) return state;
  const next = reduceLifecycle(prior ?? SHUTOFF, event);
  if (next === prior) return state;
  const occupants: Record<string, DomainLifecycle> = { ...state.occupants };
  if (occupiedHosts(next).includes(state.hostId)) occupants[uuid] = next;
  else if (prior === undefined) return state;
  else delete occupants[uuid];
  return withOccupants(factsOf(state), occupants);
}

/**
 * Folds a host's events (its own, and the domain events for its occupants)
 * from nothing. Without `hostId`, the first host event names the host.
 */
export function foldHost(events: Iterable<AnyEvent>, hostId?: string): HostState | undefined {
  const list = Array.isArray(events) ? (events as readonly AnyEvent[]) : [...events];
  const id = hostId ?? list.find(isHostEvent)?.data.hostId;
  if (id === undefined) return undefined;
  let state: HostState | undefined = emptyHost(id);
  for (const e of list) state = reduceHost(state, e);
  return state;
}
