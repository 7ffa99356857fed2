/**
 * The domain aggregate: a domain's definition (every version of it) and its
 * lifecycle, folded from its events.
 */
import { DOMAIN_EVENT_TYPES, type AnyEvent, type EventType } from './types.ts';
import { SHUTOFF, reduceLifecycle, type DomainLifecycle } from './lifecycle.ts';

export interface DefinitionVersion {
  /** The aggregate version of the event that wrote it. */
  readonly version: number;
  readonly at: string;
  /** DomainDefined, DomainRedefined or one of the device events. */
  readonly type: EventType;
  readonly xml: string;
}

/** A domain as the projections keep it: everything but its definition history. */
export interface DomainRow extends DomainLifecycle {
  readonly uuid: string;
  readonly name: string;
  /** Defined and not undefined since (libvirt's persistent domain). */
  readonly defined: boolean;
  readonly domainType?: string;
  readonly driver?: string;
  /** The current inactive definition, '' before the first DomainDefined. */
  readonly xml: string;
  /** The aggregate version that wrote the current definition (0: none yet). */
  readonly definitionVersion: number;
  /** The aggregate version: that of the last event folded. */
  readonly version: number;
  readonly updatedAt: string;
}

export interface DomainState extends DomainRow {
  /** Every version of the definition, oldest first; kept across undefine and redefine. */
  readonly history: readonly DefinitionVersion[];
}

export type DomainEvent = Extract<AnyEvent, { type: (typeof DOMAIN_EVENT_TYPES)[number] }>;
const DOMAIN_TYPES: ReadonlySet<string> = new Set(DOMAIN_EVENT_TYPES);

export function isDomainEvent(event: AnyEvent): event is DomainEvent {
  return DOMAIN_TYPES.has(event.type);
}

/** The uuid of the domain an event belongs to, if it is a domain event. */
export function domainOf(event: AnyEvent): string | undefined {
  return isDomainEvent(event) ? event.data.uuid : undefined;
}

/** The definition an event writes, if it writes one. */
function definitionOf(event: AnyEvent): string | undefined {
  switch (event.type) {
    case 'DomainDefined':
    case 'DomainRedefined':
      return event.data.xml;
    case 'DomainDeviceAttached':
    case 'DomainDeviceDetached':
    case 'DomainDeviceUpdated':
      return event.data.definition;
    default:
      return undefined;
  }
}

function blankRow(uuid: string): DomainRow {
  return { ...SHUTOFF, uuid, name: '', defined: false, xml: '', definitionVersion: 0, version: 0, updatedAt: '' };
}

/**
 * Lays out a row in one fixed key order (identity, then lifecycle), without
 * undefined-valued keys, so equal rows serialise identically.
 */
function row(id: Omit<DomainRow, keyof DomainLifecycle>, lc: DomainLifecycle): DomainRow {
  const out: Record<string, unknown> = { uuid: id.uuid, name: id.name, defined: id.defined };
  if (id.domainType !== undefined) out.domainType = id.domainType;
  if (id.driver !== undefined) out.driver = id.driver;
  out.xml = id.xml;
  out.definitionVersion = id.definitionVersion;
  out.version = id.version;
  out.updatedAt = id.updatedAt;
  out.state = lc.state;
  out.reason = lc.reason;
  out.migrating = lc.migrating;
  if (lc.detail !== undefined) out.detail = lc.detail;
  if (lc.migration !== undefined) out.migration = lc.migration;
  if (lc.hostId !== undefined) out.hostId = lc.hostId;
  if (lc.resources !== undefined) out.resources = lc.resources;
  if (lc.lastError !== undefined) out.lastError = lc.lastError;
  return Object.freeze(out) as unknown as DomainRow;
}

/** The lifecycle half of a row. */
export function lifecycleOf(r: DomainLifecycle): DomainLifecycle {
  const { state, reason, detail, migration, hostId, resources, lastError } = r;
  const out: Record<string, unknown> = { state, reason, migrating: migration !== undefined };
  if (detail !== undefined) out.detail = detail;
  if (migration !== undefined) out.migration = migration;
  if (hostId !== undefined) out.hostId = hostId;
  if (resources !== undefined) out.resources = resources;
  if (lastError !== undefined) out.lastError = lastError;
  return Object.freeze(out) as unknown as DomainLifecycle;
}

/**
 * Folds one event into a domain row (no history): what the projections keep.
 * Events of other aggregates leave the row as it is. Built in one object: this
 * is the inner loop of a projection rebuild.
 */
export function reduceDomainRow(state: DomainRow | undefined, event: AnyEvent): DomainRow | undefined {
  if (!isDomainEvent(event)) return state;
  if (state && state.uuid !== event.data.uuid) return state;
  const base = state ?? blankRow(event.data.uuid);
  // reduceLifecycle reads only the lifecycle fields, so the row itself will do.
  const lc = reduceLifecycle(base, event);
  let { name, defined, domainType, driver, xml, definitionVersion } = base;
  switch (event.type) {
    case 'DomainDefined':
    case 'DomainRedefined':
      ({ name, domainType, driver, xml } = event.data);
      defined = true;
      definitionVersion = event.version;
      break;
    case 'DomainDeviceAttached':
    case 'DomainDeviceDetached':
    case 'DomainDeviceUpdated':
      xml = event.data.definition;
      definitionVersion = event.version;
      break;
    case 'DomainUndefined':
      // The last definition stays readable (history, diff); the domain no longer exists.
      name = event.data.name;
      defined = false;
      break;
  }
  return row({ uuid: base.uuid, name, defined, domainType, driver, xml, definitionVersion, version: event.version, updatedAt: event.at }, lc);
}

/**
 * Folds one event into a domain's state. Reducers never throw on an event
 * already in the log: they fold what happened (checkTransition is the guard
 * writers use before appending).
 */
export function reduceDomain(state: DomainState | undefined, event: AnyEvent): DomainState | undefined {
  const next = reduceDomainRow(state, event);
  if (next === undefined || next === state) return state;
  const xml = definitionOf(event);
  const prior = state?.history ?? [];
  const history = xml === undefined ? prior : Object.freeze([...prior, Object.freeze({ version: event.version, at: event.at, type: event.type, xml })]);
  return Object.freeze({ ...next, history });
}

/**
 * Folds a domain's events, in log order, from nothing. With `uuid`, events of
 * other domains are skipped; without, the first domain event names the domain.
 */
export function foldDomain(events: Iterable<AnyEvent>, uuid?: string): DomainState | undefined {
  let state: DomainState | undefined;
  let id = uuid;
  for (const e of events) {
    const of = domainOf(e);
    if (of === undefined) continue;
    id ??= of;
    if (of === id) state = reduceDomain(state, e);
  }
  return state;
}

/** A row of a full state (the projections' view of it). */
export function toRow(state: DomainState): DomainRow {
  return row(state, state);
}
