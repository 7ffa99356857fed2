/**
 * A domain's iothread ids as libvirt numbers them (virDomainIOThreadIDDefArrayInit):
 * those listed in <iothreadids>, in their order, then the lowest free ids until
 * there are <iothreads> of them. Kept as a rule rather than a list: a count of
 * millions (the fuzzer's `<iothreads>4194304</iothreads>`) must not allocate
 * millions of ids, and a membership test must not scan them.
 */
export class IothreadIds {
  /** The ids <iothreadids> lists, in its order. */
  readonly listed: readonly number[];
  /** How many ids the domain has: the count given, or more when more are listed. */
  readonly size: number;
  readonly #listedSet: ReadonlySet<number>;
  /** The highest id added to complete the count (0: none added). */
  readonly #lastAdded: number;

  constructor(listed: readonly number[], count: number) {
    this.listed = listed;
    this.#listedSet = new Set(listed);
    const added = Math.max(0, count - this.#listedSet.size);
    this.size = this.#listedSet.size + added;
    // The added ids are 1, 2, ... skipping the listed ones: the added-th free id is the last.
    let last = added;
    for (const id of [...this.#listedSet].sort((a, b) => a - b)) if (added > 0 && id <= last) last++;
    this.#lastAdded = added > 0 ? last : 0;
  }

  has(id: number): boolean {
    return this.#listedSet.has(id) || (Number.isInteger(id) && id >= 1 && id <= this.#lastAdded);
  }

  /** The ones of `ids` the domain has, in libvirt's order: listed ones as listed, then the added ones ascending. */
  order(ids: Iterable<number>): number[] {
    const position = new Map(this.listed.map((id, i) => [id, i] as const));
    const rank = (id: number) => position.get(id) ?? this.listed.length + id;
    return [...new Set(ids)].filter((id) => this.has(id)).sort((a, b) => rank(a) - rank(b));
  }
}
