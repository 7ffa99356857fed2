/**
 * Delta debugging after fast-check's shrink: fast-check shrinks the recipe
 * (fewer mutations, the smallest seed), but a seed from libvirt's corpus is
 * still a whole document. This removes elements, attributes and text (or,
 * for input that is not XML, chunks of bytes) for as long as the failure
 * keeps its signature, so a reproducer is a few lines.
 */
import { isVirtError, readXml } from '@virtflow/model';
import type { FuzzInput } from './mutators.ts';
import { type FEl, clone, elements, fromXml, write } from './tree.ts';

const enc = new TextEncoder();

function asText(data: string | Uint8Array): string | undefined {
  if (typeof data === 'string') return data;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    return undefined;
  }
}

export function minimize(input: FuzzInput, stillFails: (i: FuzzInput) => boolean, budgetMs = 30_000): FuzzInput {
  const deadline = performance.now() + budgetMs;
  const byTree = minimizeTree(input, stillFails, deadline);
  return minimizeBytes(byTree ?? input, stillFails, deadline);
}

/** Element by element, attribute by attribute; undefined when the input is not a tree that keeps failing when rewritten. */
function minimizeTree(input: FuzzInput, stillFails: (i: FuzzInput) => boolean, deadline: number): FuzzInput | undefined {
  const text = asText(input.data);
  if (text === undefined) return undefined;
  let root: FEl;
  try {
    root = fromXml(readXml(text, { maxBytes: 64 << 20, maxDepth: 1 << 20 }));
  } catch (e) {
    if (isVirtError(e)) return undefined;
    return undefined; // a crash in the reader itself: only bytes can be cut
  }
  const asInput = (r: FEl): FuzzInput => ({ ...input, data: typeof input.data === 'string' ? write(r) : enc.encode(write(r)) });
  if (!stillFails(asInput(root))) return undefined;

  /** Tries each edit on a copy; keeps the first that still fails. */
  const attempt = (edit: (r: FEl) => boolean): boolean => {
    const copy = clone(root);
    if (!edit(copy)) return false;
    if (!stillFails(asInput(copy))) return false;
    root = copy;
    return true;
  };

  for (let changed = true; changed && performance.now() < deadline; ) {
    changed = false;
    const count = elements(root).length;
    for (let i = count - 1; i >= 1 && performance.now() < deadline; i--) {
      if (attempt((r) => {
        const t = elements(r)[i];
        if (!t) return false;
        t.parent!.children.splice(t.at, 1);
        return true;
      })) changed = true;
    }
    for (let i = elements(root).length - 1; i >= 0 && performance.now() < deadline; i--) {
      const n = elements(root)[i]?.el.attrs.length ?? 0;
      for (let k = n - 1; k >= 0; k--) if (attempt((r) => (elements(r)[i]!.el.attrs.splice(k, 1), true))) changed = true;
      // Long text and values: try halving them.
      if (attempt((r) => {
        const el = elements(r)[i]!.el;
        let cut = false;
        el.children = el.children.map((c) => (typeof c === 'string' && c.length > 16 ? ((cut = true), c.slice(0, c.length >> 1)) : c));
        for (const a of el.attrs) if (a[1].length > 16) ((a[1] = a[1].slice(0, a[1].length >> 1)), (cut = true));
        return cut;
      })) changed = true;
    }
  }
  return asInput(root);
}

/** Classic ddmin over bytes, or over the code points of a string. */
function minimizeBytes(input: FuzzInput, stillFails: (i: FuzzInput) => boolean, deadline: number): FuzzInput {
  const isString = typeof input.data === 'string';
  // Code points of a string (a lone surrogate is one of them), bytes of bytes.
  let units: (string | number)[] = isString ? Array.from(input.data as string) : Array.from(input.data as Uint8Array);
  const make = (u: (string | number)[]): FuzzInput => ({ ...input, data: isString ? u.join('') : Uint8Array.from(u as number[]) });
  if (units.length > 200_000) return input; // ddmin over megabytes would not finish; the tree pass did what it could
  let chunks = 2;
  while (units.length >= 2 && performance.now() < deadline) {
    const size = Math.ceil(units.length / chunks);
    let removed = false;
    for (let start = 0; start < units.length && performance.now() < deadline; start += size) {
      const candidate = [...units.slice(0, start), ...units.slice(start + size)];
      if (stillFails(make(candidate))) {
        units = candidate;
        chunks = Math.max(chunks - 1, 2);
        removed = true;
        break;
      }
    }
    if (!removed) {
      if (size <= 1) break;
      chunks = Math.min(units.length, chunks * 2);
    }
  }
  return make(units);
}
