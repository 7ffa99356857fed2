/**
 * Shared by the migration suites: the scheduler's view of the cluster as the
 * model's inventory, folded from every event of the stream; and the rig the
 * in-process suites migrate with (startMigrateRig).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TestHypervisorOptions } from '@virtflow/host-agent';
import { emptyInventory, foldInventory, subjects, type AnyEvent, type Inventory, type InventoryConfig } from '@virtflow/model';
import { CommandResultWatcher, type EventStore, type EventSubscription } from '@virtflow/runtime';
import { claimsContext, claimsPort, type ClaimsContext } from '@virtflow/scheduler';
import type { MigrateContext } from '../../services/scheduler/src/migrate.ts';
import { freePort } from '../harness/index.ts';
import { TIMEOUT, command, domainXml, startAgent, startNats, waitFor, type Nats, type TestAgent } from '../agent/support.ts';

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

export const GiB = 1024 * 1024;

/** An event in a line the suites compare: `DomainStopped FAILED@h2`, `DomainMigrating@h1->h2`. */
export function show(e: AnyEvent): string {
  if (e.type === 'DomainMigrating') return `${e.type}@${e.data.fromHost}->${e.data.toHost}`;
  return `${e.type}${'detail' in e.data ? ` ${e.data.detail}` : ''}@${'hostId' in e.data ? e.data.hostId : '?'}`;
}
/** No host reservation, so the synthetic hosts' sizes are what placement hands out. */
export const MIGRATE_INVENTORY: InventoryConfig = { policy: { reservedHostMemoryKiB: 0 } };

/** What the migration suites drive: in-process agents on the test hypervisor and a MigrateContext over them. */
export interface MigrateRig {
  readonly nats: Nats;
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly claims: ClaimsContext;
  /** hostId → its agent; a suite that stops one deletes it here so `close` does not stop it again. */
  readonly agents: Map<string, TestAgent>;
  /** The scheduler's side: the stream's inventory, claimsContext's claims, one command watcher, a free migration port. */
  readonly ctx: MigrateContext;
  /** Defines a domain and boots it on `hostId`, with the scheduler's claim there (as its start flow leaves it). */
  running(hostId: string, name: string, memoryMiB?: number): Promise<string>;
  /** The domain runs on `hostId` as its hypervisor sees it. */
  runsOn(hostId: string, uuid: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Starts nats-server, one agent per entry of `hosts` (its test hypervisor's
 * options), and the MigrateContext the suites migrate with; `opts` is added
 * to that context (progress, the cold move's grace period).
 */
export async function startMigrateRig(
  hosts: Readonly<Record<string, TestHypervisorOptions>>, opts: Partial<Pick<MigrateContext, 'progress' | 'shutdownGraceMs'>> = {},
): Promise<MigrateRig> {
  const nats = await startNats();
  const agents = new Map<string, TestAgent>();
  let view: StreamInventory | undefined;
  let watcher: CommandResultWatcher | undefined;
  const close = async () => {
    await watcher?.close();
    await view?.close();
    for (const a of agents.values()) await a.agent.stop();
    await nats.close();
  };
  try {
    for (const [hostId, hv] of Object.entries(hosts)) agents.set(hostId, await startAgent(nats, hostId, hv));
    const nc = await nats.connect();
    const store = await nats.store();
    const stream = new StreamInventory(store, MIGRATE_INVENTORY);
    view = stream;
    watcher = await CommandResultWatcher.open(nc);
    let inv = emptyInventory(MIGRATE_INVENTORY);
    const claims = claimsContext({
      store,
      inventory: MIGRATE_INVENTORY,
      // Domains started straight on a host hold no claim there: they count by their placement.
      occupants: (hostId) => [...(inv.occupants.get(hostId) ?? [])].map((u) => [u, inv.lifecycles.get(u)!] as const),
    });
    const ctx: MigrateContext = {
      store, nc, watcher, newId: randomUUID, now: () => new Date(),
      inventory: async () => (inv = await stream.current()),
      claims: claimsPort(claims),
      migrationPort: () => freePort(),
      timeoutMs: TIMEOUT,
      ...opts,
    };
    const running = async (hostId: string, name: string, memoryMiB = 256): Promise<string> => {
      const uuid = randomUUID();
      const d = await command(nc, hostId, 'define', uuid, { xml: domainXml(name, uuid, memoryMiB) });
      assert.equal(d.outcome.status, 'completed', JSON.stringify(d.outcome.error));
      const r = await ctx.claims.claim({ uuid, hostId, memoryKiB: memoryMiB * 1024, vcpus: 2 }, { correlationId: `start-${name}` });
      assert.equal(r.ok, true, JSON.stringify(r));
      const s = await command(nc, hostId, 'start', uuid, {});
      assert.equal(s.outcome.status, 'completed', JSON.stringify(s.outcome.error));
      return uuid;
    };
    const runsOn = async (hostId: string, uuid: string) => (await agents.get(hostId)!.hv.list()).some((d) => d.uuid === uuid && d.state === 'running');
    return { nats, nc, store, claims, agents, ctx, running, runsOn, close };
  } catch (e) {
    // A half-built rig is torn down here: the suite's `after` has nothing to close it with.
    await close().catch(() => undefined);
    throw e;
  }
}
