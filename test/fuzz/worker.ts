/**
 * Fuzzing inside a worker thread, so driver.ts survives what the model can do
 * to a process: run out of memory (the worker has a heap limit) or never
 * return (synchronous code cannot be interrupted from its own thread). Before
 * each check the input is copied into shared memory with a heartbeat.
 *
 * Modes: `pass` (the fuzzing pass, posting progress snapshots), `shrink`
 * (shrink and minimise found failures, posting each), `check` (one input, for
 * the crashers' regression tests).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type Found, type Stats, createFuzzer } from './fuzz.ts';
import { createOracle } from './check.ts';
import { knownSignatures } from './known.ts';
import type { FuzzInput } from './mutators.ts';
import type { Seeds } from './seeds.ts';
import { type Shared, publishInput, publishStage } from './shared.ts';

export type Job =
  | { readonly mode: 'pass'; readonly runs: number; readonly seed: number; readonly useKnown: boolean; readonly progressEvery: number; readonly resume?: Stats; readonly skip: readonly number[] }
  | { readonly mode: 'shrink'; readonly seed: number; readonly budgetMs: number; readonly founds: readonly Found[] }
  | { readonly mode: 'check'; readonly input: FuzzInput };

export type Message =
  | { readonly type: 'ready'; readonly source: string }
  | { readonly type: 'progress'; readonly stats: Stats }
  | { readonly type: 'shrunk'; readonly found: Found; readonly final: boolean }
  | { readonly type: 'done'; readonly stats?: Stats; readonly outcome?: ReturnType<ReturnType<typeof createOracle>['check']> };

const { job, shared, seeds } = workerData as { job: Job; shared: Shared; seeds?: Seeds };
const post = (m: Message) => parentPort!.postMessage(m);
const hooks = { onStage: (name: string) => publishStage(shared, name) };
const onCheck = (input: FuzzInput, index: number) => publishInput(shared, input, index);

if (job.mode === 'check') {
  const oracle = createOracle(hooks);
  onCheck(job.input, -1);
  post({ type: 'done', outcome: oracle.check(job.input) });
} else {
  const fuzzer = createFuzzer(hooks, seeds);
  post({ type: 'ready', source: fuzzer.seeds.source });
  if (job.mode === 'pass') {
    const stats = fuzzer.pass({
      runs: job.runs,
      seed: job.seed,
      ...(job.useKnown ? { known: knownSignatures() } : {}),
      ...(job.resume ? { resume: job.resume } : {}),
      skip: new Set(job.skip),
      onCheck,
      progressEvery: job.progressEvery,
      onProgress: (stats) => post({ type: 'progress', stats }),
    });
    post({ type: 'done', stats });
  } else {
    for (const found of job.founds) {
      fuzzer.shrink(found, { seed: job.seed, budgetMs: job.budgetMs, onCheck, onBest: (f) => post({ type: 'shrunk', found: f, final: false }) });
      post({ type: 'shrunk', found, final: true });
    }
    post({ type: 'done' });
  }
}
