/**
 * Host failure: heartbeats in, HostDown / HostUp and HA restarts out.
 *
 * - Heartbeats are watched (KV `VIRT_HEARTBEATS`) rather than polled, and
 *   judged by when this process saw each one change (the model's
 *   membership.ts), so no two clocks have to agree.
 * - A host silent for `downAfterMs` gets `HostDown {reason, lastSeen}`,
 *   appended on the host's stream at its version: two schedulers deciding it
 *   at once store it once (the loser reloads and finds the host down). Its
 *   domains keep their last recorded state; users see them as `unknown`
 *   (`presentedState`), as Nova shows an instance whose compute is down.
 * - Once the host's lease has run out (last beat + `downAfterMs` +
 *   `fenceDelayMs`), each of its active domains whose HA policy is `restart`
 *   is recorded stopped there (`DomainStopped FAILED`, the fenced error) at
 *   the domain's version, and only the scheduler whose append won hands it to
 *   `restart`, with the down host excluded. The host aggregate is read again
 *   just before, so a host that came back in between is left alone. With
 *   `resumeFenced` (the scheduler service: its restart is a queued job, one
 *   per fence) every round also hands on the domains fenced there that
 *   nothing started since, so a scheduler killed right after its fence does
 *   not leave them shut off for good.
 * - A beat that changes again → `HostUp`. The host's agent then destroys the
 *   copies the log placed elsewhere (host-agent fence.ts).
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  VirtError, decideMembership, fencedAwaitingRestart, fencedError, haCandidates, stillFenced, haPolicyOfXml, observeHeartbeats, startMembership,
  type DomainState, type HaPolicy, type MembershipAction, type MembershipConfig, type MembershipState,
} from '@virtflow/model';
import { domainRef, hostRef, openHeartbeats, type EventStore } from '@virtflow/runtime';
import { ClusterView } from './membership-view.ts';
import type { Logger } from './service.ts';
import type { StartArgs, StartResult } from './start.ts';


/** What the restart path is handed: the fenced domain as the log has it, and the hosts it must not go to. */
export interface RestartRequest {
  readonly uuid: string;
  /** The domain's version with the fence's DomainStopped: names this fence (one restart per fence). */
  readonly version: number;
  readonly state: DomainState;
  readonly downHost: string;
  readonly excludeHosts: readonly string[];
  readonly correlationId: string;
}

/** Starts a fenced domain elsewhere (the scheduler's start path); resolves with the host it runs on. */
export type RestartFn = (r: RestartRequest) => Promise<string | void>;

/**
 * The scheduler service's start path as a RestartFn: place (the down host
 * excluded, the domain's group and labels from its metadata), claim, start,
 * the next host on failure — exactly what a start job gets.
 */
export function serviceRestart(svc: { start(args: StartArgs): Promise<StartResult> }): RestartFn {
  return async (r) => (await svc.start({ uuid: r.uuid, correlationId: r.correlationId, hints: { excludeHosts: r.excludeHosts } })).hostId;
}

export interface MembershipOptions {
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly config: MembershipConfig;
  /** Without it, fenced domains are only recorded stopped (nobody restarts them). */
  readonly restart?: RestartFn;
  /**
   * Also hands to `restart` the domains fenced on a down host that nothing
   * started since (fencedAwaitingRestart: the scheduler that fenced them died
   * before their restart was under way). Only for a restart path that runs a
   * fence's restart once however many schedulers ask for it — the scheduler
   * service's, one queued job per fence (SchedulerService.restart).
   */
  readonly resumeFenced?: boolean;
  /** How often the decision runs (downAfterMs / 5, at least 100 ms). */
  readonly checkMs?: number;
  /** A view shared with the rest of the scheduler; one of its own otherwise. */
  readonly view?: ClusterView;
  readonly log?: Logger;
  readonly now?: () => number;
}

/** What happened, for tests, metrics and the operator. */
export interface MembershipRecord {
  readonly at: number;
  readonly kind: 'down' | 'up' | 'fenced' | 'restarted' | 'restart-failed';
  readonly hostId: string;
  readonly uuid?: string;
  readonly detail?: string;
}

