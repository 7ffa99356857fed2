/**
 * <iothreads>/<iothreadids> and <cputune> as virDomainDefTunablesParse reads
 * them (src/conf/domain_conf.c): which iothreads exist, pins and schedulers
 * of vCPUs and iothreads, and the resctrl groups of <cachetune> and
 * <memorytune> (virDomainCachetuneDefParse, virDomainMemorytuneDefParse and
 * the allocation checks of src/util/virresctrl.c).
 */
import { VirtError } from '../../errors.ts';
import { parseBitmap } from '../../util/bitmap.ts';
import type { DomainDraft } from '../types.ts';
import type { ParseRule } from './index.ts';
import { maxVcpus } from './numa.ts';
import { attrPath, extraChildren, propEnum, propInt, propUInt, toUInt } from './xmlprop.ts';
import { unitMultiplier } from '../../util/units.ts';
import { IothreadIds } from '../../util/iothread-ids.ts';

const SCHED_POLICIES = ['none', 'batch', 'idle', 'fifo', 'rr'];

/** The iothread ids a domain has: those listed, then the lowest free ids up to <iothreads> (checked as libvirt reads them). */
export function iothreadIds(def: DomainDraft): IothreadIds {
  const ids = new Set<number>();
  const listed = def.iothreadids?.iothreads ?? [];
  listed.forEach((t, i) => {
    const at = `/domain/iothreadids/iothread[${i + 1}]`;
    const id = propUInt(t.id, 'id', 'iothread', at, { required: true, nonzero: true })!;
    propInt(t.threadPoolMin, 'thread_pool_min', 'iothread', at, { nonnegative: true });
    propInt(t.threadPoolMax, 'thread_pool_max', 'iothread', at, { nonnegative: true });
    if (ids.has(id)) throw new VirtError('XML_ERROR', `duplicate iothread id '${id}' found`, `${at}/@id`);
    ids.add(id);
  });
  let count = 0;
  // An empty <iothreads/> reads as absent (virXPathString gives NULL for '').
  if (def.iothreads !== undefined && def.iothreads !== '') {
    const n = toUInt(def.iothreads, 10);
    if (n === undefined) throw new VirtError('XML_ERROR', `invalid iothreads count '${def.iothreads}'`, '/domain/iothreads');
    count = n;
  }
  return new IothreadIds([...ids], count);
}

function cpuset(text: string | undefined, what: string, at: string): Set<number> {
  if (text === undefined) throw new VirtError('INTERNAL_ERROR', `missing cpuset for ${what}`, at);
  const set = parseBitmap(text, attrPath(at, 'cpuset'));
  if (set.size === 0) throw new VirtError('CONFIG_UNSUPPORTED', `Invalid value of 'cpuset': ${text}`, attrPath(at, 'cpuset'));
  return set;
}

/** virDomainSchedulerParse + virDomainThreadSchedParseHelper for one <vcpusched>/<iothreadsched>. */
function sched(
  el: { scheduler?: string; priority?: string } & Record<string, unknown>,
  elem: 'vcpusched' | 'iothreadsched',
  attr: 'vcpus' | 'iothreads',
  at: string,
  exists: (id: number) => void,
  taken: Set<number>,
): void {
  const text = el[attr] as string | undefined;
  if (text === undefined) throw new VirtError('XML_ERROR', `Missing attribute '${attr}' in element '${elem}'`, attrPath(at, attr));
  const set = parseBitmap(text, attrPath(at, attr));
  if (set.size === 0) throw new VirtError('CONFIG_UNSUPPORTED', `'${attr}' scheduler bitmap '${text}' is empty`, attrPath(at, attr));
  const policy = propEnum(el.scheduler, 'scheduler', elem, at, SCHED_POLICIES, { required: true, nonzero: true });
  if (policy === 'fifo' || policy === 'rr') propInt(el.priority, 'priority', elem, at, { required: true });
  for (const id of [...set].sort((a, b) => a - b)) {
    exists(id);
    if (taken.has(id)) throw new VirtError('XML_DETAIL', `'${elem}' attributes '${attr}' must not overlap`, attrPath(at, attr));
    taken.add(id);
  }
}

