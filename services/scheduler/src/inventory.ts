/**
 * The scheduler's live view of the cluster: every host with its facts,
 * claims and free resources (the placement's Inventory), where each domain
 * lives (the domains projection), and the hosts' heartbeats. Both are folds
 * of the event stream, followed from its first event by one ordered
 * consumer; events are folded in batches when someone asks (`current()`),
 * not one by one, since each fold copies the maps it touches.
 *
 * The scheduler's own appends are folded at once (`applyLocal`), so its
 * next decision sees its last claim before the event comes back from the
 * stream; folding that event again changes nothing (claims and placements
 * set, they do not add).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import {
  domainOf, emptyInventory, foldInventory, projectDomains, subjects,
  type AnyEvent, type DomainRow, type DomainsProjection, type HostClaim, type Inventory, type InventoryConfig,
} from '@virtflow/model';
import { followTarget, readHeartbeats, type EventStore, type EventSubscription, type Heartbeat, type PoisonReport } from '@virtflow/runtime';

/** A stop seen in the stream: the claim the host held for the domain then (if any) is the one to give back. */
export interface StopSeen {
  readonly seq: number;
  readonly uuid: string;
  readonly hostId: string;
  readonly detail: string;
  /** HostClaim.id of the claim held on the host for the domain when the stop was seen. */
  readonly claimId: string | undefined;
  readonly correlationId: string;
}

export interface LiveInventoryOptions {
  readonly config?: InventoryConfig;
  /** Called for each event as it is read (after the claim index moved on), in stream order. */
  readonly onEvent?: (event: AnyEvent, seq: number) => void;
  /** Called for each DomainStopped, with the claim it ends. */
  readonly onStop?: (stop: StopSeen) => void;
  readonly onError?: (e: unknown) => void;
}

/** Name claims share the events' subject space but are not events. */
const NAMES = subjects.allNames().slice(0, -1);

const claimKey = (hostId: string, uuid: string) => `${hostId}\u0000${uuid}`;

export class LiveInventory {
  readonly #store: EventStore;
  readonly #opts: LiveInventoryOptions;
  #inventory: Inventory;
  #domains: DomainsProjection = projectDomains.empty();
  #pending: Array<{ seq: number; event: AnyEvent }> = [];
  /** Read and folded into the inventory, not yet into the domains projection. */
  #domainsPending: Array<{ seq: number; event: AnyEvent }> = [];
  /** host + uuid → id of the claim event in force, as of the last event read: which claim a stop ends. */
  readonly #claims = new Map<string, string>();
  /**
   * uuid → hostId → the claim the host holds for the domain, as the host's
   * facts have it with every event read or applied so far (the same rule as
   * reduceHostFacts: a claim replaces the domain's claim on the host, a
   * release drops it), so a start finds its domain's claims without folding
   * the inventory or going through every host.
   */
  readonly #claimsByDomain = new Map<string, Map<string, HostClaim>>();
  /** uuid → the version of the domain's last event read. */
  readonly #versions = new Map<string, number>();
  #seq = 0;
  #failure: unknown;
  #sub: EventSubscription | undefined;
  #loop: Promise<void> | undefined;
  readonly #waiters = new Set<{ seq: number; resolve: () => void }>();

  private constructor(store: EventStore, opts: LiveInventoryOptions) {
    this.#store = store;
    this.#opts = opts;
    this.#inventory = emptyInventory(opts.config ?? {});
  }

  /** Follows the stream from its first event; resolves once everything stored when it was called is folded. */
  static async open(store: EventStore, opts: LiveInventoryOptions = {}): Promise<LiveInventory> {
    const live = new LiveInventory(store, opts);
    live.#start();
    await live.caughtUp();
    return live;
  }

