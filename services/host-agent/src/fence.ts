/**
 * Fencing, the agent's half: a host that was cut off may come back to find
 * that the scheduler declared it down and started its HA domains elsewhere.
 * The event store says where each domain lives now, so the agent asks it
 * about every domain its hypervisor runs and destroys the copies the log
 * places on another host (or fenced here and has not started since): they
 * are stale, and a second copy of a guest writing to the same disks is the
 * one thing HA must never cause. Each one is reported as `DomainStopped
 * DESTROYED` from this host, with an error saying where the domain went;
 * nothing is ever restarted here on the log's behalf.
 *
 * When the check runs: at start, when the connection to NATS comes back, when
 * the host's own record changes (HostDown, HostUp: a partition long enough for
 * the scheduler to notice may not break the TCP connection at all, so a
 * reconnect alone is no signal), and every `fullMs` in case a scheduler's
 * fence landed just after the host came back. A domain's check runs in the
 * domain's queue, after the commands before it.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { VirtError, staleCopy, type DomainState } from '@virtflow/model';
import { aggregateSubjects, domainRef, hostRef, type EventStore } from '@virtflow/runtime';
import type { Hypervisor } from './hypervisor/types.ts';
import type { Logger } from './log.ts';

export interface FenceContext {
  readonly hostId: string;
  readonly store: EventStore;
  readonly hypervisor: Hypervisor;
  readonly log: Logger;
  /** Runs `fn` in the domain's queue (after the commands and changes before it). */
  readonly serialize: <T>(uuid: string, fn: () => Promise<T>) => Promise<T>;
}

export interface Fenced {
  readonly uuid: string;
  readonly movedTo?: string;
  readonly why: string;
}

export interface FenceReport {
  readonly checked: number;
  readonly destroyed: readonly Fenced[];
}

/** Destroys every local copy the log calls stale; returns what it did. */
export async function fenceStaleCopies(ctx: FenceContext): Promise<FenceReport> {
  const local = await ctx.hypervisor.list();
  const destroyed: Fenced[] = [];
  await Promise.all(local.map((d) => ctx.serialize(d.uuid, async () => {
    const f = await fenceOne(ctx, d.uuid);
    if (f) destroyed.push(f);
  })));
  return { checked: local.length, destroyed: destroyed.sort((a, b) => (a.uuid < b.uuid ? -1 : 1)) };
}

async function fenceOne(ctx: FenceContext, uuid: string): Promise<Fenced | undefined> {
  const { state } = await ctx.store.load(domainRef(uuid));
  const stale = staleCopy(state, ctx.hostId);
  if (!state || !stale) return undefined;
  ctx.log('warn', 'destroying a stale copy: the event log says the domain is not here', { uuid, name: state.name, movedTo: stale.movedTo, why: stale.why });
  try {
    await ctx.hypervisor.destroy(uuid);
  } catch (e) {
    // Gone already (it stopped on its own in between): nothing runs twice either way.
    if (!(await ctx.hypervisor.list()).some((d) => d.uuid === uuid)) return undefined;
    throw e;
  }
  await report(ctx, state, stale);
  return { uuid, ...stale };
}

/**
 * The stop from this host, appended whatever the domain's state: the
 * reducers leave a domain living elsewhere as it is (a stop from a host it
 * does not live on is about a stale copy), so the report is for the record.
 */
async function report(ctx: FenceContext, prior: DomainState, stale: { readonly movedTo?: string; readonly why: string }): Promise<void> {
  const { uuid } = prior;
  const error = new VirtError('OPERATION_INVALID', `domain '${prior.name}' ${stale.movedTo ? `moved to host '${stale.movedTo}'` : 'was fenced'} while host '${ctx.hostId}' was away: its copy here was destroyed, not restarted`, `/hosts/${ctx.hostId}/domains/${uuid}`).toJSON();
  try {
    await ctx.store.update(domainRef(uuid), ({ state }) => (staleCopy(state, ctx.hostId) ? [{
      type: 'DomainStopped' as const,
      data: { uuid, hostId: ctx.hostId, detail: 'DESTROYED' as const, error },
    }] : []), { correlationId: 'agent', causationId: 'fence' });
  } catch (e) {
    ctx.log('warn', 'stale copy destroyed but not reported', { uuid, error: String(e) });
  }
}