/** <iothreads>, <iothreadids> and the pins and schedulers of <cputune>. */
export const cputuneParse: ParseRule = (def) => {
  const iothreads = iothreadIds(def);
  const ct = def.cputune;
  if (!ct) return;
  const max = maxVcpus(def);
  const pinned = new Set<number>();
  (ct.vcpupins ?? []).forEach((p, i) => {
    const at = `/domain/cputune/vcpupin[${i + 1}]`;
    const vcpu = propUInt(p.vcpu, 'vcpu', 'vcpupin', at, { required: true })!;
    // libvirt ignores a pin of a vCPU the domain does not have.
    if (vcpu >= max) return;
    if (p.cpuset === undefined) throw new VirtError('INTERNAL_ERROR', 'missing cpuset for vcpupin', at);
    if (pinned.has(vcpu)) throw new VirtError('INTERNAL_ERROR', `duplicate vcpupin for vcpu '${vcpu}'`, at);
    cpuset(p.cpuset, 'vcpupin', at);
    pinned.add(vcpu);
  });
  if (extraChildren(ct, 'emulatorpin') > 0) throw new VirtError('XML_ERROR', 'only one emulatorpin is supported', '/domain/cputune/emulatorpin[2]');
  if (ct.emulatorpin) cpuset(ct.emulatorpin.cpuset, 'emulatorpin', '/domain/cputune/emulatorpin');
  const iopinned = new Set<number>();
  (ct.iothreadpins ?? []).forEach((p, i) => {
    const at = `/domain/cputune/iothreadpin[${i + 1}]`;
    const id = propUInt(p.iothread, 'iothread', 'iothreadpin', at, { required: true, nonzero: true })!;
    if (!iothreads.has(id)) throw missingIothreadError(id, attrPath(at, 'iothread'));
    cpuset(p.cpuset, 'iothreadpin', at);
    if (iopinned.has(id)) throw new VirtError('INTERNAL_ERROR', `duplicate iothreadpin for same iothread '${id}'`, at);
    iopinned.add(id);
  });
  const vcpuTaken = new Set<number>();
  (ct.vcpuscheds ?? []).forEach((s, i) => {
    const at = `/domain/cputune/vcpusched[${i + 1}]`;
    sched(s, 'vcpusched', 'vcpus', at, (id) => {
      if (id >= max) throw new VirtError('CONFIG_UNSUPPORTED', `vCPU '${id}' is not present in domain definition`, attrPath(at, 'vcpus'));
    }, vcpuTaken);
  });
  const ioTaken = new Set<number>();
  (ct.iothreadscheds ?? []).forEach((s, i) => {
    const at = `/domain/cputune/iothreadsched[${i + 1}]`;
    sched(s, 'iothreadsched', 'iothreads', at, (id) => {
      if (!iothreads.has(id)) throw missingIothreadError(id, attrPath(at, 'iothreads'));
    }, ioTaken);
  });
  if (extraChildren(ct, 'emulatorsched') > 0) throw new VirtError('XML_ERROR', 'only one emulatorsched is supported', '/domain/cputune/emulatorsched[2]');
  if (ct.emulatorsched) {
    const at = '/domain/cputune/emulatorsched';
    const policy = propEnum(ct.emulatorsched.scheduler, 'scheduler', 'emulatorsched', at, SCHED_POLICIES, { required: true, nonzero: true });
    if (policy === 'fifo' || policy === 'rr') propInt(ct.emulatorsched.priority, 'priority', 'emulatorsched', at, { required: true });
  }
  resctrlParse(def, max);
};

// ------------------------------------------------------------------ resctrl

interface Monitor {
  vcpus: Set<number>;
  tag: 'cache' | 'membw';
}
interface Resctrl {
  vcpus: Set<number>;
  /** Cache allocations, keyed `level/type/id`. */
  caches: Set<string>;
  /** Memory bandwidth allocations, by node id. */
  membw: Set<number>;
  monitors: Monitor[];
}

