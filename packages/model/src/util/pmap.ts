/**
 * Maps and sets that copy cheaply, for the folds that must not change what
 * they are handed (the projections, the scheduler's inventory). A fold copies
 * each collection it writes; with plain Maps that copy is O(entries), so a
 * scheduler folding one event at a time over 10,000 domains spent ~10 ms a
 * domain copying its domains projection. Here entries are spread over 64
 * shards by a hash of the key: a fork shares every shard with its source and
 * copies a shard on its first write to it, so a change costs O(64 + entries
 * / 64). Small collections stay plain Maps and Sets (a copy is cheaper than
 * the shards).
 *
 * A fork is private to the fold that made it (transient.ts's batch, the
 * inventory's work): the source is never written through it. Iteration goes
 * shard by shard; callers that need an order sort, as the projections' JSON
 * does. The shards are a public field so that node's deepStrictEqual compares
 * two of these by content (empty shards are dropped, so equal contents have
 * equal shards).
 */

const SHARDS = 64;
/** Up to this many entries a fork is a plain copy. */
const SMALL = 64;

/** FNV-1a over the key's last 8 characters (uuids, names and host ids differ there); other keys share shard 0. */
function shardOf(key: unknown): number {
  if (typeof key !== 'string') return 0;
  let h = 0x811c9dc5;
  const n = key.length;
  for (let i = n > 8 ? n - 8 : 0; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) & (SHARDS - 1);
}

export class PMap<K, V> implements Map<K, V> {
  /** The entries, by shard; undefined for an empty shard. */
  readonly shards: (Map<K, V> | undefined)[];
  #size: number;
  /** Shards this instance copied and may write; the others are shared. */
  #owned: boolean[];

  private constructor(shards: (Map<K, V> | undefined)[], size: number) {
    this.shards = shards;
    this.#size = size;
    this.#owned = new Array<boolean>(SHARDS).fill(false);
  }

  static from<K, V>(entries: Iterable<readonly [K, V]>): PMap<K, V> {
    const m = new PMap<K, V>(new Array<Map<K, V> | undefined>(SHARDS).fill(undefined), 0);
    for (const [k, v] of entries) m.set(k, v);
    return m;
  }

  /** A writable copy sharing every shard until it writes one. */
  fork(): PMap<K, V> {
    return new PMap(this.shards.slice(), this.#size);
  }

  get size(): number {
    return this.#size;
  }

  get(key: K): V | undefined {
    return this.shards[shardOf(key)]?.get(key);
  }

  has(key: K): boolean {
    return this.shards[shardOf(key)]?.has(key) ?? false;
  }

  #writable(i: number): Map<K, V> {
    let s = this.shards[i];
    if (!this.#owned[i]) {
      s = new Map(s);
      this.shards[i] = s;
      this.#owned[i] = true;
    }
    return s!;
  }

  set(key: K, value: V): this {
    const i = shardOf(key);
    const s = this.#writable(i);
    const before = s.size;
    s.set(key, value);
    this.#size += s.size - before;
    return this;
  }

  delete(key: K): boolean {
    const i = shardOf(key);
    if (!this.shards[i]?.has(key)) return false;
    const s = this.#writable(i);
    s.delete(key);
    this.#size--;
    if (s.size === 0) {
      this.shards[i] = undefined;
      this.#owned[i] = false;
    }
    return true;
  }

  clear(): void {
    this.shards.fill(undefined);
    this.#owned.fill(false);
    this.#size = 0;
  }

  forEach(cb: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this) cb.call(thisArg, v, k, this);
  }

  *entries(): MapIterator<[K, V]> {
    for (const s of this.shards) if (s) yield* s.entries();
  }

  *keys(): MapIterator<K> {
    for (const s of this.shards) if (s) yield* s.keys();
  }

  *values(): MapIterator<V> {
    for (const s of this.shards) if (s) yield* s.values();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'PMap';
  }
}

export class PSet<T> implements Set<T> {
  /** The members, by shard; undefined for an empty shard. */
  readonly shards: (Set<T> | undefined)[];
  #size: number;
  #owned: boolean[];

  private constructor(shards: (Set<T> | undefined)[], size: number) {
    this.shards = shards;
    this.#size = size;
    this.#owned = new Array<boolean>(SHARDS).fill(false);
  }

  static from<T>(values: Iterable<T>): PSet<T> {
    const s = new PSet<T>(new Array<Set<T> | undefined>(SHARDS).fill(undefined), 0);
    for (const v of values) s.add(v);
    return s;
  }

  fork(): PSet<T> {
    return new PSet(this.shards.slice(), this.#size);
  }

  get size(): number {
    return this.#size;
  }

  has(value: T): boolean {
    return this.shards[shardOf(value)]?.has(value) ?? false;
  }

  #writable(i: number): Set<T> {
    let s = this.shards[i];
    if (!this.#owned[i]) {
      s = new Set(s);
      this.shards[i] = s;
      this.#owned[i] = true;
    }
    return s!;
  }

  add(value: T): this {
    const s = this.#writable(shardOf(value));
    const before = s.size;
    s.add(value);
    this.#size += s.size - before;
    return this;
  }

  delete(value: T): boolean {
    const i = shardOf(value);
    if (!this.shards[i]?.has(value)) return false;
    const s = this.#writable(i);
    s.delete(value);
    this.#size--;
    if (s.size === 0) {
      this.shards[i] = undefined;
      this.#owned[i] = false;
    }
    return true;
  }

  clear(): void {
    this.shards.fill(undefined);
    this.#owned.fill(false);
    this.#size = 0;
  }

  forEach(cb: (value: T, value2: T, set: Set<T>) => void, thisArg?: unknown): void {
    for (const v of this) cb.call(thisArg, v, v, this);
  }

  *values(): SetIterator<T> {
    for (const s of this.shards) if (s) yield* s.values();
  }

  keys(): SetIterator<T> {
    return this.values();
  }

  *entries(): SetIterator<[T, T]> {
    for (const v of this.values()) yield [v, v];
  }

  [Symbol.iterator](): SetIterator<T> {
    return this.values();
  }

  get [Symbol.toStringTag](): string {
    return 'PSet';
  }
}

/** A private, writable copy of `m` for one fold: a plain copy when small, else a fork sharing the shards it does not write. */
export function forkMap<K, V>(m: ReadonlyMap<K, V>): Map<K, V> {
  if (m instanceof PMap) return m.size <= SMALL / 2 ? new Map(m) : m.fork();
  return m.size <= SMALL ? new Map(m) : PMap.from(m);
}

/** The same for a set (absent: a new empty one). */
export function forkSet<T>(s: ReadonlySet<T> | undefined): Set<T> {
  if (s === undefined) return new Set();
  if (s instanceof PSet) return s.size <= SMALL / 2 ? new Set(s) : s.fork();
  return s.size <= SMALL ? new Set(s) : PSet.from(s);
}
