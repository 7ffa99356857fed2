/**
 * The inventory: every host's capacity and free resources, kept exact by the
 * same lifecycle fold the projections use (reduceLifecycle, occupiedHosts),
 * so a placement, a stop, a migration or an undefine moves resources here
 * exactly as it does in the hosts projection. A scheduler's own claims are
 * folded as the DomainPlaced / DomainMigrating they stand for, so a claim and
 * its event, when it comes back from the log, can never count twice.
 */
import type { Capabilities } from '../caps/types.ts';
import type { AnyEvent, EventEnvelope } from '../events/types.ts';
import { emptyHostFacts, isHostEvent, reduceHostFacts, type HostFacts, type HostState } from '../events/host.ts';
import { domainOf } from '../events/domain.ts';
import { SHUTOFF, occupiedHosts, reduceLifecycle, type DomainLifecycle, type Resources } from '../events/lifecycle.ts';
import type { HostsProjection } from '../events/project-hosts.ts';
import type { AllocationPolicy, CellClaim, Claim, HostInventory, HostStatus, Inventory, InventoryConfig, NumaCellInventory } from './types.ts';
import { forkMap, forkSet } from '../util/pmap.ts';

/** Nova's initial_ram_allocation_ratio, initial_cpu_allocation_ratio, reserved_host_memory_mb (512 MiB), reserved_host_cpus. */
export const DEFAULT_POLICY: AllocationPolicy = Object.freeze({ ramAllocationRatio: 1.0, cpuAllocationRatio: 4.0, reservedHostMemoryKiB: 512 * 1024, reservedHostCpus: 0 });
export const DEFAULT_MAINTENANCE_LABEL = 'virtflow/maintenance';

const NOTHING: Resources = Object.freeze({ memoryKiB: 0, vcpus: 0 });

/**
 * A host's policy: the defaults, then its aggregates (the smallest ratio and
 * the largest reservation of them, as Nova's aggregate filters take the
 * minimum), then its own overrides.
 */
export function policyOf(config: InventoryConfig, hostId: string): AllocationPolicy {
  const p: { -readonly [K in keyof AllocationPolicy]: AllocationPolicy[K] } = { ...DEFAULT_POLICY, ...config.policy };
  const fromAggs = (config.aggregates ?? []).filter((a) => a.hosts.includes(hostId) && a.policy).map((a) => a.policy!);
  const min = (k: 'ramAllocationRatio' | 'cpuAllocationRatio') => {
    const v = fromAggs.map((a) => a[k]).filter((x): x is number => x !== undefined);
    if (v.length) p[k] = Math.min(...v);
  };
  const max = (k: 'reservedHostMemoryKiB' | 'reservedHostCpus') => {
    const v = fromAggs.map((a) => a[k]).filter((x): x is number => x !== undefined);
    if (v.length) p[k] = Math.max(...v);
  };
  min('ramAllocationRatio');
  min('cpuAllocationRatio');
  max('reservedHostMemoryKiB');
  max('reservedHostCpus');
  return Object.freeze({ ...p, ...config.hosts?.[hostId] });
}

function labelsOf(config: InventoryConfig, facts: HostFacts): { labels: Readonly<Record<string, string>>; aggregates: string[] } {
  const aggs = (config.aggregates ?? []).filter((a) => a.hosts.includes(facts.hostId));
  if (aggs.length === 0) return { labels: facts.labels, aggregates: [] };
  const labels: Record<string, string> = {};
  for (const a of aggs) Object.assign(labels, a.labels);
  return { labels: Object.freeze(Object.assign(labels, facts.labels)), aggregates: aggs.map((a) => a.name) };
}

function statusOf(facts: HostFacts, labels: Readonly<Record<string, string>>, config: InventoryConfig): HostStatus {
  if (!facts.registered) return 'unregistered';
  if (!facts.up) return 'down';
  if (labels[config.maintenanceLabel ?? DEFAULT_MAINTENANCE_LABEL] === 'true') return 'maintenance';
  return facts.drained ? 'drained' : 'up';
}

