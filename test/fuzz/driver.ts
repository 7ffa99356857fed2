/**
 * Runs a fuzzing pass and the shrinking of what it found in worker threads
 * (worker.ts), and carries on past inputs that kill a worker: one that runs
 * the heap out (`oom`) or never returns (`hang`) is recorded as a failure
 * with its document, and a new worker resumes from the last progress
 * snapshot, skipping it. Used by `npm run fuzz` (run.ts), the CI test
 * (fuzz.test.ts) and the crashers' regression tests.
 */
import { Worker } from 'node:worker_threads';
import type { Failure, Outcome } from './check.ts';
import { type Found, type Stats, emptyStats, record } from './fuzz.ts';
import { knownSignatures } from './known.ts';
import type { FuzzInput } from './mutators.ts';
import { type Seeds, loadSeeds } from './seeds.ts';
import { type Current, createShared, current, heartbeat } from './shared.ts';
import type { Job, Message } from './worker.ts';

export interface DriveOptions {
  readonly runs: number;
  readonly seed: number;
  /** Count the crashers' signatures as known (default true). */
  readonly useKnown?: boolean;
  /** A check without a heartbeat for this long is a hang. Default 60 s. */
  readonly hangMs?: number;
  /** The worker's heap. Default 512 MiB: room for the corpus and a 1 MiB document, and a quicker end to a runaway. */
  readonly heapMb?: number;
  readonly progressEvery?: number;
  /** Per failure. Default 60 s. */
  readonly shrinkBudgetMs?: number;
  /** At most this many distinct failures are shrunk. Default 20. */
  readonly maxShrunk?: number;
  readonly onReady?: (source: string) => void;
  readonly onProgress?: (stats: Stats) => void;
  /** A worker died on an input; the run goes on. */
  readonly onFatal?: (failure: Failure, at: Current) => void;
}

type Ended = { readonly stats?: Stats; readonly outcome?: Outcome } | { readonly fatal: Failure; readonly at: Current };

const workerUrl = new URL('./worker.ts', import.meta.url);
/**
 * A worker's entry must be JavaScript on Node 20 (a `--import tsx` in its
 * execArgv comes too late for the entry itself): it registers tsx, then
 * imports worker.ts.
 */
const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(workerUrl.href)}); })`;

/** One worker, watched: resolves with its last message, or with what killed it. */
function runWorker(job: Job, opts: { hangMs: number; heapMb: number; seeds?: Seeds; onMessage?: (m: Message) => void }): Promise<Ended> {
  const shared = createShared();
  const worker = new Worker(bootstrap, {
    eval: true,
    workerData: { job, shared, ...(opts.seeds ? { seeds: opts.seeds } : {}) },
    // Not the parent's execArgv: node --test's own flags are not for workers.
    execArgv: [],
    resourceLimits: { maxOldGenerationSizeMb: opts.heapMb },
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (v: Ended | Error) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    const fatal = (kind: 'oom' | 'hang' | 'exit', detail: string) => {
      const at = current(shared);
      settle({ fatal: { kind, stage: at.stage, detail, signature: `${kind} ${at.stage}` }, at });
    };
    let beat = -1;
    let beatAt = performance.now();
    const watchdog = setInterval(() => {
      const now = heartbeat(shared);
      if (now !== beat) {
        beat = now;
        beatAt = performance.now();
      } else if (beat > 0 && performance.now() - beatAt > opts.hangMs) {
        fatal('hang', `no result within ${opts.hangMs} ms`);
        void worker.terminate();
      }
    }, 500);
    worker.on('message', (m: Message) => {
      opts.onMessage?.(m);
      if (m.type === 'done') settle({ ...(m.stats ? { stats: m.stats } : {}), ...(m.outcome ? { outcome: m.outcome } : {}) });
    });
    worker.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') fatal('oom', `the worker ran out of its ${opts.heapMb} MiB heap`);
      else settle(new Error(`the fuzzer itself failed: ${e.stack ?? e}`));
    });
    worker.on('exit', (code) => {
      if (!settled) fatal('exit', `the worker exited with code ${code}`);
    });
  });
}

export async function drive(opts: DriveOptions): Promise<Stats> {
  // Read once here and handed to each worker: a restart after a fatal input then costs a clone, not the corpus.
  const limits = { hangMs: opts.hangMs ?? 60_000, heapMb: opts.heapMb ?? 512, seeds: loadSeeds() };
  const known = opts.useKnown === false ? undefined : knownSignatures();
  let snapshot: Stats | undefined;
  let source = '';
  const skip = new Set<number>();
  const onMessage = (m: Message) => {
    if (m.type === 'ready' && !source) {
      source = m.source;
      opts.onReady?.(source);
    }
    if (m.type === 'progress') {
      snapshot = m.stats;
      opts.onProgress?.(m.stats);
    }
  };

  let stats: Stats | undefined;
  while (!stats) {
    const job: Job = { mode: 'pass', runs: opts.runs, seed: opts.seed, useKnown: opts.useKnown !== false, progressEvery: opts.progressEvery ?? 500, ...(snapshot ? { resume: snapshot } : {}), skip: [...skip] };
    const ended = await runWorker(job, { ...limits, onMessage });
    if ('fatal' in ended) {
      const { fatal, at } = ended;
      if (at.index < 0 || skip.has(at.index)) throw new Error(`a worker died outside an input (${fatal.kind}, ${fatal.detail})`);
      opts.onFatal?.(fatal, at);
      snapshot ??= emptyStats(source, opts.seed);
      if (at.input.kind === 'domain') snapshot.domains++;
      else snapshot.devices++;
      record(snapshot, fatal, at.index, known, { minimal: at.input });
      skip.add(at.index);
    } else stats = ended.stats!;
  }

  // Shrinking, in workers of its own: a variant of one failure may kill a worker too.
  let pending = [...stats.failures.values()].filter((f) => f.recipe).slice(0, opts.maxShrunk ?? 20);
  while (pending.length) {
    const job: Job = { mode: 'shrink', seed: opts.seed, budgetMs: opts.shrinkBudgetMs ?? 60_000, founds: pending };
    const ended = await runWorker(job, {
      ...limits,
      onMessage: (m) => {
        if (m.type !== 'shrunk') return;
        const mine = stats.failures.get(m.found.failure.signature);
        if (mine) Object.assign(mine, { shrunk: m.found.shrunk, minimal: m.found.minimal });
        if (m.final) pending = pending.filter((f) => f.failure.signature !== m.found.failure.signature);
      },
    });
    // A variant of the one being shrunk killed the worker: it keeps the smallest input found so far.
    if ('fatal' in ended) pending = pending.slice(1);
  }
  return stats;
}

/** One input, in a worker of its own: its outcome, or the failure that killed the worker. */
export async function checkIsolated(input: FuzzInput, opts: { hangMs?: number; heapMb?: number } = {}): Promise<Outcome> {
  const ended = await runWorker({ mode: 'check', input }, { hangMs: opts.hangMs ?? 20_000, heapMb: opts.heapMb ?? 512 });
  if ('fatal' in ended) return { kind: input.kind, accepted: false, defined: false, failures: [ended.fatal], ms: 0, stages: {} };
  return ended.outcome!;
}

export type { Found };
