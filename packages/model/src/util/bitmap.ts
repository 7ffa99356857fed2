/**
 * CPU and node sets in libvirt's syntax (virBitmapParse / virBitmapFormat):
 * comma-separated `N`, `N-M` and `^N`, written back as compact ranges.
 */
import { VirtError } from '../errors.ts';

export const BITMAP_LIMIT = 16384;

/** The error of a bitmap that does not parse (a function of its own: a closure per parse cost more than the parse). */
function bad(text: string, path: string): VirtError {
  return new VirtError('INVALID_ARG', `Failed to parse bitmap '${text}'`, path);
}

export function parseBitmap(text: string, path: string, limit = BITMAP_LIMIT): Set<number> {
  const set = new Set<number>();
  if (text.trim() === '') throw bad(text, path);
  for (const raw of text.split(',')) {
    const tok = raw.trim();
    const m = /^(\^)?\s*(\d+)(?:\s*-\s*(\d+))?$/.exec(tok);
    if (!m) throw bad(text, path);
    const lo = Number(m[2]);
    const hi = m[3] !== undefined ? Number(m[3]) : lo;
    if (m[1] && m[3] !== undefined) throw bad(text, path);
    if (hi < lo || hi >= limit) throw bad(text, path);
    for (let i = lo; i <= hi; i++) (m[1] ? set.delete(i) : set.add(i));
  }
  return set;
}

export function formatBitmap(set: ReadonlySet<number>): string {
  const ids = [...set].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    parts.push(j === i ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
