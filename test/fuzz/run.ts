/**
 * `npm run fuzz`: mutated domain XML and device fragments through the model,
 * 100,000 inputs by default. Prints a table (inputs, accepted, rejected by
 * code, slowest, failures), then each new failure with its fast-check seed and
 * path, shrunk recipe and minimal input, and writes the reproducers to --out.
 *
 *   node --import tsx test/fuzz/run.ts [--runs N] [--seed S] [--out DIR] [--no-known]
 *        [--hang-ms MS] [--heap-mb MB] [--shrink-ms MS]
 *
 * Exit code 1 when something new failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { drive } from './driver.ts';
import { describeFound, show, table } from './report.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    seed: { type: 'string', default: process.env.VIRTFLOW_FUZZ_SEED ?? String(Date.now() % 2 ** 31) },
    out: { type: 'string' },
    'hang-ms': { type: 'string', default: '20000' },
    'heap-mb': { type: 'string', default: '768' },
    'shrink-ms': { type: 'string', default: '60000' },
    'no-known': { type: 'boolean', default: false },
  },
});
const int = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`--${name}: expected an integer, got '${v}'`);
  return n;
};
const runs = int('runs', args.runs);
const seed = int('seed', args.seed);
const out = args.out ?? `/tmp/virtflow-fuzz-${seed}`;

console.log(`fuzz: ${runs} inputs, seed ${seed} (replay with --seed ${seed}); reproducers go to ${out}`);
const started = performance.now();
const stats = await drive({
  runs,
  seed,
  useKnown: !args['no-known'],
  hangMs: int('hang-ms', args['hang-ms']),
  heapMb: int('heap-mb', args['heap-mb']),
  shrinkBudgetMs: int('shrink-ms', args['shrink-ms']),
  progressEvery: 1000,
  onReady: (source) => console.log(source),
  onProgress: (s) => {
    const rate = (s.inputs / s.elapsedMs) * 1000;
    process.stdout.write(`\r${s.inputs}/${runs} inputs, ${s.accepted} accepted, ${s.failures.size} new failures, ${rate.toFixed(0)}/s, eta ${((runs - s.inputs) / rate).toFixed(0)} s   `);
  },
  onFatal: (f, at) => console.log(`\ninput #${at.index} killed its worker (${f.kind} in ${f.stage}); carrying on without it:\n  ${show(at.input).slice(0, 300)}`),
});
process.stdout.write('\n');
console.log(`\n${table(stats)}\n`);

if (stats.failures.size) mkdirSync(out, { recursive: true });
let n = 0;
for (const f of stats.failures.values()) {
  n++;
  console.log(`FAILURE ${n}: ${describeFound(f, stats)}\n`);
  const input = f.minimal ?? f.shrunk?.input;
  if (input) {
    const base = join(out, `${String(n).padStart(2, '0')}-${f.failure.kind}`);
    writeFileSync(`${base}.${typeof input.data === 'string' ? 'xml' : 'bin'}`, input.data);
    writeFileSync(`${base}.txt`, `${describeFound(f, stats)}\n`);
  }
}
if (stats.known.size) {
  console.log('known (test/fuzz/crashers), not reported again:');
  for (const [sig, count] of stats.known) console.log(`  ${count}× ${sig}`);
}
console.log(`wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = stats.failures.size ? 1 : 0;