export const numaKey = (uuid: string, hostId: string): string => `${uuid}@${hostId}`;

function numaCells(caps: Capabilities | undefined, policy: AllocationPolicy, claims: readonly (readonly CellClaim[])[]): NumaCellInventory[] | undefined {
  const cells = caps?.host.numaCells;
  if (!cells || cells.length === 0) return undefined;
  return cells.map((c) => {
    let memoryKiB = 0;
    let vcpus = 0;
    for (const list of claims) for (const cl of list) if (cl.hostCell === c.id) { memoryKiB += cl.memoryKiB; vcpus += cl.vcpus; }
    return Object.freeze({
      id: c.id,
      memoryKiB: c.memoryKiB,
      cpus: c.cpus,
      capacity: Object.freeze({ memoryKiB: Math.floor(c.memoryKiB * policy.ramAllocationRatio), vcpus: Math.floor(c.cpus.length * policy.cpuAllocationRatio) }),
      used: Object.freeze({ memoryKiB, vcpus }),
    });
  });
}

/** One host's inventory from its facts and the lifecycles of the domains occupying it. */
export function deriveHost(
  config: InventoryConfig,
  facts: HostFacts,
  occupants: Iterable<readonly [string, DomainLifecycle]>,
  numa: ReadonlyMap<string, readonly CellClaim[]>,
): HostInventory {
  const hostId = facts.hostId;
  const policy = policyOf(config, hostId);
  const { labels, aggregates } = labelsOf(config, facts);
  let memoryKiB = 0;
  let vcpus = 0;
  const domains: string[] = [];
  const transit: string[] = [];
  const cellClaims: (readonly CellClaim[])[] = [];
  // A domain counts once: by its claim on the host's stream when it has one (what
  // schedulers race on), else by what its placement says (a domain started
  // straight on a host). A claim whose DomainPlaced is not in yet counts too.
  const claims = facts.claims;
  const seen = claims ? new Set<string>() : undefined;
  for (const [uuid, lc] of occupants) {
    const claim = claims && Object.hasOwn(claims, uuid) ? claims[uuid] : undefined;
    seen?.add(uuid);
    memoryKiB += claim?.memoryKiB ?? lc.resources?.memoryKiB ?? 0;
    vcpus += claim?.vcpus ?? lc.resources?.vcpus ?? 0;
    (lc.hostId === hostId ? domains : transit).push(uuid);
    const cl = numa.get(numaKey(uuid, hostId)) ?? claim?.numa;
    if (cl) cellClaims.push(cl);
  }
  if (claims) {
    for (const [uuid, claim] of Object.entries(claims)) {
      if (seen!.has(uuid)) continue;
      memoryKiB += claim.memoryKiB;
      vcpus += claim.vcpus;
      (claim.migrateFrom === undefined ? domains : transit).push(uuid);
      const cl = numa.get(numaKey(uuid, hostId)) ?? claim.numa;
      if (cl) cellClaims.push(cl);
    }
  }
  const total = facts.resources;
  const capacity = Object.freeze({
    memoryKiB: Math.floor(Math.max(0, total.memoryKiB - policy.reservedHostMemoryKiB) * policy.ramAllocationRatio),
    vcpus: Math.floor(Math.max(0, total.cpus - policy.reservedHostCpus) * policy.cpuAllocationRatio),
  });
  const used = memoryKiB === 0 && vcpus === 0 ? NOTHING : Object.freeze({ memoryKiB, vcpus });
  const cells = numaCells(facts.capabilities, policy, cellClaims);
  return Object.freeze({
    hostId,
    status: statusOf(facts, labels, config),
    facts,
    labels,
    aggregates: Object.freeze(aggregates),
    ...(facts.capabilities ? { capabilities: facts.capabilities } : {}),
    policy,
    total: Object.freeze({ memoryKiB: total.memoryKiB, cpus: total.cpus }),
    capacity,
    used,
    free: Object.freeze({ memoryKiB: capacity.memoryKiB - memoryKiB, vcpus: capacity.vcpus - vcpus }),
    domains: Object.freeze(domains.sort()),
    transit: Object.freeze(transit.sort()),
    ...(cells ? { numaCells: Object.freeze(cells) } : {}),
  });
}

