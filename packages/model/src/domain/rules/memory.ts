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

/** KiB per unit for the usual binary spellings (parseScaledKiB reads any). */
const KIB_PER_UNIT = new Map<string | undefined, number>([[undefined, 1], ['', 1], ['KiB', 1], ['k', 1], ['K', 1], ['MiB', 1024], ['M', 1024], ['m', 1024], ['GiB', 1024 * 1024], ['G', 1024 * 1024], ['g', 1024 * 1024]]);
/** Below 2^50 KiB (2^60 bytes) no limit parseScaledKiB checks is reached. */
const SIMPLE_KIB = 2 ** 50;
const SIMPLE_BYTES = 2n ** 60n;

/**
 * parseScaledKiB's value for plain digits in a binary unit, without its
 * BigInt arithmetic (exact here: whole KiB, far below 2^53); -1 where
 * parseScaledKiB must read it (and say what is wrong).
 */
function simpleKiB(text: string | undefined, unit: string | undefined): number {
  if (text === undefined || text.length === 0 || text.length > 12) return -1;
  const per = KIB_PER_UNIT.get(unit);
  if (per === undefined) return -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  const kib = Number(text) * per;
  return kib < SIMPLE_KIB ? kib : -1;
}

/** Normalises a `<x unit='..'>N</x>` element in place; returns its KiB value. */
export function normaliseScaledElement(el: Scaled, path: string, xpath: string, byteLimit?: bigint): number {
  const simple = simpleKiB(el.text, el.unit);
  const kib = simple >= 0 && (byteLimit === undefined || byteLimit >= SIMPLE_BYTES) ? simple : parseScaledKiB({ value: el.text ?? '', unit: el.unit, path, xpath, ...(byteLimit !== undefined ? { byteLimit } : {}) });
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
