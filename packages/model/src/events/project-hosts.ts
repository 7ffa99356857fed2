/**
 * The hosts projection: every host with its facts, the domains on it and its
 * free resources (total from capabilities.host, less what the domains placed
 * on it claim: running, paused or placed and not yet started, and both ends of
 * a migration in flight). A pure fold, idempotent by stream sequence like the
 * domains projection.
 */
import type { VirtError } from '../errors.ts';
import { domainOf } from './domain.ts';
import { emptyHostFacts, isHostEvent, reduceHostFacts, type HostFacts } from './host.ts';
import { SHUTOFF, occupiedHosts, reduceLifecycle, type DomainLifecycle, type Resources } from './lifecycle.ts';
import type { AnyEvent } from './types.ts';
import { batch, checkSeq, removeIn, sortedObject, sortedSet, usable, type Batch, type Sequenced } from './transient.ts';

export interface HostsProjection {
  readonly seq: number;
  readonly hosts: ReadonlyMap<string, HostFacts>;
  /** hostId → what the domains occupying it claim. */
  readonly used: ReadonlyMap<string, Resources>;
  /** hostId → uuids of the domains living on it. */
  readonly domains: ReadonlyMap<string, ReadonlySet<string>>;
  /** hostId → uuids migrating to or from it that live on the other end. */
  readonly transit: ReadonlyMap<string, ReadonlySet<string>>;
  /** uuid → lifecycle, for every domain occupying some host. */
  readonly lifecycles: ReadonlyMap<string, DomainLifecycle>;
}

/** One host as a scheduler reads it. */
export interface HostView extends HostFacts {
  readonly domains: readonly string[];
  readonly transit: readonly string[];
  readonly used: Resources;
  /** total − used; negative when overcommitted. */
  readonly free: { readonly memoryKiB: number; readonly cpus: number };
}

export interface HostsProjectionJSON {
  readonly seq: number;
  readonly hosts: Readonly<Record<string, HostView>>;
  readonly lifecycles: Readonly<Record<string, DomainLifecycle>>;
}

interface Writable {
  hosts: Map<string, HostFacts>;
  used: Map<string, Resources>;
  domains: Map<string, ReadonlySet<string>>;
  transit: Map<string, ReadonlySet<string>>;
  lifecycles: Map<string, DomainLifecycle>;
}

const NOTHING: Resources = Object.freeze({ memoryKiB: 0, vcpus: 0 });
const EMPTY: HostsProjection = Object.freeze({ seq: 0, hosts: new Map(), used: new Map(), domains: new Map(), transit: new Map(), lifecycles: new Map() });

function addUse(w: Writable, hostId: string, r: Resources | undefined, sign: 1 | -1): void {
  if (!r) return;
  const u = w.used.get(hostId) ?? NOTHING;
  const next = { memoryKiB: u.memoryKiB + sign * r.memoryKiB, vcpus: u.vcpus + sign * r.vcpus };
  if (next.memoryKiB === 0 && next.vcpus === 0) w.used.delete(hostId);
  else w.used.set(hostId, Object.freeze(next));
}

function leave(b: Batch, w: Writable, uuid: string, lc: DomainLifecycle): void {
  for (const h of occupiedHosts(lc)) {
    addUse(w, h, lc.resources, -1);
    removeIn(b, h === lc.hostId ? w.domains : w.transit, h, uuid);
  }
}

function enter(b: Batch, w: Writable, uuid: string, lc: DomainLifecycle): void {
  for (const h of occupiedHosts(lc)) {
    if (!w.hosts.has(h)) w.hosts.set(h, emptyHostFacts(h));
    addUse(w, h, lc.resources, 1);
    b.setIn(h === lc.hostId ? w.domains : w.transit, h).add(uuid);
  }
}