/**
 * The maps of one fold, copied on first write only: a claim touches the
 * lifecycles, the occupants and one host, and leaves facts and NUMA claims
 * as they were. `owned` marks what this call may change in place.
 */
interface Work {
  readonly src: Inventory;
  facts: ReadonlyMap<string, HostFacts>;
  lifecycles: ReadonlyMap<string, DomainLifecycle>;
  occupants: ReadonlyMap<string, ReadonlySet<string>>;
  numa: ReadonlyMap<string, readonly CellClaim[]>;
  hosts: ReadonlyMap<string, HostInventory>;
  readonly owned: Set<object>;
  readonly touched: Set<string>;
}

type MapKey = 'facts' | 'lifecycles' | 'occupants' | 'numa' | 'hosts';

function writable<K extends MapKey>(w: Work, key: K): Work[K] extends ReadonlyMap<infer A, infer B> ? Map<A, B> : never {
  const cur = w[key] as ReadonlyMap<unknown, unknown>;
  if (w.owned.has(cur)) return cur as never;
  const next = forkMap(cur);
  w.owned.add(next);
  (w as unknown as Record<MapKey, unknown>)[key] = next;
  return next as never;
}

function occupantSet(w: Work, hostId: string): Set<string> {
  const cur = w.occupants.get(hostId);
  if (cur && w.owned.has(cur)) return cur as Set<string>;
  const next = forkSet(cur);
  w.owned.add(next);
  writable(w, 'occupants').set(hostId, next);
  return next;
}

/** Moves one domain from its prior lifecycle to the next: off the hosts it leaves, onto the hosts it takes. */
function move(w: Work, uuid: string, prev: DomainLifecycle | undefined, next: DomainLifecycle): void {
  const before = prev ? occupiedHosts(prev) : [];
  const after = occupiedHosts(next);
  for (const h of before) {
    occupantSet(w, h).delete(uuid);
    w.touched.add(h);
    const key = numaKey(uuid, h);
    if (!after.includes(h) && w.numa.has(key)) writable(w, 'numa').delete(key);
  }
  for (const h of after) {
    if (!w.facts.has(h)) writable(w, 'facts').set(h, emptyHostFacts(h));
    occupantSet(w, h).add(uuid);
    w.touched.add(h);
  }
  if (after.length === 0) {
    if (w.lifecycles.has(uuid)) writable(w, 'lifecycles').delete(uuid);
  } else writable(w, 'lifecycles').set(uuid, next);
}

function step(w: Work, event: AnyEvent): void {
  if (isHostEvent(event)) {
    const id = event.data.hostId;
    const prior = w.facts.get(id) ?? emptyHostFacts(id);
    const next = reduceHostFacts(prior, event);
    if (next !== prior || !w.facts.has(id)) {
      writable(w, 'facts').set(id, next);
      w.touched.add(id);
    }
    return;
  }
  const uuid = domainOf(event);
  if (uuid === undefined) return;
  const prev = w.lifecycles.get(uuid);
  const next = reduceLifecycle(prev ?? SHUTOFF, event);
  if (next !== prev && !(prev === undefined && occupiedHosts(next).length === 0)) move(w, uuid, prev, next);
}

function work(inv: Inventory): Work {
  return { src: inv, facts: inv.facts, lifecycles: inv.lifecycles, occupants: inv.occupants, numa: inv.numa, hosts: inv.hosts, owned: new Set(), touched: new Set() };
}

