/**
 * One placement decision: filter every host, weigh the ones left, choose.
 * Every host left out is in `explain` with the filter that removed it and
 * why. Pure: randomness (Nova's host_subset_size) only through `random`.
 */
import { DEFAULT_FILTERS, FILTERS, type FilterContext, type HostFilter } from './filters.ts';
import { guestKey, offerKey } from './caps-index.ts';
import { inventoryHosts, membersByHost, withClaims } from './inventory.ts';
import { WEIGHERS, normalize, weightsOf } from './weighers.ts';
import { formatKiB, plural } from './units.ts';
import type { Claim, FilterName, HostInventory, Inventory, Placement, PlacementRequest, Rejection, SchedulerConfig, WeighedHost, WeigherName } from './types.ts';

export interface PlaceOptions {
  /** [0, 1) draws for choosing among the best `hostSubsetSize` hosts. */
  readonly random?: () => number;
  /** The request is a migration from this host: the claim is DomainMigrating's target half. */
  readonly migrateFrom?: string;
  /** Only these hosts are considered (all of the inventory's by default). */
  readonly hosts?: readonly string[];
}

export function filterContext(inv: Inventory, req: PlacementRequest, config: SchedulerConfig): FilterContext {
  const g = req.hints.group;
  return {
    inventory: inv,
    config,
    groupHosts: g?.members ? membersByHost(inv, g.members, req.uuid) : new Map(),
    numaFits: new Map(),
    keys: { guest: guestKey(req.osType, req.arch), offer: offerKey(req.osType, req.arch, req.domainType) },
  };
}

/** The configured filters that can say anything about this request, in order. */
export function activeFilters(req: PlacementRequest, config: SchedulerConfig): HostFilter[] {
  return (config.filters ?? DEFAULT_FILTERS).map((n) => FILTERS[n]).filter((f) => f.applies?.(req, config) ?? true);
}

/** Runs the filters on one host: undefined when it passes, else the rejection. */
export function filterHost(host: HostInventory, req: PlacementRequest, ctx: FilterContext, filters: readonly HostFilter[] = activeFilters(req, ctx.config)): Rejection | undefined {
  const explainAll = ctx.config.explainAll === true;
  let all: { filter: FilterName; reason: string }[] | undefined;
  for (const f of filters) {
    const reason = f.check(host, req, ctx);
    if (reason === undefined) continue;
    if (!explainAll) return Object.freeze({ hostId: host.hostId, filter: f.name, reason });
    (all ??= []).push({ filter: f.name, reason });
  }
  if (!all) return undefined;
  return Object.freeze({ hostId: host.hostId, filter: all[0]!.filter, reason: all[0]!.reason, all: Object.freeze(all) });
}

type Parts = Partial<Record<WeigherName, { raw: number; normalized: number; weighted: number }>>;

/**
 * Weighs the candidates and ranks them. Flat arrays and one object per host:
 * with 1,000 hosts this runs for every decision.
 */
function weigh(hosts: readonly HostInventory[], req: PlacementRequest, ctx: FilterContext, limit: number): WeighedHost[] {
  const multipliers = weightsOf(ctx.config);
  const n = hosts.length;
  const total = new Float64Array(n);
  const parts: Parts[] = Array.from({ length: n }, () => ({}));
  for (const w of WEIGHERS) {
    const m = multipliers[w.name];
    if (m === 0 || !w.applies(req)) continue;
    const raw = hosts.map((h) => w.value(h, req, ctx));
    const norm = normalize(raw);
    for (let i = 0; i < n; i++) {
      const weighted = m * norm[i]!;
      parts[i]![w.name] = { raw: raw[i]!, normalized: norm[i]!, weighted };
      total[i] = total[i]! + weighted;
    }
  }
  const preferred = req.hints.preferredHost;
  const order = Array.from({ length: n }, (_, i) => i);
  const id = (i: number) => hosts[i]!.hostId;
  order.sort((a, b) => Number(id(b) === preferred) - Number(id(a) === preferred) || total[b]! - total[a]! || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
  return order.slice(0, limit).map((i) => {
    const hostId = id(i);
    const numa = ctx.numaFits.get(hostId);
    return { hostId, weight: total[i]!, weights: parts[i]!, preferred: hostId === preferred, ...(numa ? { numa } : {}) };
  });
}

function choose(ranked: readonly WeighedHost[], config: SchedulerConfig, random: (() => number) | undefined): WeighedHost | undefined {
  const top = ranked[0];
  if (!top || top.preferred) return top;
  const n = Math.min(config.hostSubsetSize ?? 1, ranked.length);
  if (n <= 1 || !random) return top;
  return ranked[Math.min(n - 1, Math.floor(random() * n))];
}

const describe = (req: PlacementRequest) => `domain '${req.name ?? req.uuid}' (${formatKiB(req.memoryKiB)}, ${plural(req.vcpus, 'vCPU')})`;

function summarize(req: PlacementRequest, chosen: WeighedHost | undefined, ranked: readonly WeighedHost[], explain: readonly Rejection[]): string {
  if (chosen) {
    const out = explain.length ? `, ${explain.length} left out` : '';
    return `${describe(req)} placed on ${chosen.hostId} (weight ${Math.round(chosen.weight * 1000) / 1000}) of ${plural(ranked.length, 'host')} that fit${out}`;
  }
  if (explain.length === 0) return `no host fits ${describe(req)}: there are no hosts`;
  const counts = new Map<FilterName, number>();
  for (const r of explain) counts.set(r.filter, (counts.get(r.filter) ?? 0) + 1);
  const by = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([f, n]) => `${n} by ${f}`);
  return `no host fits ${describe(req)}: of ${plural(explain.length, 'host')}, ${by.join(', ')}`;
}

