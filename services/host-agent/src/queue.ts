/**
 * Work per key in order, keys in parallel: the commands and lifecycle changes
 * of one domain are handled one after another (each decides on the state the
 * previous one left), different domains at once.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();
  #size = 0;

  /** Runs `fn` after everything queued before it under `key`; resolves or rejects with it. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    this.#size++;
    const result = prev.then(fn);
    const tail = result.then(() => undefined, () => undefined).finally(() => {
      this.#size--;
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    this.#tails.set(key, tail);
    return result;
  }

  /** Work queued or running. */
  get size(): number {
    return this.#size;
  }

  /** Resolves when everything queued so far has finished. */
  async idle(): Promise<void> {
    while (this.#tails.size) await Promise.all([...this.#tails.values()]);
  }
}