/** Derives the touched hosts again, into the work's own hosts map. */
function refresh(w: Work): void {
  if (w.touched.size === 0) return;
  const hosts = writable(w, 'hosts');
  for (const h of w.touched) {
    const set = w.occupants.get(h);
    if (set && set.size === 0) writable(w, 'occupants').delete(h);
    const occ = [...(w.occupants.get(h) ?? [])].map((u) => [u, w.lifecycles.get(u)!] as const);
    hosts.set(h, deriveHost(w.src.config, w.facts.get(h)!, occ, w.numa));
  }
  w.touched.clear();
}

function view(w: Work): Inventory {
  return { config: w.src.config, hosts: w.hosts, lifecycles: w.lifecycles, occupants: w.occupants, numa: w.numa, facts: w.facts };
}

function finish(inv: Inventory, w: Work): Inventory {
  refresh(w);
  return w.owned.size === 0 ? inv : Object.freeze(view(w));
}

const EMPTY_MAPS = { hosts: new Map(), lifecycles: new Map(), occupants: new Map(), numa: new Map(), facts: new Map() } as const;

/** An inventory with no hosts. */
export function emptyInventory(config: InventoryConfig = {}): Inventory {
  return Object.freeze({ config, ...EMPTY_MAPS });
}

/**
 * Folds events into the inventory: host events change a host's facts,
 * domain events move a domain's claim (DomainPlaced takes, DomainStopped and
 * DomainUndefined release, DomainMigrating takes on the target until the
 * source lets go). Pure; each map is copied at most once per call, so fold
 * what was fetched in one call. Applying an event twice is harmless for
 * placements and stops (they set, not add), but feed each event once all the same.
 */
export function foldInventory(inv: Inventory, events: Iterable<AnyEvent>): Inventory {
  const w = work(inv);
  for (const e of events) step(w, e);
  return finish(inv, w);
}

/**
 * The inventory of a hosts projection: its facts and lifecycles, with the
 * allocation policy of `config`. `claims` adds the NUMA cells of placements
 * the projection cannot know (DomainPlaced does not carry them yet).
 */
export function buildInventory(projection: HostsProjection, config: InventoryConfig = {}, claims: Iterable<Claim> = []): Inventory {
  const empty = emptyInventory(config);
  const w = work(empty);
  const facts = writable(w, 'facts');
  for (const [id, f] of projection.hosts) {
    facts.set(id, f);
    w.touched.add(id);
  }
  for (const [uuid, lc] of projection.lifecycles) move(w, uuid, undefined, lc);
  for (const c of claims) if (c.numa) writable(w, 'numa').set(numaKey(c.uuid, c.hostId), c.numa);
  return finish(empty, w);
}

/**
 * The inventory of one host aggregate (foldHost over the host's events and
 * its domains' events), for the re-check before a claim is appended.
 */
export function hostInventory(state: HostState, config: InventoryConfig = {}, claims: Iterable<Claim> = []): HostInventory {
  const numa = new Map<string, readonly CellClaim[]>();
  for (const c of claims) if (c.numa && c.hostId === state.hostId) numa.set(numaKey(c.uuid, c.hostId), c.numa);
  const { domains: _d, transit: _t, occupants, ...facts } = state;
  return deriveHost(config, facts, Object.entries(occupants), numa);
}

/** The event a claim stands for, folded by the same reducer as the real one. */
function claimEvent(claim: Claim): AnyEvent {
  const base = { id: '', subject: '', version: 0, at: '', correlationId: '', causationId: '', v: 1 as const };
  if (claim.migrateFrom !== undefined) {
    const e: EventEnvelope<'DomainMigrating'> = { ...base, type: 'DomainMigrating', data: { uuid: claim.uuid, fromHost: claim.migrateFrom, toHost: claim.hostId } };
    return e;
  }
  const e: EventEnvelope<'DomainPlaced'> = { ...base, type: 'DomainPlaced', data: { uuid: claim.uuid, hostId: claim.hostId, memoryKiB: claim.memoryKiB, vcpus: claim.vcpus } };
  return e;
}