function step(b: Batch, w: Writable, event: AnyEvent): void {
  if (isHostEvent(event)) {
    const id = event.data.hostId;
    w.hosts.set(id, reduceHostFacts(w.hosts.get(id) ?? emptyHostFacts(id), event));
    return;
  }
  const uuid = domainOf(event);
  if (uuid === undefined) return;
  const prev = w.lifecycles.get(uuid);
  const next = reduceLifecycle(prev ?? SHUTOFF, event);
  if (next === prev) return;
  if (prev) leave(b, w, uuid, prev);
  // A domain occupying nothing is forgotten: its next placement starts from scratch.
  if (occupiedHosts(next).length === 0) w.lifecycles.delete(uuid);
  else {
    w.lifecycles.set(uuid, next);
    enter(b, w, uuid, next);
  }
}

function writable(b: Batch, p: HostsProjection): Writable {
  return { hosts: b.map(p.hosts), used: b.map(p.used), domains: b.map(p.domains), transit: b.map(p.transit), lifecycles: b.map(p.lifecycles) };
}

function freeze(seq: number, w: Writable | HostsProjection): HostsProjection {
  return Object.freeze({ seq, hosts: w.hosts, used: w.used, domains: w.domains, transit: w.transit, lifecycles: w.lifecycles });
}

/** Applies a batch of sequenced events; pure, one copy per touched collection per call (see projectDomains.applyAll). */
function applyAll(p: HostsProjection, items: Iterable<Sequenced>): HostsProjection {
  let seq = p.seq;
  let w: Writable | undefined;
  const b = batch();
  for (const { seq: s, event } of items) {
    checkSeq(s);
    if (s <= seq) continue;
    seq = s;
    if (!usable(event)) continue;
    w ??= writable(b, p);
    step(b, w, event);
  }
  return seq === p.seq ? p : freeze(seq, w ?? p);
}

function apply(p: HostsProjection, event: AnyEvent | VirtError | undefined, seq: number): HostsProjection {
  return applyAll(p, [{ seq, event }]);
}

/** One host's view, or undefined for a host the projection has never heard of. */
function view(p: HostsProjection, hostId: string): HostView | undefined {
  const facts = p.hosts.get(hostId);
  if (!facts) return undefined;
  const used = p.used.get(hostId) ?? NOTHING;
  const domains = p.domains.get(hostId);
  const transit = p.transit.get(hostId);
  return Object.freeze({
    ...facts,
    domains: domains ? sortedSet(domains) : [],
    transit: transit ? sortedSet(transit) : [],
    used,
    free: Object.freeze({ memoryKiB: facts.resources.memoryKiB - used.memoryKiB, cpus: facts.resources.cpus - used.vcpus }),
  });
}

function toJSON(p: HostsProjection): HostsProjectionJSON {
  return {
    seq: p.seq,
    hosts: sortedObject(p.hosts, (f) => view(p, f.hostId)!),
    lifecycles: sortedObject(p.lifecycles, (lc) => lc),
  };
}

/** Rebuilds a projection from its JSON: host facts and lifecycles are the truth; domains, transit and usage are derived again. */
function fromJSON(json: HostsProjectionJSON): HostsProjection {
  const b = batch();
  const w: Writable = { hosts: new Map(), used: new Map(), domains: new Map(), transit: new Map(), lifecycles: new Map() };
  for (const [id, v] of Object.entries(json.hosts)) {
    const { domains: _d, transit: _t, used: _u, free: _f, ...facts } = v;
    w.hosts.set(id, Object.freeze(facts));
  }
  for (const [uuid, lc] of Object.entries(json.lifecycles)) {
    const l = Object.freeze({ ...lc });
    w.lifecycles.set(uuid, l);
    enter(b, w, uuid, l);
  }
  return freeze(json.seq, w);
}

/**
 * Builds the hosts projection from zero (`projectHosts(items)`), or, through
 * its members, resumes one: `apply`, `applyAll`, `toJSON`, `fromJSON`, `view`, `views`.
 */
export const projectHosts = Object.assign((items: Iterable<Sequenced> = []): HostsProjection => applyAll(EMPTY, items), {
  empty: (): HostsProjection => EMPTY,
  apply,
  applyAll,
  toJSON,
  fromJSON,
  view,
  /** Every host, sorted by id. */
  views: (p: HostsProjection): HostView[] => [...p.hosts.keys()].sort().map((h) => view(p, h)!),
});