const equal = (a: Set<number>, b: Set<number>) => a.size === b.size && [...a].every((x) => b.has(x));
const overlaps = (a: Set<number>, b: Set<number>) => [...a].some((x) => b.has(x));

/** virDomainResctrlParseVcpus: the vcpus bitmap, limited to the vCPUs the domain has. */
function resctrlVcpus(text: string | undefined, elem: string, at: string, max: number): Set<number> {
  if (text === undefined) throw new VirtError('XML_ERROR', `Missing ${elem} attribute 'vcpus'`, attrPath(at, 'vcpus'));
  let set: Set<number>;
  try {
    set = parseBitmap(text, attrPath(at, 'vcpus'));
  } catch {
    throw new VirtError('XML_ERROR', `Invalid ${elem} attribute 'vcpus' value '${text}'`, attrPath(at, 'vcpus'));
  }
  return new Set([...set].filter((v) => v < max));
}

function missingIothreadError(id: number, at: string): VirtError {
  return new VirtError('CONFIG_UNSUPPORTED', `Cannot find 'iothread' : ${id}`, at);
}

/** virDomainResctrlVcpuMatch: the group with the same vCPUs, or an error if they only overlap. */
function matchGroup(groups: Resctrl[], vcpus: Set<number>, at: string): Resctrl | undefined {
  for (const g of groups) {
    if (equal(g.vcpus, vcpus)) return g;
    if (overlaps(g.vcpus, vcpus)) throw new VirtError('XML_ERROR', 'Overlapping vcpus in resctrls', attrPath(at, 'vcpus'));
  }
  return undefined;
}

/** virResctrlAllocCheckCollision: a `both` allocation excludes code and data on the same cache, and vice versa. */
function cacheCollides(g: Resctrl, level: number, type: string, id: number): boolean {
  if (g.caches.has(`${level}/both/${id}`)) return true;
  return type === 'both' ? g.caches.has(`${level}/code/${id}`) || g.caches.has(`${level}/data/${id}`) : g.caches.has(`${level}/${type}/${id}`);
}

/** virDomainResctrlMonDefParse with virDomainResctrlValidateMonitor. */
function parseMonitors(monitors: Array<{ level?: string; vcpus?: string }>, tag: Monitor['tag'], g: Resctrl, at: string, max: number): number {
  const emptyAlloc = g.caches.size === 0 && g.membw.size === 0;
  monitors.forEach((m, i) => {
    const mp = `${at}/monitor[${i + 1}]`;
    if (tag === 'cache') {
      const level = propUInt(m.level, 'level', 'monitor', mp, { required: true })!;
      if (level !== 3) throw new VirtError('XML_ERROR', `Invalid monitor cache level '${level}'`, attrPath(mp, 'level'));
    }
    const vcpus = resctrlVcpus(m.vcpus, 'monitor', mp, max);
    const where = attrPath(mp, 'vcpus');
    if (vcpus.size === 0) throw new VirtError('INVALID_ARG', 'vcpus is empty', where);
    if ([...vcpus].some((v) => !g.vcpus.has(v))) throw new VirtError('INVALID_ARG', 'Monitor vcpus conflicts with allocation', where);
    const sameAsGroup = equal(vcpus, g.vcpus);
    let overlapAny = false;
    let overlapNoGroup = false;
    for (const other of g.monitors) {
      if (equal(vcpus, other.vcpus)) {
        if (other.tag !== tag) continue;
        throw new VirtError('INVALID_ARG', 'Identical vcpus found in same type monitors', where);
      }
      if (overlaps(vcpus, other.vcpus)) overlapAny = true;
      if (sameAsGroup || equal(other.vcpus, g.vcpus)) continue;
      if (overlaps(vcpus, other.vcpus)) overlapNoGroup = true;
    }
    if (overlapNoGroup || (emptyAlloc && overlapAny)) throw new VirtError('INVALID_ARG', 'vcpus overlaps in resctrl groups', where);
    g.monitors.push({ vcpus, tag });
  });
  return monitors.length;
}

