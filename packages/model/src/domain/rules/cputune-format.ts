/**
 * <cputune> as libvirt writes it back (virDomainCputuneDefFormat,
 * virDomainSchedulerFormat, virDomainCachetuneDefFormat,
 * virDomainMemorytuneDefFormat). libvirt stores pins and schedulers per vCPU
 * and per I/O thread, and cache/bandwidth allocations as resctrl groups
 * limited to the vCPUs that exist; it writes them from there, so:
 *  - <vcpupin>s come in vCPU order, <iothreadpin>s in I/O-thread order;
 *  - each <vcpusched>/<iothreadsched> covers one id, in id order;
 *  - a priority is written only for fifo and rr;
 *  - a <cachetune>/<memorytune> keeps only existing vCPUs (and disappears
 *    when none is left); a <memorytune> of the same vCPUs as a <cachetune>
 *    shares its group; caches are written by level, type and id with the
 *    largest exact binary unit, bandwidth nodes by id, then the monitors.
 *
 * The checks are cputune.ts's (cputuneParse, a domain rule that runs first);
 * this rule only rewrites what they accepted, so it never throws.
 */
import { formatBitmap, parseBitmap } from '../../util/bitmap.ts';
import { unitMultiplier } from '../../util/units.ts';
import type { DomainDraft } from '../types.ts';
import { iothreadIds } from './cputune.ts';
import { parseInt32, parseUInt32 } from './generic-helpers.ts';
import type { ParseRule } from './index.ts';
import { maxVcpus } from './numa.ts';

const CACHE_TYPES = ['both', 'code', 'data'];
const MONITOR_CACHE_LEVEL = '3';

type Cputune = NonNullable<DomainDraft['cputune']>;
interface Sched {
  scheduler?: string;
  priority?: string;
}

function bitmap(text: string | undefined): Set<number> {
  try {
    return text === undefined ? new Set() : parseBitmap(text, '');
  } catch {
    return new Set();
  }
}

/** A scheduler written back: the policy, and a priority only for fifo and rr. */
function schedAttrs(s: Sched): Sched {
  const out: Sched = { scheduler: s.scheduler! };
  if (s.scheduler === 'fifo' || s.scheduler === 'rr') out.priority = String(parseInt32(s.priority) ?? 0);
  return out;
}

/** Pins and schedulers, one element per id in libvirt's order. */
export const cputunePinsAndScheds: ParseRule = (def) => {
  const ct = def.cputune as Cputune | undefined;
  if (!ct) return;
  const max = maxVcpus(def);
  const iothreads = iothreadIds(def);
  if (ct.vcpupins) {
    const pins = new Map<number, string>();
    for (const p of ct.vcpupins) {
      const vcpu = parseUInt32(p.vcpu);
      // A pin of a vCPU the domain does not have is ignored.
      if (vcpu !== undefined && vcpu < max) pins.set(vcpu, formatBitmap(bitmap(p.cpuset)));
    }
    const out = [...pins].sort((a, b) => a[0] - b[0]).map(([vcpu, cpuset]) => ({ vcpu: String(vcpu), cpuset }));
    if (out.length) ct.vcpupins = out;
    else delete ct.vcpupins;
  }
  if (ct.emulatorpin?.cpuset !== undefined) ct.emulatorpin.cpuset = formatBitmap(bitmap(ct.emulatorpin.cpuset));
  if (ct.iothreadpins) {
    const pins = new Map<number, string>();
    for (const p of ct.iothreadpins) {
      const id = parseUInt32(p.iothread);
      if (id !== undefined) pins.set(id, formatBitmap(bitmap(p.cpuset)));
    }
    ct.iothreadpins = iothreads.order(pins.keys()).map((id) => ({ iothread: String(id), cpuset: pins.get(id)! }));
  }
  if (ct.vcpuscheds) {
    const byId = new Map<number, Sched>();
    for (const s of ct.vcpuscheds) for (const id of bitmap(s.vcpus)) byId.set(id, schedAttrs(s));
    ct.vcpuscheds = [...byId].filter(([id]) => id < max).sort((a, b) => a[0] - b[0]).map(([id, s]) => ({ vcpus: String(id), ...s }));
  }
  if (ct.iothreadscheds) {
    const byId = new Map<number, Sched>();
    for (const s of ct.iothreadscheds) for (const id of bitmap(s.iothreads)) byId.set(id, schedAttrs(s));
    ct.iothreadscheds = iothreads.order(byId.keys()).map((id) => ({ iothreads: String(id), ...byId.get(id)! }));
  }
  const es = ct.emulatorsched;
  if (es?.scheduler !== undefined) {
    if (es.scheduler === 'fifo' || es.scheduler === 'rr') es.priority = String(parseInt32(es.priority) ?? 0);
    else delete es.priority;
  }
};

