/**
 * Copy-on-write for the projections' maps and sets within one batch: the first
 * write to a collection copies it, later writes in the same batch reuse that
 * copy. The projection handed in is never touched, so applying stays a pure
 * function, but a batch of N events costs one copy per touched collection
 * instead of N. (immer does the same with drafts; this is its hot loop without
 * the proxies, which matters at a million events.) Big collections are
 * forked (util/pmap.ts): a copy then costs a shard, not every entry, which is
 * what keeps a fold of one event cheap at 10,000 domains.
 */
import { VirtError } from '../errors.ts';
import type { AnyEvent } from './types.ts';
import { forkMap, forkSet } from '../util/pmap.ts';

/** One event with its stream sequence; a VirtError (a poison message decodeEvent rejected) or undefined only advances the sequence. */
export interface Sequenced {
  readonly seq: number;
  readonly event: AnyEvent | VirtError | undefined;
}

export interface Batch {
  /** A writable copy of `m`, made once per batch. */
  map<K, V>(m: ReadonlyMap<K, V>): Map<K, V>;
  /** A writable copy of the set at `key` in a writable map of sets, created empty when absent. */
  setIn<K, V>(outer: Map<K, ReadonlySet<V>>, key: K): Set<V>;
}

/** A batch lives for one applyAll call and never escapes it. */
export function batch(): Batch {
  const owned = new Set<object>();
  return {
    map<K, V>(m: ReadonlyMap<K, V>): Map<K, V> {
      if (owned.has(m)) return m as Map<K, V>;
      const copy = forkMap(m);
      owned.add(copy);
      return copy;
    },
    setIn<K, V>(outer: Map<K, ReadonlySet<V>>, key: K): Set<V> {
      const s = outer.get(key);
      if (s && owned.has(s)) return s as Set<V>;
      const copy = forkSet(s);
      owned.add(copy);
      outer.set(key, copy);
      return copy;
    },
  };
}

/** Removes `value` from the set at `key`, dropping the set when it empties. */
export function removeIn<K, V>(batch: Batch, outer: Map<K, ReadonlySet<V>>, key: K, value: V): void {
  const s = outer.get(key);
  if (!s || !s.has(value)) return;
  if (s.size === 1) {
    outer.delete(key);
    return;
  }
  batch.setIn(outer, key).delete(value);
}

export function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new VirtError('INVALID_ARG', `stream sequence must be a positive integer, not ${String(seq)}`);
}

/** An event worth folding: poison messages and gaps only move the sequence on. */
export function usable(event: AnyEvent | VirtError | undefined): event is AnyEvent {
  return event !== undefined && !(event instanceof VirtError);
}

/** Sorted entries of a map, for canonical JSON. */
export function sortedEntries<V>(m: ReadonlyMap<string, V>): Array<[string, V]> {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function sortedObject<V, W>(m: ReadonlyMap<string, V>, f: (v: V) => W): Record<string, W> {
  const out: Record<string, W> = {};
  for (const [k, v] of sortedEntries(m)) Object.defineProperty(out, k, { value: f(v), enumerable: true, writable: true, configurable: true });
  return out;
}

export const sortedSet = (s: ReadonlySet<string>): string[] => [...s].sort();
