/**
 * One fuzzing run: fast-check generates recipes from a seed, each becomes a
 * document and goes through the oracle. The pass never stops: it counts every
 * outcome and remembers the first input of each distinct failure (its
 * signature). Then, per new signature, `shrink` has fast-check replay that
 * input (its `path`) and shrink it with a property that fails only on that
 * signature, and delta debugging cuts the shrunk document down further.
 *
 * Signatures in `known` (test/fuzz/crashers: bugs already reported) are
 * counted but not reported again, so a fixed-seed run stays green until they
 * are fixed.
 *
 * A pass can resume from a snapshot of its own stats, skipping inputs that
 * killed an earlier worker (driver.ts): fast-check regenerates the same
 * values from the seed, and the skipped ones are not checked.
 */
import fc from 'fast-check';
import { type Failure, type Oracle, type OracleHooks, createOracle } from './check.ts';
import { minimize } from './minimize.ts';
import { type FuzzInput, type Recipe, build, inputArb } from './mutators.ts';
import { type Seeds, loadSeeds } from './seeds.ts';

export interface PassOptions {
  readonly runs: number;
  readonly seed: number;
  readonly known?: ReadonlySet<string>;
  /** Called every `progressEvery` inputs with the stats so far. */
  readonly onProgress?: (stats: Stats) => void;
  readonly progressEvery?: number;
  /** Called before every check, with the input's index in the pass (-1 while shrinking). */
  readonly onCheck?: (input: FuzzInput, index: number) => void;
  /** Stats of an earlier, interrupted pass with the same seed: its inputs are not checked again. */
  readonly resume?: Stats;
  /** Indices not to check (inputs that killed a worker). */
  readonly skip?: ReadonlySet<number>;
}

export interface ShrinkOptions {
  readonly seed: number;
  /** Time for shrinking and for minimising. Default 60 s. */
  readonly budgetMs?: number;
  readonly onCheck?: (input: FuzzInput, index: number) => void;
  /** Called on each smaller failing input found, so a worker killed mid-shrink loses nothing. */
  readonly onBest?: (found: Found) => void;
}

export interface Found {
  readonly failure: Failure;
  /** Inputs of this run that failed this way. */
  count: number;
  /** Index of the first, for fast-check's `path`. */
  readonly index: number;
  /** Undefined for an input that killed its worker: only its document is known. */
  readonly recipe?: Recipe;
  /** fast-check's shrunk recipe, and the document it builds. */
  shrunk?: { readonly recipe: Recipe; readonly input: FuzzInput; readonly failure: Failure };
  /** The document cut down further by delta debugging (or, for a fatal input, as it was). */
  minimal?: FuzzInput;
}

export interface Stats {
  inputs: number;
  domains: number;
  devices: number;
  accepted: number;
  defined: number;
  /** `stage:CODE` → count. */
  readonly rejected: Map<string, number>;
  slowest: { ms: number; index: number; stages: Readonly<Record<string, number>>; kind: string };
  readonly failures: Map<string, Found>;
  readonly known: Map<string, number>;
  readonly source: string;
  readonly seed: number;
  elapsedMs: number;
}

export interface Fuzzer {
  readonly seeds: Seeds;
  readonly oracle: Oracle;
  readonly arbitrary: fc.Arbitrary<Recipe>;
  pass(opts: PassOptions): Stats;
  shrink(found: Found, opts: ShrinkOptions): void;
}

/**
 * A pass is a series of fast-check runs of CHUNK inputs, each with a seed of
 * its own derived from the pass's: a worker that resumes mid-pass regenerates
 * at most one chunk's values, not every value since the start.
 */
export const CHUNK = 1000;

/** fast-check's seed and path that replay input `index` of a pass with `seed`. */
export function replayOf(seed: number, index: number): { seed: number; path: string } {
  const chunk = Math.floor(index / CHUNK);
  return { seed: (seed + chunk * 7919) | 0, path: String(index % CHUNK) };
}

export function emptyStats(source: string, seed: number): Stats {
  return {
    inputs: 0, domains: 0, devices: 0, accepted: 0, defined: 0, rejected: new Map(),
    slowest: { ms: 0, index: -1, stages: {}, kind: '' }, failures: new Map(), known: new Map(),
    source, seed, elapsedMs: 0,
  };
}

