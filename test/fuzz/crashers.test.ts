/**
 * The fuzzer's findings, each a minimal input in test/fuzz/crashers, as
 * regression tests. They are `todo` until the model is fixed (the fixes are
 * routed elsewhere), so CI stays green and each stays visible; once one
 * passes, set `"todo": false` in its JSON (or delete the crasher).
 * One that ran the heap out or never returned runs in a worker of its own
 * with a heap limit, so it fails as a test instead of killing the runner.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOracle } from './check.ts';
import { checkIsolated } from './driver.ts';
import { loadCrashers } from './known.ts';

/** Those that kill a process get a worker (and a small heap, so running out is quick); the rest run here. */
const FATAL = new Set(['oom', 'hang', 'exit']);

describe('fuzzing findings (test/fuzz/crashers)', { concurrency: true }, () => {
  let oracle: ReturnType<typeof createOracle> | undefined;
  for (const { crasher, input } of loadCrashers()) {
    it(`${crasher.name}: ${crasher.failure} (${crasher.signature})`, { todo: crasher.todo !== false, timeout: 120_000 }, async () => {
      const outcome = FATAL.has(crasher.failure) ? await checkIsolated(input, { heapMb: 128, hangMs: 10_000 }) : (oracle ??= createOracle()).check(input);
      assert.deepEqual(outcome.failures.map((f) => `${f.signature}: ${f.detail.split('\n')[0]}`), []);
    });
  }
});