export interface FencerOptions extends FenceContext {
  readonly nc: NatsConnection;
  /** How often the host's own record is read for a change (the heartbeat period). */
  readonly checkMs: number;
  /** A full check at this period whatever happened (60 s; 0: never). */
  readonly fullMs?: number;
  readonly onFenced?: (f: Fenced) => void;
}

/** The host's events that change how it was judged (up or down, and since when: reduceHostFacts); claims do not. */
const JUDGED_BY = ['HostRegistered', 'HostCapabilitiesReported', 'HostDown', 'HostUp'] as const;

/**
 * Where the host's judgement stands in the log: the last sequence of each of
 * its JUDGED_BY subjects. A change of judgement is a new message on one of
 * them; reading their heads is a few indexed lookups, where loading the host
 * would read every claim and release on it since its snapshot.
 */
async function judgement(store: EventStore, hostId: string): Promise<string> {
  const subj = aggregateSubjects(hostRef(hostId));
  const heads = await Promise.all(JUDGED_BY.map((t) => store.jsm.direct.getMessage(store.stream, { last_by_subj: subj.event(t) })));
  return heads.map((m) => m?.seq ?? 0).join('|');
}

/** Runs the fence check when the host may have been judged down; see the file comment. */
export class Fencer {
  readonly #o: FencerOptions;
  readonly #timers: NodeJS.Timeout[] = [];
  #seen?: string;
  #running?: Promise<void>;
  #again = false;
  #stopped = false;
  #status?: Promise<void>;

  constructor(o: FencerOptions) {
    this.#o = o;
  }

  /** Checks once now, then keeps watching. */
  async start(): Promise<void> {
    await this.#pass('start');
    this.#timers.push(setInterval(() => void this.#poll(), this.#o.checkMs));
    const fullMs = this.#o.fullMs ?? 60_000;
    if (fullMs > 0) {
      // The first full check at a random point of the period: agents started together (a cluster booting,
      // a benchmark's hundred) would otherwise all load every domain they run in the same second, every period.
      this.#timers.push(setTimeout(() => {
        if (this.#stopped) return;
        void this.trigger('periodic');
        this.#timers.push(setInterval(() => void this.trigger('periodic'), fullMs));
      }, Math.random() * fullMs));
    }
    this.#status = this.#watchConnection();
  }

  async #watchConnection(): Promise<void> {
    for await (const s of this.#o.nc.status()) {
      if (this.#stopped) return;
      if (s.type === 'reconnect') void this.trigger('reconnected');
    }
  }

  async #poll(): Promise<void> {
    try {
      const j = await judgement(this.#o.store, this.#o.hostId);
      if (this.#seen !== undefined && j !== this.#seen) void this.trigger('host record changed');
      this.#seen = j;
    } catch {
      // Cut off: the next poll after the link is back will tell.
    }
  }

  /** Runs a check (one at a time; a trigger during a check runs another after it). */
  trigger(why: string): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#pass(why).finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.trigger('again');
      }
    });
    return this.#running;
  }

  async #pass(why: string): Promise<void> {
    try {
      const r = await fenceStaleCopies(this.#o);
      for (const f of r.destroyed) this.#o.onFenced?.(f);
      if (r.destroyed.length) this.#o.log('warn', 'stale copies destroyed', { why, destroyed: r.destroyed.map((f) => f.uuid), checked: r.checked });
    } catch (e) {
      this.#o.log('warn', 'fence check failed: it runs again on the next signal', { why, error: String(e) });
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#running;
  }
}
