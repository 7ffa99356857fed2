/**
 * Shared by the migration suites: the scheduler's view of the cluster as the
 * model's inventory, folded from every event of the stream.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { emptyInventory, foldInventory, subjects, type AnyEvent, type Inventory, type InventoryConfig } from '@virtflow/model';
import type { EventStore, EventSubscription } from '@virtflow/runtime';
import { waitFor } from '../agent/support.ts';

/**
 * `current()` first waits until everything in the stream when it is called
 * has arrived, so a decision sees the writes made before it.
 */
export class StreamInventory {
  #inv: Inventory;
  #buffer: AnyEvent[] = [];
  #seen = 0;
  readonly #sub: EventSubscription;
  readonly #loop: Promise<void>;
  readonly store: EventStore;

  constructor(store: EventStore, config: InventoryConfig = {}) {
    this.store = store;
    this.#inv = emptyInventory(config);
    // Name claims share the subject space and are not events: they only move the position.
    const onPoison = (p: { seq: number }) => void (this.#seen = Math.max(this.#seen, p.seq));
    const sub = store.subscribe(subjects.all(), { from: 'all', batch: 1_000, onPoison });
    this.#sub = sub;
    this.#loop = (async () => {
      for await (const d of sub) {
        this.#buffer.push(d.event);
        this.#seen = d.seq;
      }
    })();
  }

  async current(): Promise<Inventory> {
    const jsm = await jetstreamManager(this.store.nc);
    const last = (await jsm.streams.info(this.store.stream)).state.last_seq;
    await waitFor(`the inventory to reach stream sequence ${last}`, async () => (this.#seen >= last ? true : undefined));
    if (this.#buffer.length) {
      this.#inv = foldInventory(this.#inv, this.#buffer);
      this.#buffer = [];
    }
    return this.#inv;
  }

  async close(): Promise<void> {
    this.#sub.stop();
    await this.#loop;
  }
}
