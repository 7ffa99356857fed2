/**
 * The shared memory between a fuzzing worker and driver.ts's watchdog: a
 * heartbeat, the input being checked (kind, base, string or bytes), its index
 * in the pass and the stage it is in. When a worker dies (out of memory) or
 * stops beating (a hang), this is what is left of the input that did it.
 */
import type { FuzzInput } from './mutators.ts';

export interface Shared {
  readonly header: SharedArrayBuffer;
  readonly data: SharedArrayBuffer;
}

const H = { beat: 0, len: 1, kind: 2, base: 3, isString: 4, index: 5, stage: 6 } as const;
/** Large enough for any input the mutators build (4 MiB) and then some. */
const DATA_BYTES = 16 << 20;
const enc = new TextEncoder();

/** Stage names by number (check.ts's stages); unknown names are added as they come. */
const STAGES = ['none', 'parse', 'format', 'reparse', 'define', 'format-defined', 'redefine', 'parse-device', 'format-device', 'reparse-device', 'attach', 'format-attached', 'reattach'];

export function createShared(): Shared {
  return { header: new SharedArrayBuffer(7 * 4), data: new SharedArrayBuffer(DATA_BYTES) };
}

export function publishInput(shared: Shared, input: FuzzInput, index: number): void {
  const h = new Int32Array(shared.header);
  const bytes = typeof input.data === 'string' ? enc.encode(input.data) : input.data;
  const n = Math.min(bytes.length, DATA_BYTES);
  new Uint8Array(shared.data).set(bytes.subarray(0, n));
  h[H.len] = n;
  h[H.kind] = input.kind === 'domain' ? 0 : 1;
  h[H.base] = input.base;
  h[H.isString] = typeof input.data === 'string' ? 1 : 0;
  h[H.index] = index;
  h[H.stage] = 0;
  Atomics.add(h, H.beat, 1);
}

export function publishStage(shared: Shared, stage: string): void {
  const n = STAGES.indexOf(stage);
  new Int32Array(shared.header)[H.stage] = n < 0 ? 0 : n;
}

export function heartbeat(shared: Shared): number {
  return Atomics.load(new Int32Array(shared.header), H.beat);
}

export interface Current {
  readonly input: FuzzInput;
  /** Index in the pass; -1 while shrinking or checking a single input. */
  readonly index: number;
  readonly stage: string;
}

/** The input last published. A string that held lone surrogates comes back with U+FFFD in their place. */
export function current(shared: Shared): Current {
  const h = new Int32Array(shared.header);
  const bytes = new Uint8Array(shared.data, 0, h[H.len]).slice();
  const data = h[H.isString] === 1 ? new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes) : bytes;
  return { input: { kind: h[H.kind] === 0 ? 'domain' : 'device', base: h[H.base]!, data }, index: h[H.index]!, stage: STAGES[h[H.stage]!] ?? 'none' };
}
