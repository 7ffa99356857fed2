/**
 * The CI form of `npm run fuzz`: 5,000 mutated documents and device
 * fragments with a fixed seed (VIRTFLOW_FUZZ_SEED overrides it,
 * VIRTFLOW_FUZZ_RUNS the count). Only VirtErrors escape the model, each
 * with a code, a message and a path; no document takes more than a second;
 * what is accepted reads back the same. Failures already recorded in
 * test/fuzz/crashers are counted and listed, not failed on again (they are
 * todo tests in crashers.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drive } from './driver.ts';
import { describeFound, table } from './report.ts';

const seed = Number(process.env.VIRTFLOW_FUZZ_SEED ?? 20261202);
const runs = Number(process.env.VIRTFLOW_FUZZ_RUNS ?? 5000);
const comment = (text: string) => console.log(text.replace(/^/gm, '# '));

describe('fuzzing the model', () => {
  it(`only VirtErrors escape, no document takes over 1 s, and accepted output reads back the same (${runs} inputs, seed ${seed})`, { timeout: 15 * 60_000 }, async () => {
    comment(`fuzz seed ${seed} (set VIRTFLOW_FUZZ_SEED to replay another)`);
    // A check takes milliseconds; one over the 1 s limit is a `slow` failure; 20 s without a result is a hang.
    const stats = await drive({ runs, seed, heapMb: 384, hangMs: 20_000, shrinkBudgetMs: 20_000, maxShrunk: 5, onReady: comment });
    comment(table(stats));
    for (const [sig, n] of stats.known) comment(`known (test/fuzz/crashers): ${n}× ${sig}`);
    const found = [...stats.failures.values()].map((f) => describeFound(f, stats));
    assert.equal(found.length, 0, `new failures (replay with VIRTFLOW_FUZZ_SEED=${seed}):\n${found.join('\n\n')}`);
  });
});
