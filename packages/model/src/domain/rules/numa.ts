/**
 * Guest NUMA as libvirt's parser reads it: the cells of <cpu><numa>
 * (virDomainNumaDefParseXML, src/conf/numa_conf.c) with their cross-checks
 * against <vcpu>, and <numatune> (virDomainNumatuneParseXML,
 * virDomainNumatuneSet, virDomainNumatuneNodeParseXML).
 */
import { VirtError } from '../../errors.ts';
import { parseBitmap } from '../../util/bitmap.ts';
import { parseScaledKiB } from '../../util/units.ts';
import type { DomainDraft } from '../types.ts';
import type { ParseRule } from './index.ts';
import { extraChildren, propEnum, propUInt, propYesNo } from './xmlprop.ts';

const NUMATUNE_MODES = ['strict', 'preferred', 'interleave', 'restrictive'];
const NUMATUNE_PLACEMENTS = ['default', 'static', 'auto'];

type Cell = NonNullable<NonNullable<NonNullable<DomainDraft['cpu']>['numa']>['cells']>[number];

/** The guest NUMA cells, each with its id as libvirt resolves it. */
export function numaCells(def: DomainDraft): Cell[] {
  return def.cpu?.numa?.cells ?? [];
}

/** The maximum vCPU count (<vcpu>, default 1). */
export function maxVcpus(def: DomainDraft): number {
  const n = Number(def.vcpu?.text ?? '1');
  return Number.isFinite(n) ? n : 1;
}

/** A cell's memory in KiB (virDomainParseMemory on `memory`/`unit`); required. */
export function cellMemoryKiB(cell: Cell, path: string): number {
  if (cell.memory === undefined || cell.memory === '') throw new VirtError('XML_ERROR', "missing element or attribute './@memory'", `${path}/@memory`);
  return parseScaledKiB({ value: cell.memory, unit: cell.unit, path: `${path}/@memory`, xpath: './@memory' });
}

/** virDomainNumaDefParseXML, then the cell cpus against the vCPU count. */
export const numaCellsParse: ParseRule = (def) => {
  const numa = def.cpu?.numa;
  if (!numa) return;
  const cells = numa.cells ?? [];
  if (cells.length === 0) throw new VirtError('XML_ERROR', 'NUMA topology defined without NUMA cells', '/domain/cpu/numa');
  const n = cells.length;
  const masks: Array<Set<number> | undefined> = new Array(n);
  const mem: number[] = new Array(n).fill(0);
  cells.forEach((cell, i) => {
    const at = `/domain/cpu/numa/cell[${i + 1}]`;
    const id = propUInt(cell.id, 'id', 'cell', at) ?? i;
    if (id >= n) {
      throw new VirtError(
        'XML_ERROR',
        "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not starting from 0 are not allowed",
        cell.id !== undefined ? `${at}/@id` : at,
      );
    }
    if (mem[id]) throw new VirtError('XML_ERROR', `Duplicate NUMA cell info for cell id '${id}'`, `${at}/@id`);
    if (cell.cpus !== undefined) {
      const set = parseBitmap(cell.cpus, `${at}/@cpus`);
      if (set.size > 0) masks[id] = set;
    }
    const mine = masks[id];
    for (let j = 0; j < n && mine; j++) {
      const other = masks[j];
      if (j === id || !other) continue;
      if ([...mine].some((c) => other.has(c))) throw new VirtError('CONFIG_UNSUPPORTED', `NUMA cells ${id} and ${j} have overlapping vCPU ids`, `${at}/@cpus`);
    }
    mem[id] = cellMemoryKiB(cell, at);
    propEnum(cell.memAccess, 'memAccess', 'cell', at, ['default', 'shared', 'private'], { nonzero: true });
    propYesNo(cell.discard, 'discard', 'cell', at);
  });
  const max = maxVcpus(def);
  const all = masks.flatMap((m) => (m ? [...m] : []));
  if (all.length > max) throw new VirtError('INTERNAL_ERROR', 'Number of CPUs in <numa> exceeds the <vcpu> count', '/domain/cpu/numa');
  if (all.length && Math.max(...all) >= max) throw new VirtError('INTERNAL_ERROR', 'CPU IDs in <numa> exceed the <vcpu> count', '/domain/cpu/numa');
};