const ACTIVE = new Set(['running', 'paused', 'shutdown', 'pmsuspended']);

export class Membership {
  readonly #o: MembershipOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #view: ClusterView;
  readonly #ownView: boolean;
  readonly #watch: Awaited<ReturnType<KV['watch']>>;
  readonly #watching: Promise<void>;
  readonly #policies = new Map<string, { version: number; policy: HaPolicy }>();
  readonly #restarts = new Set<Promise<void>>();
  /** `uuid@version` of each fence handed to restart by this process: asked once each. */
  readonly #handed = new Set<string>();
  readonly records: MembershipRecord[] = [];
  #state: MembershipState;
  #timer?: NodeJS.Timeout;
  #ticking?: Promise<void>;
  #stopped = false;

  private constructor(o: MembershipOptions, watch: Awaited<ReturnType<KV['watch']>>, view: ClusterView, ownView: boolean) {
    this.#o = o;
    this.#log = o.log ?? (() => undefined);
    this.#now = o.now ?? Date.now;
    this.#state = startMembership(this.#now());
    this.#watch = watch;
    this.#view = view;
    this.#ownView = ownView;
    this.#watching = this.#follow();
  }

  static async start(o: MembershipOptions): Promise<Membership> {
    // Validates the configuration before anything runs.
    decideMembership(startMembership(0), [], 0, o.config);
    // An existing bucket (the agents') is opened as it is; one is created when no agent has run yet.
    const kv = await openHeartbeats(o.nc);
    const watch = await kv.watch({ key: '>' });
    const view = o.view ?? ClusterView.open(o.store);
    const m = new Membership(o, watch, view, o.view === undefined);
    const every = o.checkMs ?? Math.max(100, Math.floor(o.config.downAfterMs / 5));
    m.#timer = setInterval(() => void m.tick(), every);
    return m;
  }

  get state(): MembershipState {
    return this.#state;
  }

