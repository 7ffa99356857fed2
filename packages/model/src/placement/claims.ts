/**
 * Claims as data, and the check a scheduler runs before it appends one:
 * does the claim still fit the host as it stands now? Two schedulers side by
 * side each place on their own inventory; the one that appends second must
 * find, after reloading the host at version v, that its claim no longer
 * fits, and append with expectedVersion v so a third cannot slip between.
 */
import type { EventData } from '../events/types.ts';
import type { HostFacts, HostState } from '../events/host.ts';
import { DEFAULT_FILTERS, FILTERS, type FilterContext } from './filters.ts';
import { deriveHost, numaKey } from './inventory.ts';
import { guestKey, offerKey } from './caps-index.ts';
import type { CellClaim, Claim, FilterName, HostInventory, Inventory, InventoryConfig, PlacementRequest, SchedulerConfig } from './types.ts';
import { formatKiB } from './units.ts';

export type ClaimCheck = { readonly ok: true } | { readonly ok: false; readonly filter: FilterName; readonly reason: string };

export interface CheckOptions {
  readonly inventory?: InventoryConfig;
  readonly scheduler?: SchedulerConfig;
  /**
   * The request the claim was made for: then every filter that can be judged
   * on one host runs again (not group affinity, which needs the other hosts).
   * Without it, only state, memory, vCPUs, domain count and NUMA cells.
   */
  readonly request?: PlacementRequest;
  /** NUMA claims of the host's other domains, where known. */
  readonly claims?: Iterable<Claim>;
}

/** DomainPlaced's data for a claim. */
export function placedData(claim: Claim, reason?: string): EventData['DomainPlaced'] {
  return { uuid: claim.uuid, hostId: claim.hostId, memoryKiB: claim.memoryKiB, vcpus: claim.vcpus, ...(reason !== undefined ? { reason } : {}) };
}

const RESOURCE_FILTERS: readonly FilterName[] = ['ComputeFilter', 'RamFilter', 'CoreFilter', 'NumDomainsFilter'];

function cellProblem(host: HostInventory, cells: readonly CellClaim[]): string | undefined {
  const seen = new Set<number>();
  for (const c of cells) {
    const cell = host.numaCells?.find((x) => x.id === c.hostCell);
    if (!cell) return `host has no NUMA cell ${c.hostCell} (guest cell ${c.guestCell})`;
    if (seen.has(c.hostCell)) return `guest cells share host NUMA cell ${c.hostCell}`;
    seen.add(c.hostCell);
    const mem = cell.capacity.memoryKiB - cell.used.memoryKiB;
    if (c.memoryKiB > mem) return `host NUMA cell ${c.hostCell} has ${formatKiB(Math.max(0, mem))} free < ${formatKiB(c.memoryKiB)} for guest cell ${c.guestCell}`;
    const cpus = cell.capacity.vcpus - cell.used.vcpus;
    if (c.vcpus > cpus) return `host NUMA cell ${c.hostCell} has ${Math.max(0, cpus)} vCPUs free < ${c.vcpus} for guest cell ${c.guestCell}`;
  }
  return undefined;
}

/**
 * Whether `claim` fits `host`, where `host` does not count the claim's
 * domain yet. The filters are the scheduler's own, so a claim accepted here
 * passes every filter `place` would have run on this host.
 */