/**
 * Places a request on the inventory: the chosen host (the preferred one when
 * it passes every filter, else the heaviest, or one of the best
 * `hostSubsetSize` at random), the ranked candidates, the claim to append,
 * and for every host left out the filter and the reason.
 */
export function place(inv: Inventory, request: PlacementRequest, config: SchedulerConfig = {}, opts: PlaceOptions = {}): Placement {
  const req = opts.migrateFrom === undefined ? request : withoutSource(request, opts.migrateFrom);
  const ctx = filterContext(inv, req, config);
  const hosts = opts.hosts ? [...new Set(opts.hosts)].sort().map((h) => inv.hosts.get(h)).filter((h): h is HostInventory => h !== undefined) : inventoryHosts(inv);
  const filters = activeFilters(req, config);
  const passed: HostInventory[] = [];
  const explain: Rejection[] = [];
  for (const h of hosts) {
    const r = filterHost(h, req, ctx, filters);
    if (r) explain.push(r);
    else passed.push(h);
  }
  const ranked = weigh(passed, req, ctx, config.rankLimit ?? Infinity);
  const chosen = choose(ranked, config, opts.random);
  const claim = chosen ? claimFor(req, chosen, opts.migrateFrom) : undefined;
  return Object.freeze({
    ...(chosen ? { chosen } : {}),
    ...(claim ? { claim } : {}),
    ranked: Object.freeze(ranked),
    explain: Object.freeze(explain),
    summary: summarize(req, chosen, ranked, explain),
  });
}

/** A migration never targets the host it leaves. */
function withoutSource(req: PlacementRequest, source: string): PlacementRequest {
  const ex = req.hints.excludeHosts ?? [];
  return ex.includes(source) ? req : { ...req, hints: { ...req.hints, excludeHosts: [...ex, source] } };
}

/**
 * Places requests one after the other, each seeing the claims of those
 * before it (a batch of start jobs): one map copy for the whole batch instead
 * of one per claim. Returns every placement and the inventory with the claims.
 */
export function placeMany(inv: Inventory, requests: Iterable<PlacementRequest>, config: SchedulerConfig = {}, opts: PlaceOptions = {}): { readonly inventory: Inventory; readonly placements: Placement[] } {
  const { inventory, results } = withClaims(inv, requests, (i, req) => place(i, req, config, opts));
  return { inventory, placements: results };
}

/** What placing `req` on `host` takes: DomainPlaced's data, and the NUMA cells. */
export function claimFor(req: PlacementRequest, host: WeighedHost | string, migrateFrom?: string): Claim {
  const hostId = typeof host === 'string' ? host : host.hostId;
  const numa = typeof host === 'string' ? undefined : host.numa;
  return Object.freeze({
    uuid: req.uuid,
    hostId,
    memoryKiB: req.memoryKiB,
    vcpus: req.vcpus,
    ...(numa ? { numa } : {}),
    ...(migrateFrom !== undefined ? { migrateFrom } : {}),
  });
}

/** The explain list as lines, one a host: `node-1: RamFilter: free memory 1.5 GiB < requested 2 GiB (ratio 1.0)`. */
export function formatExplain(p: Placement): string[] {
  return p.explain.map((r) => `${r.hostId}: ${r.filter}: ${r.reason}`);
}
