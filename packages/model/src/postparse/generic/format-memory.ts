/**
 * What libvirt's formatter writes for the sizes, guest NUMA topology and
 * memory tuning its parser stored (virDomainMemtuneFormat,
 * virDomainMemoryBackingFormat, virDomainNumaDefFormatXML,
 * virDomainNumatuneFormatXML, virDomainDefFormatFeatures,
 * virDomainShmemDefFormat, the disk's metadata cache): each size in the one
 * unit libvirt writes it in, NUMA cells in id order with their distances
 * made symmetric, node sets in their compact form.
 */
import type { Draft } from 'immer';
import type { DomainDef } from '../../domain/types.ts';
import { toULongLong } from '../../domain/rules/xmlprop.ts';
import { formatBitmap, parseBitmap } from '../../util/bitmap.ts';
import { unitMultiplier } from '../../util/units.ts';
import { domainRule } from '../rules.ts';

type Def = Draft<DomainDef>;

interface Scaled {
  unit?: string;
  text?: string;
}

/** virParseScaledValue: the size in bytes (`scale` bytes per unit when no unit is written); undefined when unreadable. */
export function scaledBytes(value: string | undefined, unit: string | undefined, scale: bigint): bigint | undefined {
  if (value === undefined) return undefined;
  const n = toULongLong(value.trim(), 10);
  const mult = unitMultiplier(unit, scale);
  if (n === undefined || mult === undefined) return undefined;
  return n * mult;
}

const divUp = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** virFormatIntPretty: the largest binary unit that divides the value exactly. */
export function prettySize(bytes: bigint): { text: string; unit: string } {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  if (bytes === 0n || bytes % 1024n) return { text: String(bytes), unit: 'B' };
  let v = bytes;
  for (let i = 1; i < units.length; i++) {
    v /= 1024n;
    if (v % 1024n) return { text: String(v), unit: units[i]! };
  }
  return { text: String(v / 1024n), unit: 'PiB' };
}

function canonBitmap(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    return formatBitmap(parseBitmap(text, ''));
  } catch {
    return text;
  }
}

/** VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, in KiB. */
const UNLIMITED = 9007199254740991n;

export const formatMemoryTuning = domainRule(
  'format-memory-tuning',
  'libvirt writes hugepage sizes in KiB and leaves out memory limits that mean unlimited',
  (def) => {
    const mt = def.memtune as Record<string, Scaled | undefined> | undefined;
    if (mt) {
      for (const k of ['hardLimit', 'softLimit', 'swapHardLimit']) {
        const el = mt[k];
        if (el && BigInt(el.text ?? '0') >= UNLIMITED) delete mt[k];
      }
      if (mt['minGuarantee'] && BigInt(mt['minGuarantee'].text ?? '0') === 0n) delete mt['minGuarantee'];
      if (Object.values(mt).every((v) => v === undefined)) delete def.memtune;
    }
    for (const page of def.memoryBacking?.hugepages?.pages ?? []) {
      const p = page as { size?: string; unit?: string; nodeset?: string };
      const bytes = scaledBytes(p.size, p.unit, 1024n);
      if (bytes !== undefined) {
        p.size = String(divUp(bytes, 1024n));
        p.unit = 'KiB';
      }
      if (p.nodeset !== undefined) p.nodeset = canonBitmap(p.nodeset);
    }
  },
);

/** A disk's (or backing layer's) metadata cache size in bytes; 0 is none. */
function cache(holder: { metadataCache?: { maxSize?: Scaled } } | undefined): void {
  const ms = holder?.metadataCache?.maxSize;
  if (!ms) return;
  const bytes = scaledBytes(ms.text, ms.unit, 1n);
  if (bytes === undefined) return;
  if (bytes === 0n) delete holder!.metadataCache;
  else holder!.metadataCache!.maxSize = { unit: 'bytes', text: String(bytes) };
}

export const formatDeviceSizes = domainRule(
  'format-device-sizes',
  "libvirt writes a PCI root's 64-bit hole in KiB, a disk's metadata cache in bytes and a shared memory device's size in MiB, with its model (ivshmem unless told)",
  (def) => {
    for (const c of def.devices?.controllers ?? []) {
      const hole = c.pcihole64 as Scaled | undefined;
      if (!hole) continue;
      const bytes = scaledBytes(hole.text, hole.unit, 1024n);
      if (bytes !== undefined) c.pcihole64 = { unit: 'KiB', text: String(divUp(bytes, 1024n)) };
    }
    for (const d of def.devices?.disks ?? []) {
      cache(d.driver as { metadataCache?: { maxSize?: Scaled } } | undefined);
      let bs = d.backingStore as { format?: { metadataCache?: { maxSize?: Scaled } }; backingStore?: unknown } | undefined;
      while (bs) {
        cache(bs.format);
        bs = bs.backingStore as typeof bs;
      }
    }
    for (const s of def.devices?.shmems ?? []) {
      const sh = s as { model?: { type?: string }; size?: Scaled };
      sh.model = { ...sh.model, type: sh.model?.type ?? 'ivshmem' };
      if (sh.size) {
        const bytes = scaledBytes(sh.size.text, sh.size.unit, 1n);
        if (bytes === 0n) delete sh.size;
        else if (bytes !== undefined) sh.size = { unit: 'M', text: String(bytes >> 20n) };
      }
    }
  },
);