interface Group {
  vcpus: Set<number>;
  caches: Array<{ level: number; type: number; id: number; bytes: bigint }>;
  membw: Map<number, string>;
  cacheMonitors: string[];
  membwMonitors: string[];
}

/** virFormatIntPretty: the largest binary unit that divides the size exactly. */
function prettySize(bytes: bigint): { size: string; unit: string } {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let k = 0;
  let v = bytes;
  while (k < units.length - 1 && v !== 0n && v % 1024n === 0n) {
    v /= 1024n;
    k++;
  }
  return { size: String(v), unit: units[k]! };
}

/** The vCPUs of a resctrl element or monitor, limited to those the domain has, as libvirt formats them. */
function limited(text: string | undefined, max: number): Set<number> {
  return new Set([...bitmap(text)].filter((v) => v < max));
}

const sameSet = (a: Set<number>, b: Set<number>) => a.size === b.size && [...a].every((x) => b.has(x));

/** <cachetune>s and <memorytune>s rebuilt from libvirt's resctrl groups. */
export const cputuneResctrl: ParseRule = (def, ctx) => {
  const ct = def.cputune as Cputune | undefined;
  if (!ct || (!ct.cachetunes && !ct.memorytunes)) return;
  const max = maxVcpus(def);
  const groups: Group[] = [];
  for (const c of ct.cachetunes ?? []) {
    const vcpus = limited(c.vcpus, max);
    if (vcpus.size === 0) continue;
    const caches = (c.caches ?? []).map((cache) => ({
      level: Number(cache.level),
      type: CACHE_TYPES.indexOf(cache.type ?? ''),
      id: Number(cache.id),
      bytes: BigInt((cache.size ?? '0').trim()) * (unitMultiplier(cache.unit || undefined) ?? 1024n),
    }));
    const cacheMonitors = (c.monitors ?? []).map((m) => formatBitmap(limited(m.vcpus, max)));
    if (caches.length === 0 && cacheMonitors.length === 0) continue;
    groups.push({ vcpus, caches, membw: new Map(), cacheMonitors, membwMonitors: [] });
  }
  for (const m of ct.memorytunes ?? []) {
    const vcpus = limited(m.vcpus, max);
    if (vcpus.size === 0) continue;
    const existing = groups.find((g) => sameSet(g.vcpus, vcpus));
    const g: Group = existing ?? { vcpus, caches: [], membw: new Map(), cacheMonitors: [], membwMonitors: [] };
    for (const n of m.nodes ?? []) g.membw.set(Number(n.id), String(Number(n.bandwidth)));
    const monitors = (m.monitors ?? []).map((mon) => formatBitmap(limited(mon.vcpus, max)));
    g.membwMonitors.push(...monitors);
    if (!existing && ((m.nodes ?? []).length > 0 || monitors.length > 0)) groups.push(g);
  }
  const cachetunes: NonNullable<Cputune['cachetunes']> = [];
  const memorytunes: NonNullable<Cputune['memorytunes']> = [];
  for (const g of groups) {
    const vcpus = formatBitmap(g.vcpus);
    // The allocation id is live data, written only for a running domain.
    const id = ctx.inactive ? {} : { id: `vcpus_${vcpus}` };
    const caches = [...g.caches]
      .sort((a, b) => a.level - b.level || a.type - b.type || a.id - b.id)
      .map((c) => ({ id: String(c.id), level: String(c.level), type: CACHE_TYPES[c.type]!, ...prettySize(c.bytes) }));
    const cacheMons = g.cacheMonitors.map((v) => ({ level: MONITOR_CACHE_LEVEL, vcpus: v }));
    if (caches.length || cacheMons.length) cachetunes.push({ vcpus, ...id, ...(caches.length ? { caches } : {}), ...(cacheMons.length ? { monitors: cacheMons } : {}) });
    const nodes = [...g.membw].sort((a, b) => a[0] - b[0]).map(([nid, bandwidth]) => ({ id: String(nid), bandwidth }));
    const bwMons = g.membwMonitors.map((v) => ({ vcpus: v }));
    if (nodes.length || bwMons.length) memorytunes.push({ vcpus, ...id, ...(nodes.length ? { nodes } : {}), ...(bwMons.length ? { monitors: bwMons } : {}) });
  }
  if (cachetunes.length) ct.cachetunes = cachetunes;
  else delete ct.cachetunes;
  if (memorytunes.length) ct.memorytunes = memorytunes;
  else delete ct.memorytunes;
};