  async #follow(): Promise<void> {
    for await (const e of this.#watch) {
      if (e.operation !== 'PUT') continue;
      try {
        const at = (JSON.parse(new TextDecoder().decode(e.value)) as { at?: unknown }).at;
        if (typeof at === 'string') this.#state = observeHeartbeats(this.#state, [[e.key, at]], this.#now());
      } catch {
        // not a heartbeat
      }
    }
  }

  /** One decision round; rounds never overlap. */
  tick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#ticking ??= this.#round().catch((e) => this.#log('warn', 'membership round failed: next round retries', { error: String(e) })).finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  async #round(): Promise<void> {
    const hosts = this.#view.hosts.hosts.values();
    for (const a of decideMembership(this.#state, hosts, this.#now(), this.#o.config)) {
      if (this.#stopped) return;
      if (a.kind === 'fence') await this.#fence(a.hostId);
      else await this.#mark(a);
    }
  }

  async #mark(a: Exclude<MembershipAction, { kind: 'fence' }>): Promise<void> {
    const ids = { correlationId: `membership-${a.hostId}`, causationId: 'membership' };
    const r = await this.#o.store.update(hostRef(a.hostId), ({ state }) => {
      if (!state?.registered) return [];
      if (a.kind === 'down') return state.up ? [{ type: 'HostDown' as const, data: { hostId: a.hostId, reason: a.reason, lastSeen: a.lastSeen } }] : [];
      return state.up ? [] : [{ type: 'HostUp' as const, data: { hostId: a.hostId } }];
    }, ids);
    if (r.events.length === 0) return;
    this.records.push({ at: this.#now(), kind: a.kind, hostId: a.hostId, ...(a.kind === 'down' ? { detail: a.reason } : {}) });
    this.#log(a.kind === 'down' ? 'warn' : 'info', a.kind === 'down' ? 'host down' : 'host up', { hostId: a.hostId, ...(a.kind === 'down' ? { reason: a.reason, lastSeen: a.lastSeen } : {}) });
  }

  #policy(uuid: string, version: number, xml: string): HaPolicy {
    const known = this.#policies.get(uuid);
    if (known?.version === version) return known.policy;
    let policy: HaPolicy = 'none';
    try {
      policy = haPolicyOfXml(xml);
    } catch (e) {
      this.#log('warn', 'domain has an unreadable HA policy: treated as none', { uuid, error: (e as Error).message, path: e instanceof VirtError ? e.path : undefined });
    }
    this.#policies.set(uuid, { version, policy });
    return policy;
  }

  async #fence(hostId: string): Promise<void> {
    const domains = this.#view.domains;
    const policy = (u: string) => {
      const r = domains.domains.get(u)!;
      return this.#policy(u, r.definitionVersion, r.xml);
    };
    const rows = [...(domains.byHost.get(hostId) ?? [])].map((u) => domains.domains.get(u)).filter((r) => r !== undefined);
    const candidates = haCandidates(hostId, rows, policy);
    const left = this.#o.restart && this.#o.resumeFenced
      ? fencedAwaitingRestart(hostId, domains.domains.values(), policy).filter((u) => !this.#handed.has(`${u}@${domains.domains.get(u)!.version}`))
      : [];
    if (candidates.length === 0 && left.length === 0) return;
    // The projection may lag: the host itself says whether it is still down.
    const host = (await this.#o.store.load(hostRef(hostId))).state;
    if (!host || host.up) return;
    const lastSeen = host.lastSeen ?? new Date(this.#state.since).toISOString();
    const correlationId = `ha-${hostId}-v${host.version}`;
    for (const uuid of candidates) {
      if (this.#stopped) return;
      const error = (name: string) => fencedError(hostId, name, lastSeen);
      const r = await this.#o.store.update(domainRef(uuid), ({ state }) => {
        if (!state?.defined || state.hostId !== hostId || state.migration || !ACTIVE.has(state.state)) return [];
        return [{ type: 'DomainStopped' as const, data: { uuid, hostId, detail: 'FAILED' as const, error: error(state.name) } }];
      }, { correlationId, causationId: 'membership' });
      // Another scheduler fenced it first (or it moved on): theirs to restart.
      if (r.events.length === 0) continue;
      this.records.push({ at: this.#now(), kind: 'fenced', hostId, uuid });
      this.#log('warn', 'domain fenced on down host', { uuid, hostId });
      await this.#handOn(uuid, hostId, correlationId);
    }
    for (const uuid of left) {
      if (this.#stopped) return;
      this.#log('warn', 'domain fenced on down host and not restarted since: restarting it', { uuid, hostId });
      await this.#handOn(uuid, hostId, correlationId);
    }
  }

  /** A fenced domain to the restart path, as the log has it now (still the fence's stop: else someone started it). */
  async #handOn(uuid: string, hostId: string, correlationId: string): Promise<void> {
    const { state } = await this.#o.store.load(domainRef(uuid));
    if (!this.#o.restart || !state || !stillFenced(state, hostId)) return;
    const key = `${uuid}@${state.version}`;
    if (this.#handed.has(key)) return;
    this.#handed.add(key);
    this.#track(this.#restart({ uuid, version: state.version, state, downHost: hostId, excludeHosts: [hostId], correlationId }));
  }

  async #restart(req: RestartRequest): Promise<void> {
    try {
      const on = await this.#o.restart!(req);
      this.records.push({ at: this.#now(), kind: 'restarted', hostId: req.downHost, uuid: req.uuid, ...(on ? { detail: on } : {}) });
      this.#log('info', 'HA domain restarted elsewhere', { uuid: req.uuid, from: req.downHost, on });
    } catch (e) {
      this.records.push({ at: this.#now(), kind: 'restart-failed', hostId: req.downHost, uuid: req.uuid, detail: (e as Error).message });
      this.#log('error', 'HA domain could not be restarted elsewhere: it stays shut off', { uuid: req.uuid, from: req.downHost, error: (e as Error).message });
    }
  }

  #track(p: Promise<void>): void {
    this.#restarts.add(p);
    void p.finally(() => this.#restarts.delete(p));
  }

  /** Stops deciding; waits for the round and the restarts under way. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#ticking;
    await Promise.all([...this.#restarts]);
    this.#watch.stop();
    await this.#watching.catch(() => undefined);
    if (this.#ownView) await this.#view.close();
  }
}