const ULLONG_MAX = 18446744073709551615n;

/** virParseScaledValue('./@size', './@unit', 1024 bytes a unit, up to ULLONG_MAX, required), in libvirt's words. */
function cacheSize(size: string | undefined, unit: string | undefined, at: string): bigint {
  const sp = attrPath(at, 'size');
  if (size === undefined || size === '') throw new VirtError('XML_ERROR', "missing element or attribute './@size'", sp);
  const digits = /^\s*\+?([0-9]+)$/.exec(size)?.[1];
  if (digits === undefined || BigInt(digits) > ULLONG_MAX) throw new VirtError('XML_ERROR', `Invalid value '${size}' for element or attribute './@size'`, sp);
  const mult = unitMultiplier(unit || undefined, 1024n);
  if (mult === undefined) throw new VirtError('INVALID_ARG', `unknown suffix '${unit}'`, attrPath(at, 'unit'));
  const n = BigInt(digits);
  if (n > ULLONG_MAX / mult) throw new VirtError('OVERFLOW', `value too large: ${n}${unit ?? ''}`, sp);
  return n * mult;
}

function resctrlParse(def: DomainDraft, max: number): void {
  const ct = def.cputune!;
  const groups: Resctrl[] = [];
  (ct.cachetunes ?? []).forEach((c, i) => {
    const at = `/domain/cputune/cachetune[${i + 1}]`;
    const vcpus = resctrlVcpus(c.vcpus, 'cachetune', at, max);
    if (vcpus.size === 0) return;
    if (matchGroup(groups, vcpus, at)) throw new VirtError('XML_ERROR', 'Identical vcpus in cachetunes found', attrPath(at, 'vcpus'));
    const g: Resctrl = { vcpus, caches: new Set(), membw: new Set(), monitors: [] };
    (c.caches ?? []).forEach((cache, j) => {
      const cp = `${at}/cache[${j + 1}]`;
      const id = propUInt(cache.id, 'id', 'cache', cp, { required: true })!;
      const level = propUInt(cache.level, 'level', 'cache', cp, { required: true })!;
      const type = propEnum(cache.type, 'type', 'cache', cp, ['both', 'code', 'data'], { required: true })!;
      cacheSize(cache.size, cache.unit, cp);
      if (cacheCollides(g, level, type, id)) {
        throw new VirtError('XML_ERROR', `Colliding cache allocations for cache level '${level}' id '${id}', type '${type}'`, cp);
      }
      g.caches.add(`${level}/${type}/${id}`);
    });
    const nmon = parseMonitors(c.monitors ?? [], 'cache', g, at, max);
    if (nmon || g.caches.size) groups.push(g);
  });
  (ct.memorytunes ?? []).forEach((m, i) => {
    const at = `/domain/cputune/memorytune[${i + 1}]`;
    const vcpus = resctrlVcpus(m.vcpus, 'memorytune', at, max);
    if (vcpus.size === 0) return;
    const found = matchGroup(groups, vcpus, at);
    const g: Resctrl = found ?? { vcpus, caches: new Set(), membw: new Set(), monitors: [] };
    const nodes = m.nodes ?? [];
    nodes.forEach((node, j) => {
      const np = `${at}/node[${j + 1}]`;
      const id = propUInt(node.id, 'id', 'node', np, { required: true })!;
      const bw = propUInt(node.bandwidth, 'bandwidth', 'node', np, { required: true })!;
      if (bw > 100) throw new VirtError('XML_ERROR', 'Memory Bandwidth value exceeding 100 is invalid.', attrPath(np, 'bandwidth'));
      if (g.membw.has(id)) throw new VirtError('XML_ERROR', `Memory Bandwidth already defined for node ${id}`, np);
      g.membw.add(id);
    });
    const nmon = parseMonitors(m.monitors ?? [], 'membw', g, at, max);
    if (!found && (nmon || nodes.length)) groups.push(g);
  });
}
