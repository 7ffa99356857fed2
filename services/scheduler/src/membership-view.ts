/**
 * The cluster as membership reads it: the hosts and domains projections,
 * folded in memory from the whole event stream. Deliveries are buffered as
 * they arrive and folded in one batch when someone reads (`flush`), since the
 * projections copy each touched map once per batch, not once per event.
 *
 * It may lag the log by the deliveries in flight: every decision made from it
 * is checked again against the aggregate at append time (expected versions).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { projectDomains, projectHosts, subjects, type DomainsProjection, type HostsProjection, type Sequenced } from '@virtflow/model';
import { followTarget, logPoison, type EventStore, type EventSubscription, type PoisonHandler } from '@virtflow/runtime';

/** Name claims share the events' subject space but are not events. */
const NAMES = subjects.allNames().slice(0, -1);

export class ClusterView {
  readonly #store: EventStore;
  readonly #sub: EventSubscription;
  readonly #loop: Promise<void>;
  #buffer: Sequenced[] = [];
  #seen = 0;
  #hosts: HostsProjection = projectHosts();
  #domains: DomainsProjection = projectDomains();
  #failure: unknown;

  private constructor(store: EventStore, onPoison: PoisonHandler) {
    this.#store = store;
    const poison: PoisonHandler = (p) => {
      this.#seen = Math.max(this.#seen, p.seq);
      if (!p.subject.startsWith(NAMES)) onPoison(p);
    };
    this.#sub = store.subscribe(subjects.all(), { from: 'all', batch: 1_000, onPoison: poison });
    this.#loop = this.#run();
  }

  /** Starts following the stream from its first event. */
  static open(store: EventStore, opts: { readonly onPoison?: PoisonHandler } = {}): ClusterView {
    return new ClusterView(store, opts.onPoison ?? logPoison);
  }

  async #run(): Promise<void> {
    try {
      for await (const d of this.#sub) {
        this.#buffer.push({ seq: d.seq, event: d.event });
        this.#seen = d.seq;
      }
    } catch (e) {
      this.#failure = e;
    }
  }

  /** Folds what has arrived. */
  flush(): void {
    if (this.#failure) throw this.#failure;
    if (this.#buffer.length === 0) return;
    const items = this.#buffer;
    this.#buffer = [];
    this.#hosts = projectHosts.applyAll(this.#hosts, items);
    this.#domains = projectDomains.applyAll(this.#domains, items);
  }

  get hosts(): HostsProjection {
    this.flush();
    return this.#hosts;
  }

  get domains(): DomainsProjection {
    this.flush();
    return this.#domains;
  }

  /** Waits until everything the stream holds when called has been delivered (followTarget), then folds it. */
  async sync(timeoutMs = 30_000): Promise<void> {
    const jsm = await jetstreamManager(this.#store.nc);
    const last = await followTarget(jsm, this.#store.stream, this.#seen);
    const deadline = Date.now() + timeoutMs;
    while (this.#seen < last) {
      if (this.#failure) throw this.#failure;
      if (Date.now() > deadline) throw new Error(`cluster view did not reach stream sequence ${last} within ${timeoutMs} ms (at ${this.#seen})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.flush();
  }

  async close(): Promise<void> {
    this.#sub.stop();
    await this.#loop;
  }
}