  #start(): void {
    // Name claims share the stream (virt.evt.name.>) and are not events: skipped, but their sequence counts.
    const onPoison = (p: PoisonReport) => {
      this.#advance(p.seq);
      if (!p.subject.startsWith(NAMES)) console.warn(`virtflow-scheduler: skipped message ${p.seq} on ${p.subject}: ${p.error.message}`);
    };
    const sub = (this.#sub = this.#store.subscribe(subjects.all(), { from: 'all', onPoison, batch: 1024 }));
    this.#loop = (async () => {
      for await (const d of sub) this.#read(d.event, d.seq);
    })().catch((e) => {
      this.#failure = e;
      (this.#opts.onError ?? ((err) => console.error('virtflow-scheduler: the inventory stopped following the stream:', err)))(e);
    });
  }

  #read(event: AnyEvent, seq: number): void {
    this.#pending.push({ seq, event });
    this.#indexClaim(event);
    const uuid = domainOf(event);
    if (uuid !== undefined) this.#versions.set(uuid, event.version);
    switch (event.type) {
      case 'HostResourcesClaimed':
        this.#claims.set(claimKey(event.data.hostId, event.data.uuid), event.id);
        break;
      case 'HostResourcesReleased':
        this.#claims.delete(claimKey(event.data.hostId, event.data.uuid));
        break;
      case 'DomainStopped': {
        const { uuid, hostId, detail } = event.data;
        this.#opts.onStop?.({ seq, uuid, hostId, detail, claimId: this.#claims.get(claimKey(hostId, uuid)), correlationId: event.correlationId });
        break;
      }
    }
    this.#opts.onEvent?.(event, seq);
    this.#advance(seq);
    // Nobody asked for a while (an idle scheduler): fold what is there rather than hold it all.
    if (this.#pending.length >= 8192) this.#flush();
  }

  /** #claimsByDomain with `event` (in the order the inventory folds them). */
  #indexClaim(event: AnyEvent): void {
    if (event.type === 'HostResourcesClaimed') {
      const { hostId, uuid, ...claim } = event.data;
      const held: HostClaim = { ...claim, id: event.id, correlationId: event.correlationId };
      const hosts = this.#claimsByDomain.get(uuid);
      if (hosts) hosts.set(hostId, held);
      else this.#claimsByDomain.set(uuid, new Map([[hostId, held]]));
    } else if (event.type === 'HostResourcesReleased') {
      const { uuid, hostId } = event.data;
      const hosts = this.#claimsByDomain.get(uuid);
      if (hosts?.delete(hostId) && hosts.size === 0) this.#claimsByDomain.delete(uuid);
    }
  }

  #advance(seq: number): void {
    if (seq <= this.#seq) return;
    this.#seq = seq;
    for (const w of this.#waiters) {
      if (w.seq <= seq) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }

  /** Why the inventory stopped following the stream, if it did: its view no longer moves (/healthz says so). */
  get failure(): unknown {
    return this.#failure;
  }

  /** The stream sequence folded so far. */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Resolves once every message the stream held when called has been read
   * (the last one it still stores at least: followTarget): true, or false when
   * `timeoutMs` ran out first.
   */
  async caughtUp(timeoutMs?: number): Promise<boolean> {
    const last = await followTarget(this.#store.jsm, this.#store.stream, this.#seq);
    if (last <= this.#seq) return true;
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const w = { seq: last, resolve: () => (clearTimeout(timer), resolve(true)) };
      this.#waiters.add(w);
      if (timeoutMs !== undefined) timer = setTimeout(() => (this.#waiters.delete(w), resolve(false)), timeoutMs);
    });
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    const items = this.#pending;
    this.#pending = [];
    this.#inventory = foldInventory(this.#inventory, items.map((i) => i.event));
    // The domains projection is asked for rarely (placement reads the inventory): folded when it is, or in big batches.
    for (const i of items) this.#domainsPending.push(i);
    if (this.#domainsPending.length >= 8192) this.#flushDomains();
  }

  #flushDomains(): void {
    this.#flush();
    if (this.#domainsPending.length === 0) return;
    const items = this.#domainsPending;
    this.#domainsPending = [];
    this.#domains = projectDomains.applyAll(this.#domains, items);
  }

  /** The inventory with everything read so far. */
  current(): Inventory {
    this.#flush();
    return this.#inventory;
  }

  /** Where each domain is, with everything read so far. */
  domains(): DomainsProjection {
    this.#flushDomains();
    return this.#domains;
  }

  domain(uuid: string): DomainRow | undefined {
    return projectDomains.get(this.domains(), uuid);
  }

  /** Folds events this scheduler has just appended, before they come back from the stream. */
  applyLocal(events: readonly AnyEvent[]): void {
    this.#flush();
    for (const e of events) this.#indexClaim(e);
    this.#inventory = foldInventory(this.#inventory, events);
  }

  /** hostId → the claim each host holds for the domain, with everything read and applied so far. */
  claimsOfDomain(uuid: string): Map<string, HostClaim> {
    return new Map(this.#claimsByDomain.get(uuid));
  }

  /** The domains holding a claim in scheduling group `name`, on any host. */
  groupMembers(name: string): string[] {
    const out: string[] = [];
    for (const facts of this.current().facts.values()) {
      for (const [uuid, c] of Object.entries(facts.claims ?? {})) if (c.group === name) out.push(uuid);
    }
    return out;
  }

  /** The domain's version as of the last event read (undefined: none read). */
  versionOf(uuid: string): number | undefined {
    return this.#versions.get(uuid);
  }

  /** The id of the claim a host holds for a domain, as of the last event read. */
  claimOf(hostId: string, uuid: string): string | undefined {
    return this.#claims.get(claimKey(hostId, uuid));
  }

  /** Every host's last heartbeat with its age (KV VIRT_HEARTBEATS). */
  heartbeats(nc: NatsConnection): Promise<Map<string, Heartbeat & { readonly ageMs: number }>> {
    return readHeartbeats(nc);
  }

  async close(): Promise<void> {
    this.#sub?.stop();
    await this.#loop;
    for (const w of this.#waiters) w.resolve();
    this.#waiters.clear();
  }
}
