/**
 * Shared set-up of the cluster tests: domains with scheduling metadata, and a
 * placer that starts domains where the model's placement says (the pure
 * filters and weighers over a live view of the log, start commands to the
 * chosen agents). It stands in for the scheduler service's start path so the
 * HA tests can run whatever state that service is in; membership hands it the
 * fenced domains through the same `RestartFn` the service's path will take.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TestHypervisorOptions } from '@virtflow/host-agent';
import {
  VirtError, applyClaim, makeCommand, metadataHints, parseDomainXML, place, placementRequest, buildInventory, formatExplain,
  type Claim, type InventoryConfig, type SchedulerConfig, type XmlElement,
} from '@virtflow/model';
import { CommandResultWatcher, sendCommand } from '@virtflow/runtime';
import type { ClusterView, RestartFn } from '@virtflow/scheduler';
import { startAgent, type TestAgent } from '../agent/support.ts';
import { startNats, type Nats } from '../events/support.ts';

export interface AgentCluster {
  readonly nats: Nats;
  /** The running agents by host id; a test that stops one deletes it, one it starts again is set again. */
  readonly agents: Map<string, TestAgent>;
  /** Host `h`'s test hypervisor: its state file in the cluster's folder, so an agent started again finds what ran. */
  hv(h: string): TestHypervisorOptions;
  /** Run when the test ends, last added first, before the agents stop and the servers go. */
  readonly cleanups: Array<() => Promise<unknown>>;
}

/** In-process agents (test hypervisor) for `hosts` on a private nats-server (and redis-server with `withRedis`), torn down when the test ends. */
export async function startAgentCluster(
  t: TestContext, hosts: readonly string[], opts: { readonly heartbeatMs: number; readonly withRedis?: boolean; readonly hv?: TestHypervisorOptions },
): Promise<AgentCluster> {
  const nats = await startNats({ withRedis: opts.withRedis === true });
  const dir = mkdtempSync(join(tmpdir(), 'virtflow-cluster-'));
  const agents = new Map<string, TestAgent>();
  const cleanups: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    for (const a of agents.values()) await a.agent.stop().catch(() => undefined);
    await nats.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hv = (h: string): TestHypervisorOptions => ({ stateFile: join(dir, `${h}.json`), ...opts.hv });
  for (const h of hosts) agents.set(h, await startAgent(nats, h, hv(h), { heartbeatMs: opts.heartbeatMs }));
  return { nats, agents, hv, cleanups };
}

export const SCHEDULING_NS = 'https://virtflow.dev/xmlns/scheduling/1.0';

export interface DomainSpec {
  readonly name: string;
  readonly uuid: string;
  readonly memoryMiB?: number;
  readonly group?: { readonly name: string; readonly policy: string; readonly maxPerHost?: number };
  readonly ha?: 'restart' | 'none';
}

/** A kvm domain (the qemu driver keeps `<metadata>`; the test driver would drop it) with its scheduling group and HA policy. */
export function clusterDomainXml(d: DomainSpec): string {
  const group = d.group ? `<vf:group name='${d.group.name}' policy='${d.group.policy}'${d.group.maxPerHost ? ` maxPerHost='${d.group.maxPerHost}'` : ''}/>` : '';
  const ha = d.ha ? `<vf:ha policy='${d.ha}'/>` : '';
  return `<domain type='kvm'>
  <name>${d.name}</name>
  <uuid>${d.uuid}</uuid>
  <memory unit='MiB'>${d.memoryMiB ?? 128}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <metadata><vf:scheduling xmlns:vf='${SCHEDULING_NS}'>${group}${ha}</vf:scheduling></metadata>
</domain>
`;
}

/** Places and starts domains one decision at a time (decisions see the claims of starts still under way). */
export class Placer {
  readonly #nc: NatsConnection;
  readonly #view: ClusterView;
  readonly #watcher: CommandResultWatcher;
  readonly #inventory: InventoryConfig;
  readonly #scheduler: SchedulerConfig;
  readonly #pending = new Map<string, Claim>();
  #decisions: Promise<unknown> = Promise.resolve();
  readonly timeoutMs: number;

  private constructor(nc: NatsConnection, view: ClusterView, watcher: CommandResultWatcher, o: { inventory?: InventoryConfig; scheduler?: SchedulerConfig; timeoutMs?: number }) {
    this.#nc = nc;
    this.#view = view;
    this.#watcher = watcher;
    this.#inventory = o.inventory ?? {};
    this.#scheduler = o.scheduler ?? {};
    this.timeoutMs = o.timeoutMs ?? 60_000;
  }

  static async open(nc: NatsConnection, view: ClusterView, o: { inventory?: InventoryConfig; scheduler?: SchedulerConfig; timeoutMs?: number } = {}): Promise<Placer> {
    return new Placer(nc, view, await CommandResultWatcher.open(nc), o);
  }

  /** The host the placement picks for a defined domain; its claim is held until the start is over. */
  #decide(uuid: string, excludeHosts: readonly string[]): Promise<Claim> {
    const next = this.#decisions.then(async () => {
      await this.#view.sync();
      const domains = this.#view.domains;
      const row = domains.domains.get(uuid);
      if (!row?.defined) throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`, '/uuid');
      const def = parseDomainXML(row.xml);
      const group = metadataHints(def.metadata as XmlElement | undefined).group;
      const members = group ? [...domains.domains.values()].filter((r) => r.uuid !== uuid && metadataHints(parseDomainXML(r.xml).metadata as XmlElement | undefined).group?.name === group.name).map((r) => r.uuid) : [];
      const req = placementRequest(def, { hints: { ...(group ? { group: { ...group, members } } : {}), ...(excludeHosts.length ? { excludeHosts } : {}) } });
      // Claims of starts still under way, which the log may not show yet.
      let inv = buildInventory(this.#view.hosts, this.#inventory);
      for (const c of this.#pending.values()) inv = applyClaim(inv, c);
      const p = place(inv, req, this.#scheduler);
      if (!p.claim) throw new VirtError('OPERATION_FAILED', `${p.summary}\n${formatExplain(p)}`, `/domains/${uuid}`);
      this.#pending.set(uuid, p.claim);
      return p.claim;
    });
    this.#decisions = next.catch(() => undefined);
    return next;
  }

  /** Starts a defined domain on the host the placement picks; resolves with that host. */
  async start(uuid: string, excludeHosts: readonly string[] = []): Promise<string> {
    const claim = await this.#decide(uuid, excludeHosts);
    try {
      const cmd = makeCommand('start', { hostId: claim.hostId, uuid }, {}, { correlationId: `place-${uuid}`, now: () => new Date(), newId: randomUUID });
      await sendCommand(this.#nc, cmd);
      const o = await this.#watcher.wait(cmd, this.timeoutMs);
      if (o.status !== 'completed') throw VirtError.fromJSON(o.error ?? { code: 'INTERNAL_ERROR', message: `start of ${uuid} on '${claim.hostId}' failed` });
      // The view holds the placement once it has the events; the claim can go.
      await this.#view.sync();
      return claim.hostId;
    } finally {
      this.#pending.delete(uuid);
    }
  }

  /** Membership's restart path: the same placement, the down host excluded. */
  readonly restart: RestartFn = (r) => this.start(r.uuid, r.excludeHosts);

  async close(): Promise<void> {
    await this.#watcher.close();
  }
}
