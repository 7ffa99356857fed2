/**
 * The domains projection: every defined domain by uuid, by name, by host and
 * by state, as a pure fold of the event stream. Each event is applied once by
 * its stream sequence (an event at or below the last applied one is ignored),
 * so a projector can resume after a crash, see redeliveries, or rebuild from
 * zero, and reach the same projection.
 */
import { reduceDomainRow, domainOf, type DomainRow } from './domain.ts';
import type { LifecycleState } from './lifecycle.ts';
import type { AnyEvent } from './types.ts';
import type { VirtError } from '../errors.ts';
import { batch, checkSeq, removeIn, sortedObject, sortedSet, usable, type Batch, type Sequenced } from './transient.ts';

export interface DomainsProjection {
  /** The stream sequence of the last event applied (0: none). */
  readonly seq: number;
  /** Defined domains; an undefined domain leaves the projection. */
  readonly domains: ReadonlyMap<string, DomainRow>;
  /** name → uuid. */
  readonly byName: ReadonlyMap<string, string>;
  /** hostId → uuids of the domains placed on or running on it. */
  readonly byHost: ReadonlyMap<string, ReadonlySet<string>>;
  readonly byState: ReadonlyMap<LifecycleState, ReadonlySet<string>>;
}

/** The projection as JSON (for a KV snapshot): keys sorted, sets as sorted arrays, so equal projections serialise identically. */
export interface DomainsProjectionJSON {
  readonly seq: number;
  readonly domains: Readonly<Record<string, DomainRow>>;
  readonly byName: Readonly<Record<string, string>>;
  readonly byHost: Readonly<Record<string, readonly string[]>>;
  readonly byState: Readonly<Record<string, readonly string[]>>;
}

interface Writable {
  domains: Map<string, DomainRow>;
  byName: Map<string, string>;
  byHost: Map<string, ReadonlySet<string>>;
  byState: Map<LifecycleState, ReadonlySet<string>>;
}

const EMPTY: DomainsProjection = Object.freeze({ seq: 0, domains: new Map(), byName: new Map(), byHost: new Map(), byState: new Map() });

function unindex(b: Batch, w: Writable, uuid: string, row: DomainRow): void {
  if (w.byName.get(row.name) === uuid) w.byName.delete(row.name);
  if (row.hostId !== undefined) removeIn(b, w.byHost, row.hostId, uuid);
  removeIn(b, w.byState, row.state, uuid);
}

function index(b: Batch, w: Writable, uuid: string, row: DomainRow): void {
  w.byName.set(row.name, uuid);
  if (row.hostId !== undefined) b.setIn(w.byHost, row.hostId).add(uuid);
  b.setIn(w.byState, row.state).add(uuid);
}

function step(b: Batch, w: Writable, event: AnyEvent): void {
  const uuid = domainOf(event);
  if (uuid === undefined) return;
  const prev = w.domains.get(uuid);
  const next = reduceDomainRow(prev, event);
  if (next === prev || next === undefined) return;
  if (!next.defined) {
    if (prev) unindex(b, w, uuid, prev);
    w.domains.delete(uuid);
    return;
  }
  w.domains.set(uuid, next);
  // Definition changes and most reports leave every index as it was.
  if (prev && prev.name === next.name && prev.hostId === next.hostId && prev.state === next.state) return;
  if (prev) unindex(b, w, uuid, prev);
  index(b, w, uuid, next);
}

/**
 * Applies a batch of sequenced events. Pure: `p` is left as it was. Each
 * collection touched is copied once per call, so a projector should hand over
 * what it fetched in one call rather than one event at a time.
 */
function applyAll(p: DomainsProjection, items: Iterable<Sequenced>): DomainsProjection {
  let seq = p.seq;
  let w: Writable | undefined;
  const b = batch();
  for (const { seq: s, event } of items) {
    checkSeq(s);
    if (s <= seq) continue;
    seq = s;
    if (!usable(event)) continue;
    w ??= { domains: b.map(p.domains), byName: b.map(p.byName), byHost: b.map(p.byHost), byState: b.map(p.byState) };
    step(b, w, event);
  }
  if (seq === p.seq) return p;
  const { domains, byName, byHost, byState } = w ?? p;
  return Object.freeze({ seq, domains, byName, byHost, byState });
}

/** Applies one event at its stream sequence; ignored (the same projection returned) when `seq` is not past the last applied. */
function apply(p: DomainsProjection, event: AnyEvent | VirtError | undefined, seq: number): DomainsProjection {
  return applyAll(p, [{ seq, event }]);
}

function toJSON(p: DomainsProjection): DomainsProjectionJSON {
  return {
    seq: p.seq,
    domains: sortedObject(p.domains, (r) => r),
    byName: sortedObject(p.byName, (u) => u),
    byHost: sortedObject(p.byHost, sortedSet),
    byState: sortedObject(p.byState as ReadonlyMap<string, ReadonlySet<string>>, sortedSet),
  };
}

/** Rebuilds a projection from its JSON: the rows are the truth, the indexes are derived again from them. */
function fromJSON(json: DomainsProjectionJSON): DomainsProjection {
  const b = batch();
  const w: Writable = { domains: new Map(), byName: new Map(), byHost: new Map(), byState: new Map() };
  for (const [uuid, row] of Object.entries(json.domains)) {
    const r = Object.freeze({ ...row });
    w.domains.set(uuid, r);
    index(b, w, uuid, r);
  }
  return Object.freeze({ seq: json.seq, domains: w.domains, byName: w.byName, byHost: w.byHost, byState: w.byState });
}

function rows(p: DomainsProjection, uuids: ReadonlySet<string> | undefined): DomainRow[] {
  return uuids ? sortedSet(uuids).map((u) => p.domains.get(u)!) : [];
}

/**
 * Builds the domains projection from zero (`projectDomains(items)`), or, through
 * its members, resumes one: `apply`, `applyAll`, `toJSON`, `fromJSON` and lookups.
 */
export const projectDomains = Object.assign((items: Iterable<Sequenced> = []): DomainsProjection => applyAll(EMPTY, items), {
  empty: (): DomainsProjection => EMPTY,
  apply,
  applyAll,
  toJSON,
  fromJSON,
  get: (p: DomainsProjection, uuid: string): DomainRow | undefined => p.domains.get(uuid),
  byName: (p: DomainsProjection, name: string): DomainRow | undefined => {
    const u = p.byName.get(name);
    return u === undefined ? undefined : p.domains.get(u);
  },
  onHost: (p: DomainsProjection, hostId: string): DomainRow[] => rows(p, p.byHost.get(hostId)),
  inState: (p: DomainsProjection, state: LifecycleState): DomainRow[] => rows(p, p.byState.get(state)),
});