function claimInto(w: Work, claim: Claim): void {
  const prev = w.lifecycles.get(claim.uuid);
  // A migration claim on an inventory that does not know the domain yet: it lives on the source.
  const base = prev ?? (claim.migrateFrom !== undefined ? { ...SHUTOFF, state: 'running' as const, hostId: claim.migrateFrom, resources: { memoryKiB: claim.memoryKiB, vcpus: claim.vcpus } } : SHUTOFF);
  move(w, claim.uuid, prev, reduceLifecycle(base, claimEvent(claim)));
  if (claim.numa) writable(w, 'numa').set(numaKey(claim.uuid, claim.hostId), claim.numa);
  w.touched.add(claim.hostId);
}

/**
 * Takes a claim in the inventory before its event is in the log, so the next
 * placement of this scheduler sees it. When the DomainPlaced (or
 * DomainMigrating) comes back from the log, folding it changes nothing.
 * Copies the lifecycles map (O(domains)); `withClaims` takes many claims for
 * one copy.
 */
export function applyClaim(inv: Inventory, claim: Claim): Inventory {
  const w = work(inv);
  claimInto(w, claim);
  return finish(inv, w);
}

/**
 * Runs `decide` once per item against an inventory that holds every claim
 * made so far in the run, copying each map once for the whole run: how a
 * scheduler places a batch of requests. `decide` returns the claim to take,
 * or undefined. Pure from the outside: `inv` is left as it was; the
 * inventory handed to `decide` is only valid during that call.
 */
export function withClaims<T, R extends { readonly claim?: Claim | undefined }>(inv: Inventory, items: Iterable<T>, decide: (inv: Inventory, item: T) => R): { readonly inventory: Inventory; readonly results: R[] } {
  const w = work(inv);
  const results: R[] = [];
  for (const item of items) {
    const r = decide(view(w), item);
    results.push(r);
    if (r.claim) {
      claimInto(w, r.claim);
      refresh(w);
    }
  }
  return { inventory: finish(inv, w), results };
}

/**
 * Gives a claim back when its event could not be appended (another scheduler
 * won the host): the domain is as it was before the claim.
 */
export function releaseClaim(inv: Inventory, claim: Claim): Inventory {
  const prev = inv.lifecycles.get(claim.uuid);
  if (!prev) return inv;
  const w = work(inv);
  let next: DomainLifecycle;
  if (claim.migrateFrom !== undefined && prev.migration?.toHost === claim.hostId) {
    const { migration: _m, ...rest } = prev;
    next = Object.freeze({ ...rest, migrating: false });
  } else if (claim.migrateFrom === undefined && prev.hostId === claim.hostId && prev.state === 'shutoff') next = SHUTOFF;
  else return inv;
  move(w, claim.uuid, prev, next);
  const key = numaKey(claim.uuid, claim.hostId);
  if (w.numa.has(key)) writable(w, 'numa').delete(key);
  w.touched.add(claim.hostId);
  return finish(inv, w);
}

/** hostId → how many of `members` (other than `self`) occupy it. */
export function membersByHost(inv: Inventory, members: readonly string[], self?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of members) {
    if (m === self) continue;
    const lc = inv.lifecycles.get(m);
    if (lc) for (const h of occupiedHosts(lc)) out.set(h, (out.get(h) ?? 0) + 1);
  }
  return out;
}

const ORDER = new WeakMap<ReadonlyMap<string, HostInventory>, readonly string[]>();

/** Every host, sorted by id (the order is remembered per hosts map: a claim changes a host, not the set of hosts). */
export function inventoryHosts(inv: Inventory): HostInventory[] {
  let ids = ORDER.get(inv.hosts);
  if (!ids || ids.length !== inv.hosts.size) {
    ids = [...inv.hosts.keys()].sort();
    ORDER.set(inv.hosts, ids);
  }
  return ids.map((h) => inv.hosts.get(h)!);
}