function nodeset(text: string, path: string): Set<number> {
  const set = parseBitmap(text, path);
  if (set.size === 0) throw new VirtError('CONFIG_UNSUPPORTED', `Invalid value of 'nodeset': ${text}`, path);
  return set;
}

/**
 * virDomainNumatuneParseXML. A memory placement that resolves to `auto`
 * drops any nodeset (libvirt silently discards it), so it is not written back.
 */
export const numatuneParse: ParseRule = (def) => {
  if (extraChildren(def, 'numatune') > 0) throw new VirtError('XML_ERROR', 'only one numatune is supported', '/domain/numatune[2]');
  const nt = def.numatune;
  const mem = nt?.memory;
  const at = '/domain/numatune/memory';
  const placementStatic = (def.vcpu?.placement ?? 'static') === 'static';
  let mode: string | undefined;
  let placement: string | undefined;
  let set: Set<number> | undefined;
  if (mem) {
    mode = mem.mode;
    if (mode !== undefined && !NUMATUNE_MODES.includes(mode)) throw new VirtError('CONFIG_UNSUPPORTED', `Unsupported NUMA memory tuning mode '${mode}'`, `${at}/@mode`);
    placement = mem.placement;
    if (placement !== undefined && !NUMATUNE_PLACEMENTS.includes(placement)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `Unsupported NUMA memory placement mode '${placement}'`, `${at}/@placement`);
    }
    if (mem.nodeset !== undefined) set = nodeset(mem.nodeset, `${at}/@nodeset`);
  } else if (!placementStatic) placement = 'auto';
  let resolved: string | undefined;
  if (mode !== undefined || placement !== undefined || set) {
    resolved = placement ?? 'default';
    if (resolved === 'default') resolved = set || placementStatic ? 'static' : 'auto';
    if (resolved === 'static' && !set) {
      throw new VirtError('CONFIG_UNSUPPORTED', "nodeset for NUMA memory tuning must be set if 'placement' is 'static'", mem ? at : '/domain/numatune');
    }
    if (resolved === 'auto' && mem?.nodeset !== undefined) delete mem.nodeset;
  }
  const memnodes = nt?.memnodes ?? [];
  if (memnodes.length === 0) return;
  if (resolved === 'auto') throw new VirtError('CONFIG_UNSUPPORTED', 'Per-node binding is not compatible with automatic NUMA placement.', '/domain/numatune/memnode[1]');
  const ncells = numaCells(def).length;
  if (ncells === 0) throw new VirtError('XML_ERROR', "Element 'memnode' is invalid without any guest NUMA cells", '/domain/numatune/memnode[1]');
  const seen = new Set<number>();
  memnodes.forEach((mn, i) => {
    const mp = `/domain/numatune/memnode[${i + 1}]`;
    const cellid = propUInt(mn.cellid, 'cellid', 'memnode', mp, { required: true })!;
    if (cellid >= ncells) throw new VirtError('XML_ERROR', "Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell", `${mp}/@cellid`);
    if (seen.has(cellid)) throw new VirtError('XML_ERROR', `Multiple memnode elements with cellid ${cellid}`, `${mp}/@cellid`);
    const m = propEnum(mn.mode, 'mode', 'memnode', mp, NUMATUNE_MODES) ?? 'strict';
    if (mode === 'restrictive' && m !== 'restrictive') {
      throw new VirtError('XML_ERROR', "'restrictive' mode is required in memnode element when mode is 'restrictive' in memory element", `${mp}/@mode`);
    }
    if (mn.nodeset === undefined) throw new VirtError('XML_ERROR', 'Missing required nodeset attribute in memnode element', mp);
    nodeset(mn.nodeset, `${mp}/@nodeset`);
    seen.add(cellid);
  });
};
