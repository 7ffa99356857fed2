/** Sizes and ratios in an operator's words: `1.5 GiB`, `512 MiB`, `ratio 1.0`. */

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** KiB → the largest binary unit that keeps the number ≥ 1, with at most two decimals (`1.5 GiB`). */
export function formatKiB(kib: number): string {
  const sign = kib < 0 ? '-' : '';
  let v = Math.abs(kib);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${sign}${trim(v)} ${UNITS[u]}`;
}

/** A ratio as Nova's docs write them: `1.0`, `1.5`, `16.0`, `1.25`. */
export function formatRatio(r: number): string {
  return Number.isInteger(r * 10) ? r.toFixed(1) : trim(r);
}

function trim(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** `3 hosts`, `1 host`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
