/**
 * Reconcile on start: what the event log says runs on this host against what
 * the hypervisor really runs.
 * - The log says it runs here, the hypervisor has no such domain: it died
 *   while the agent was away → DomainStopped CRASHED (libvirt's reason when
 *   qemuProcessReconnect cannot find a domain's qemu again). Only after a
 *   second look: a qemu the first list() failed to adopt (a slow /proc, a
 *   monitor busy) would otherwise be declared dead while it runs on.
 * - It runs, but the log says it should not: reported (a warning, the
 *   `virtflow_agent_unexpected_domains` gauge, the agent's status), never
 *   killed — it may be someone's data.
 * - Both, in different states (paused vs running): the hypervisor's state is
 *   recorded — unless the hypervisor could not read it (stateUnknown).
 * Domains with a command still waiting in the agent's backlog are left to
 * that command (an interrupted start finds its domain running and completes).
 */
import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { VirtError, decodeCommand, decodeEvent, subjects, type DomainState } from '@virtflow/model';
import { domainRef, pendingCommands, type EventStore } from '@virtflow/runtime';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Hypervisor, LifecycleChange, RunningDomain } from './hypervisor/types.ts';
import type { Logger } from './log.ts';

export interface ReconcileReport {
  /** Domains the log said ran here that were gone: recorded as crashed. */
  readonly diedWhileDown: readonly string[];
  /** Domains that run here although the log says they should not. */
  readonly unexpected: readonly RunningDomain[];
  /** Domains left to a command still in the backlog. */
  readonly leftToCommands: readonly string[];
  /** Domains the log and the hypervisor agree run here. */
  readonly running: readonly string[];
}

/** How long reconcile waits before its second look at domains the hypervisor did not list. */
export const RECHECK_MS = 500;

export interface ReconcileContext {
  readonly hostId: string;
  readonly store: EventStore;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly hypervisor: Hypervisor;
  readonly log: Logger;
  /** Records a change as the hypervisor would report it (through the agent's per-domain queue). */
  readonly apply: (change: LifecycleChange, ids: { correlationId: string; causationId: string }) => Promise<boolean>;
}

/** The domains whose latest start (or arrival by migration) names this host, by uuid. */
async function startedHere(ctx: ReconcileContext): Promise<Set<string>> {
  const out = new Set<string>();
  for (const type of ['DomainStarted', 'DomainResumed'] as const) {
    const c = await ctx.js.consumers.get(ctx.store.stream, { filter_subjects: subjects.allDomainsOfType(type), deliver_policy: DeliverPolicy.LastPerSubject });
    for (;;) {
      const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
      let n = 0;
      let last = -1;
      for await (const m of batch) {
        n++;
        last = m.info.pending;
        const e = decodeEvent(m.data, m.subject);
        if (e instanceof VirtError || (e.type !== 'DomainStarted' && e.type !== 'DomainResumed')) continue;
        if (e.data.hostId === ctx.hostId) out.add(e.data.uuid);
      }
      if (n === 0 || last === 0) break;
    }
    await c.delete().catch(() => undefined);
  }
  return out;
}

export async function reconcile(ctx: ReconcileContext): Promise<ReconcileReport> {
  const backlog = new Set<string>();
  for (const m of await pendingCommands(ctx.jsm, ctx.hostId)) {
    const c = decodeCommand(m.data);
    if (!(c instanceof VirtError)) backlog.add(c.uuid);
  }
  const actual = new Map((await ctx.hypervisor.list()).map((d) => [d.uuid, d]));
  const candidates = new Set([...(await startedHere(ctx)), ...actual.keys()]);
  const expected = new Map<string, DomainState>();
  for (const uuid of candidates) {
    const { state } = await ctx.store.load(domainRef(uuid));
    if (state?.defined && state.state !== 'shutoff' && state.hostId === ctx.hostId) expected.set(uuid, state);
  }
  const ids = { correlationId: 'agent', causationId: 'reconcile' };
  const died: string[] = [];
  const unexpected: RunningDomain[] = [];
  const left: string[] = [];
  const running: string[] = [];
  const missing = [...expected.keys()].filter((uuid) => !backlog.has(uuid) && !actual.has(uuid));
  if (missing.length) {
    // Declaring a running domain dead is not undone by anyone: look again before.
    ctx.log('info', 'domains the log says run here were not listed: looking again', { uuids: missing });
    await new Promise((r) => setTimeout(r, RECHECK_MS));
    for (const d of await ctx.hypervisor.list()) {
      if (!missing.includes(d.uuid)) continue;
      ctx.log('warn', 'a domain missing from the first list() runs after all', { uuid: d.uuid, state: d.state });
      actual.set(d.uuid, d);
    }
  }
  for (const [uuid, s] of expected) {
    if (backlog.has(uuid)) {
      left.push(uuid);
      continue;
    }
    const a = actual.get(uuid);
    if (!a) {
      ctx.log('warn', 'domain died while the agent was down', { uuid, name: s.name, was: s.state });
      if (await ctx.apply({ uuid, event: 'stopped', detail: 'CRASHED', message: `domain '${s.name}' died while the agent was down` }, ids)) died.push(uuid);
      continue;
    }
    running.push(uuid);
    if (a.state === s.state) continue;
    if (a.stateUnknown) {
      ctx.log('warn', 'domain runs but its state cannot be read: the log\'s is kept', { uuid, log: s.state });
      continue;
    }
    ctx.log('warn', 'domain state differs from the log: recording the hypervisor\'s', { uuid, log: s.state, hypervisor: a.state });
    if (a.state === 'paused') await ctx.apply({ uuid, event: 'suspended', detail: 'PAUSED' }, ids);
    else if (a.state === 'running') await ctx.apply({ uuid, event: 'resumed', detail: 'UNPAUSED' }, ids);
    else await ctx.apply({ uuid, event: 'shutdown', detail: 'FINISHED' }, ids);
  }
  for (const [uuid, a] of actual) {
    if (expected.has(uuid)) continue;
    if (backlog.has(uuid)) {
      left.push(uuid);
      continue;
    }
    ctx.log('warn', 'domain runs here but the event log says it should not: reported, not killed', { uuid, name: a.name, state: a.state });
    unexpected.push(a);
  }
  return { diedWhileDown: died, unexpected, leftToCommands: left, running };
}