export function claimFits(host: HostInventory, claim: Claim, opts: CheckOptions & { readonly groupHosts?: ReadonlyMap<string, number> } = {}): ClaimCheck {
  const config = opts.scheduler ?? {};
  const req: PlacementRequest = opts.request
    ? { ...opts.request, memoryKiB: claim.memoryKiB, vcpus: claim.vcpus }
    : { uuid: claim.uuid, memoryKiB: claim.memoryKiB, vcpus: claim.vcpus, domainType: '', osType: '', hints: {} };
  const ctx: FilterContext = {
    inventory: { config: opts.inventory ?? {}, hosts: new Map(), lifecycles: new Map(), occupants: new Map(), numa: new Map(), facts: new Map() },
    config,
    groupHosts: opts.groupHosts ?? new Map(),
    numaFits: new Map(),
    keys: { guest: guestKey(req.osType, req.arch), offer: offerKey(req.osType, req.arch, req.domainType) },
  };
  const names = opts.request ? (config.filters ?? DEFAULT_FILTERS).filter((f) => f !== 'ServerGroupAffinityFilter' && f !== 'NUMATopologyFilter') : RESOURCE_FILTERS;
  for (const name of names) {
    const reason = FILTERS[name].check(host, req, ctx);
    if (reason !== undefined) return { ok: false, filter: name, reason };
  }
  if (claim.numa) {
    const reason = cellProblem(host, claim.numa);
    if (reason) return { ok: false, filter: 'NUMATopologyFilter', reason };
  } else if (req.numaCells?.length) {
    const reason = FILTERS.NUMATopologyFilter.check(host, req, ctx);
    if (reason) return { ok: false, filter: 'NUMATopologyFilter', reason };
  }
  return { ok: true };
}

function groupHere(hostId: string, occupants: Iterable<string>, req: PlacementRequest | undefined): Map<string, number> {
  const members = req?.hints.group?.members;
  if (!members) return new Map();
  const set = new Set(members);
  set.delete(req.uuid);
  let n = 0;
  // A domain both placed and claimed here is one member.
  for (const u of new Set(occupants)) if (set.has(u)) n++;
  return n ? new Map([[hostId, n]]) : new Map();
}

/**
 * The optimistic-concurrency re-check: `state` is the host aggregate just
 * reloaded (foldHost over its own events and its domains' events) at some
 * version v; if the claim fits, append it with expectedVersion v. The claim's
 * own domain is left out of the host's usage first, so checking a claim the
 * state already holds is not counted twice.
 */
export function checkClaim(state: HostState, claim: Claim, opts: CheckOptions = {}): ClaimCheck {
  if (state.hostId !== claim.hostId) return { ok: false, filter: 'RequestedHostFilter', reason: `the claim is for host '${claim.hostId}', not '${state.hostId}'` };
  const numa = new Map<string, readonly CellClaim[]>();
  for (const c of opts.claims ?? []) if (c.numa && c.hostId === state.hostId && c.uuid !== claim.uuid) numa.set(numaKey(c.uuid, c.hostId), c.numa);
  const { domains: _d, transit: _t, occupants, ...all } = state;
  const facts = withoutClaim(all, claim.uuid);
  const others = Object.entries(occupants).filter(([u]) => u !== claim.uuid);
  const host = deriveHost(opts.inventory ?? {}, facts, others, numa);
  return claimFits(host, claim, { ...opts, groupHosts: groupHere(state.hostId, [...others.map(([u]) => u), ...Object.keys(facts.claims ?? {})], opts.request) });
}

/** The host's facts without the claim of `uuid`: re-checking a domain's own claim must not count it twice. */
function withoutClaim(facts: HostFacts, uuid: string): HostFacts {
  if (!facts.claims || !Object.hasOwn(facts.claims, uuid)) return facts;
  const { [uuid]: _own, ...rest } = facts.claims;
  const { claims: _c, ...bare } = facts;
  return Object.keys(rest).length ? { ...bare, claims: rest } : bare;
}

/** The same check against a scheduler's inventory (its own view, with its claims). */
export function checkClaimInInventory(inv: Inventory, claim: Claim, opts: Omit<CheckOptions, 'inventory' | 'claims'> = {}): ClaimCheck {
  const facts = inv.facts.get(claim.hostId);
  if (!facts) return { ok: false, filter: 'ComputeFilter', reason: `host '${claim.hostId}' is unknown` };
  const others = [...(inv.occupants.get(claim.hostId) ?? [])].filter((u) => u !== claim.uuid);
  const numa = new Map([...inv.numa].filter(([k]) => !k.startsWith(`${claim.uuid}@`)));
  const bare = withoutClaim(facts, claim.uuid);
  const host = deriveHost(inv.config, bare, others.map((u) => [u, inv.lifecycles.get(u)!] as const), numa);
  return claimFits(host, claim, { ...opts, inventory: inv.config, groupHosts: groupHere(claim.hostId, [...others, ...Object.keys(bare.claims ?? {})], opts.request) });
}