/** Counts a failure as known or as (the first or a further instance of) a new one. */
export function record(stats: Stats, f: Failure, index: number, known: ReadonlySet<string> | undefined, extra: Partial<Found> = {}): void {
  if (known?.has(f.signature)) stats.known.set(f.signature, (stats.known.get(f.signature) ?? 0) + 1);
  else {
    const seen = stats.failures.get(f.signature);
    if (seen) seen.count++;
    else stats.failures.set(f.signature, { failure: f, count: 1, index, ...extra });
  }
}

export function createFuzzer(hooks: OracleHooks = {}, given?: Seeds): Fuzzer {
  const seeds = given ?? loadSeeds();
  const oracle = createOracle(hooks);
  const arbitrary = inputArb(seeds, oracle.bases.length);

  function pass(opts: PassOptions): Stats {
    const stats = opts.resume ?? emptyStats(seeds.source, opts.seed);
    const t0 = performance.now() - stats.elapsedMs;
    const from = stats.inputs;
    const every = opts.progressEvery ?? 1000;
    for (let c = Math.floor(from / CHUNK); c * CHUNK < opts.runs; c++) {
      let j = 0;
      const details = fc.check(
        fc.property(arbitrary, (recipe) => {
          const i = c * CHUNK + j++;
          if (i < from || opts.skip?.has(i)) return true;
          const input = build(recipe, seeds);
          opts.onCheck?.(input, i);
          const o = oracle.check(input);
          stats.inputs = i + 1;
          if (o.kind === 'domain') stats.domains++;
          else stats.devices++;
          if (o.accepted) stats.accepted++;
          if (o.defined) stats.defined++;
          if (o.rejected) stats.rejected.set(o.rejected, (stats.rejected.get(o.rejected) ?? 0) + 1);
          if (o.ms > stats.slowest.ms) stats.slowest = { ms: o.ms, index: i, stages: o.stages, kind: o.kind };
          for (const f of o.failures) record(stats, f, i, opts.known, { recipe });
          if (opts.onProgress && stats.inputs % every === 0) {
            stats.elapsedMs = performance.now() - t0;
            opts.onProgress(stats);
          }
          return true;
        }),
        { ...replayOf(opts.seed, c * CHUNK), numRuns: Math.min(CHUNK, opts.runs - c * CHUNK) },
      );
      // The property never fails; a failed run means the fuzzer itself threw.
      if (details.failed) throw new Error(`the fuzzer itself failed: ${details.errorInstance instanceof Error ? details.errorInstance.stack : String(details.errorInstance)}`);
    }
    stats.inputs = opts.runs;
    stats.elapsedMs = performance.now() - t0;
    return stats;
  }

  /** Replays the first failing input of a signature and shrinks it, keeping that signature. */
  function shrink(found: Found, opts: ShrinkOptions): void {
    if (!found.recipe) return;
    const sig = found.failure.signature;
    const budget = opts.budgetMs ?? 60_000;
    const failsThisWay = (input: FuzzInput) => {
      opts.onCheck?.(input, -1);
      return oracle.check(input).failures.find((f) => f.signature === sig);
    };
    const replay = fc.check(
      fc.property(arbitrary, (recipe) => {
        const input = build(recipe, seeds);
        const failure = failsThisWay(input);
        if (failure) {
          found.shrunk = { recipe, input, failure };
          opts.onBest?.(found);
        }
        return failure === undefined;
      }),
      { ...replayOf(opts.seed, found.index), interruptAfterTimeLimit: budget / 2, markInterruptAsFailure: false },
    );
    const recipe = replay.counterexample?.[0] ?? found.shrunk?.recipe;
    if (!recipe) return; // not reproducible (a 'slow' one that was the machine, say)
    const input = build(recipe, seeds);
    const failure = failsThisWay(input);
    if (!failure) return;
    found.shrunk = { recipe, input, failure };
    found.minimal = minimize(
      input,
      (i) => {
        if (!failsThisWay(i)) return false;
        found.minimal = i;
        opts.onBest?.(found);
        return true;
      },
      budget / 2,
    );
  }

  return { seeds, oracle, arbitrary, pass, shrink };
}