export const formatFeatures = domainRule(
  'format-features',
  "a feature switched on by its mere presence is written state='on'; <hyperv> is in custom mode unless told; SMM's TSEG and HPT's page size are written in libvirt's units",
  (def) => {
    const f = def.features as Record<string, Record<string, unknown> | undefined> | undefined;
    if (!f) return;
    for (const k of ['vmcoreinfo', 'hap', 'pmu', 'pvspinlock', 'vmport']) {
      const el = f[k];
      if (el) el['state'] ??= 'on';
    }
    const hyperv = f['hyperv'];
    if (hyperv) hyperv['mode'] ??= 'custom';
    const smm = f['smm'];
    if (smm) {
      smm['state'] ??= 'on';
      const tseg = smm['tseg'] as Scaled | undefined;
      if (tseg) {
        const bytes = smm['state'] === 'on' ? scaledBytes(tseg.text, tseg.unit, 1024n * 1024n) : undefined;
        if (bytes === undefined) delete smm['tseg'];
        else {
          const p = prettySize(bytes);
          smm['tseg'] = { unit: p.unit, text: p.text };
        }
      }
    }
    const hpt = f['hpt'];
    if (hpt) {
      const mps = hpt['maxpagesize'] as Scaled | undefined;
      if (mps) {
        const kib = divUp(scaledBytes(mps.text, mps.unit, 1024n) ?? 0n, 1024n);
        if (kib > 0n) hpt['maxpagesize'] = { unit: 'KiB', text: String(kib) };
        else delete hpt['maxpagesize'];
      }
    }
  },
);

type Cell = NonNullable<NonNullable<NonNullable<Def['cpu']>['numa']>['cells']>[number];

export const formatNuma = domainRule(
  'format-numa',
  'guest NUMA cells are written in id order with their size in KiB; a distance given one way holds the other way too, and a cell is at distance 10 from itself',
  (def) => {
    const numa = def.cpu?.numa;
    const cells = numa?.cells;
    if (!numa || !cells?.length) return;
    const n = cells.length;
    // virDomainNumaDefParseXML: cells take their id, or their position.
    const byId: Array<Cell | undefined> = new Array(n);
    cells.forEach((c, i) => {
      const id = c.id !== undefined ? Number(c.id) : i;
      if (Number.isInteger(id) && id >= 0 && id < n) byId[id] = c;
    });
    if (byId.some((c) => c === undefined)) return;
    // virDomainNumaDefNodeDistanceParseXML, in the order the cells were read.
    const dist: Array<number[] | undefined> = new Array(n);
    cells.forEach((c, i) => {
      const cur = c.id !== undefined ? Number(c.id) : i;
      for (const s of c.distances?.siblings ?? []) {
        const sid = Number(s.id);
        const value = Number(s.value);
        if (!(sid >= 0 && sid < n)) continue;
        const l = (dist[cur] ??= Object.assign(new Array<number>(n).fill(0), { [cur]: 10 }));
        l[sid] = value;
        const r = (dist[sid] ??= Object.assign(new Array<number>(n).fill(0), { [sid]: 10 }));
        if (!r[cur]) r[cur] = value;
      }
    });
    numa.cells = byId.map((c, id) => {
      const cell = c!;
      cell.id = String(id);
      if (cell.cpus !== undefined) {
        const cpus = canonBitmap(cell.cpus);
        if (cpus === '') delete cell.cpus;
        else cell.cpus = cpus;
      }
      const bytes = scaledBytes(cell.memory, cell.unit, 1024n);
      if (bytes !== undefined) {
        cell.memory = String(divUp(bytes, 1024n));
        cell.unit = 'KiB';
      }
      const d = dist[id];
      if (d) cell.distances = { siblings: d.flatMap((value, sid) => (value ? [{ id: String(sid), value: String(value) }] : [])) };
      else delete cell.distances;
      return cell;
    });
  },
);

export const formatNumatune = domainRule(
  'format-numatune',
  "numatune's memory mode is strict unless told, and its placement static with a node set, else automatic when the vCPUs are placed automatically (virDomainNumatuneSet); per-cell bindings are written in cell order; automatic memory placement places the vCPUs automatically too unless they are pinned",
  (def) => {
    const placementStatic = (def.vcpu?.placement ?? 'static') === 'static';
    const nt = def.numatune;
    const mem = nt?.memory as { mode?: string; placement?: string; nodeset?: string } | undefined;
    let placement = mem ? mem.placement : placementStatic ? undefined : 'auto';
    const nodeset = mem?.nodeset;
    if (mem?.mode !== undefined || placement !== undefined || nodeset !== undefined) {
      placement ??= 'default';
      if (placement === 'default') placement = nodeset !== undefined || placementStatic ? 'static' : 'auto';
      const memory = { mode: mem?.mode ?? 'strict', ...(placement === 'static' ? { nodeset: canonBitmap(nodeset) } : { placement }) };
      const t = (def.numatune ??= {});
      t.memory = memory;
    } else if (nt && mem) delete nt.memory;
    const nodes = def.numatune?.memnodes;
    if (nodes?.length) {
      for (const m of nodes) {
        m.mode ??= 'strict';
        m.nodeset = canonBitmap(m.nodeset);
      }
      nodes.sort((a, b) => Number(a.cellid) - Number(b.cellid));
      for (const m of nodes) m.cellid = String(Number(m.cellid));
    }
    if (def.numatune && def.numatune.memory === undefined && !def.numatune.memnodes?.length) delete def.numatune;
    // virDomainDefParseXML: automatic memory placement makes the vCPU placement automatic unless something is pinned.
    const ct = def.cputune as { vcpupins?: unknown[]; emulatorpin?: unknown; iothreadpins?: unknown[] } | undefined;
    if (
      def.numatune?.memory?.placement === 'auto' &&
      def.vcpu &&
      def.vcpu.cpuset === undefined &&
      !ct?.vcpupins?.length &&
      ct?.emulatorpin === undefined &&
      !ct?.iothreadpins?.length
    ) {
      def.vcpu.placement = 'auto';
    }
  },
);
