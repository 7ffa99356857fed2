/**
 * Memory sizes, scaled to KiB and written back with unit='KiB' as libvirt does
 * (virDomainDefParseMemory, memtune, NUMA cells, hugepages), and
 * currentMemory's default and ceiling.
 */
import { VirtError } from '../../errors.ts';
import { parseScaledKiB } from '../../util/units.ts';
import type { ParseRule } from './index.ts';

interface Scaled {
  unit?: string;
  text?: string;
}

/** Normalises a `<x unit='..'>N</x>` element in place; returns its KiB value. */
export function normaliseScaledElement(el: Scaled, path: string, xpath: string, byteLimit?: bigint): number {
  const kib = parseScaledKiB({ value: el.text ?? '', unit: el.unit, path, xpath, ...(byteLimit !== undefined ? { byteLimit } : {}) });
  el.unit = 'KiB';
  el.text = String(kib);
  return kib;
}

const MEMTUNE_LIMIT = 9007199254740991n * 1024n;

export const memorySizes: ParseRule = (def) => {
  for (const key of ['maxMemory', 'memory', 'currentMemory'] as const) {
    const el = def[key];
    if (!el) continue;
    if ((el.text ?? '').trim() === '') {
      delete def[key];
      continue;
    }
    normaliseScaledElement(el, `/domain/${key}`, `./${key}[1]`);
  }
  if (def.maxMemory?.slots !== undefined && !/^\s*\+?\d+$/.test(def.maxMemory.slots)) {
    throw new VirtError('XML_ERROR', 'Failed to parse memory slot count', '/domain/maxMemory/@slots');
  }
  const memtune = def.memtune as Record<string, Scaled | undefined> | undefined;
  if (memtune) {
    for (const key of ['hard_limit', 'soft_limit', 'swap_hard_limit', 'min_guarantee']) {
      const camelKey = key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
      const el = memtune[camelKey];
      if (el) normaliseScaledElement(el, `/domain/memtune/${key}`, `./memtune/${key}[1]`, key === 'min_guarantee' ? undefined : MEMTUNE_LIMIT);
    }
  }
};

/** currentMemory defaults to memory and never exceeds it. */
export const currentMemory: ParseRule = (def) => {
  const mem = def.memory;
  if (!mem) return;
  const cur = def.currentMemory;
  if (!cur || Number(cur.text) > Number(mem.text) || Number(cur.text) === 0) {
    def.currentMemory = { ...(cur ?? {}), unit: 'KiB', text: mem.text ?? '0' };
  }
};
