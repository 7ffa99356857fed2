/** The fuzzing run's table and the failures it found, as text. */
import { fmtStages } from './check.ts';
import { type Found, type Stats, replayOf } from './fuzz.ts';
import type { FuzzInput } from './mutators.ts';

const pad = (s: string, n: number) => s.padEnd(n);

export function table(stats: Stats): string {
  const rows: [string, string][] = [
    ['seed', String(stats.seed)],
    ['inputs', `${stats.inputs} (${stats.domains} domains, ${stats.devices} device fragments)`],
    ['accepted', `${stats.accepted} by parse; ${stats.defined} by define / attach-device`],
  ];
  const rejected = [...stats.rejected.entries()].sort((a, b) => b[1] - a[1]);
  rows.push(['rejected', String(rejected.reduce((n, [, c]) => n + c, 0))]);
  for (const [code, n] of rejected) rows.push([`  ${code}`, String(n)]);
  rows.push(['slowest ms', `${stats.slowest.ms.toFixed(1)} (input #${stats.slowest.index}, ${stats.slowest.kind}: ${fmtStages(stats.slowest.stages)})`]);
  const failing = [...stats.failures.values()].reduce((n, f) => n + f.count, 0);
  rows.push(['failures', `${failing} inputs, ${stats.failures.size} distinct`]);
  const byKind = new Map<string, number>();
  for (const f of stats.failures.values()) byKind.set(f.failure.kind, (byKind.get(f.failure.kind) ?? 0) + f.count);
  for (const [k, n] of byKind) rows.push([`  ${k}`, String(n)]);
  if (stats.known.size) rows.push(['known (crashers/)', `${[...stats.known.values()].reduce((a, b) => a + b, 0)} inputs, ${stats.known.size} distinct`]);
  rows.push(['time', `${(stats.elapsedMs / 1000).toFixed(1)} s (${((stats.inputs / stats.elapsedMs) * 1000).toFixed(0)} inputs/s)`]);
  const w = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${pad(k, w)}${v}`).join('\n');
}

export function show(input: FuzzInput): string {
  const d = input.data;
  const text = typeof d === 'string' ? `string ${JSON.stringify(d.length > 2000 ? `${d.slice(0, 2000)}…` : d)}` : `bytes ${Buffer.from(d.subarray(0, 2000)).toString('hex')}${d.length > 2000 ? '…' : ''} (${d.length} bytes; as text: ${JSON.stringify(Buffer.from(d.subarray(0, 600)).toString('latin1'))})`;
  return `${input.kind}${input.kind === 'device' ? ` (attached to base ${input.base})` : ''}: ${text}`;
}

export function describeFound(f: Found, stats: Stats): string {
  const r = replayOf(stats.seed, f.index);
  const lines = [`[${f.failure.kind}] ${f.failure.signature}`, `  ${f.count} input(s); first #${f.index} (fast-check replay: seed ${r.seed}, path '${r.path}')`];
  const failure = f.shrunk?.failure ?? f.failure;
  lines.push(`  ${failure.detail.split('\n').slice(0, 8).join('\n  ')}`);
  if (f.shrunk) lines.push(`  shrunk recipe: ${JSON.stringify(f.shrunk.recipe, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)).slice(0, 1500)}`);
  if (f.minimal) lines.push(`  minimal input: ${show(f.minimal)}`);
  return lines.join('\n');
}
