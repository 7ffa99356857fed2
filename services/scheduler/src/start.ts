/**
 * Starting a domain somewhere, as Nova's conductor builds an instance:
 * place it (the placement's filters and weighers on the live inventory),
 * claim its resources on the chosen host (claims.ts: the host's own stream,
 * optimistic concurrency), record the decision (DomainPlaced), command the
 * host's agent to start it and wait for the outcome. A start that fails on
 * a host gives the claim back and tries the next host, at most `maxHosts`
 * hosts (Nova's scheduler_max_attempts); a claim that loses its race (the
 * host filled up under another scheduler) moves on to the next host without
 * counting as an attempt. Every attempt is reported as it happens and in the
 * result.
 *
 * The agent learns the definition from the log, so no define command is
 * needed: the parser has appended DomainDefined already. The start command
 * carries the domain as this start wrote it (`known`), so the agent need not
 * load it again; a write by anyone since makes the agent reload.
 */
import {
  VirtError, formatExplain, isVirtError, makeCommand, parseDomainXML, place, placedData, placementRequest,
  type CommandOutcome, type DomainState, type HostClaim, type Placement, type PlacementRequest, type SchedulerConfig, type SchedulerHints, type StartKnown,
} from '@virtflow/model';
import { domainRef, isConcurrencyError, sendCommand, type CommandResultWatcher, type EventStore } from '@virtflow/runtime';
import type { NatsConnection } from '@nats-io/transport-node';
import { claim, heldClaims, release, type ClaimsContext, type Ids } from './claims.ts';
import type { LiveInventory } from './inventory.ts';
import { appendChecked, updateChecked, type KnownDomain } from './update-checked.ts';
import type { SchedulerMetrics } from './metrics.ts';

export interface StartContext {
  readonly store: EventStore;
  readonly nc: NatsConnection;
  readonly watcher: CommandResultWatcher;
  readonly live: LiveInventory;
  readonly claims: ClaimsContext;
  readonly scheduler: SchedulerConfig;
  /** Hosts a start is tried on before the job fails (3). */
  readonly maxHosts: number;
  readonly commandTimeoutMs: number;
  readonly random?: () => number;
  readonly newId: () => string;
  readonly now: () => Date;
  readonly metrics?: SchedulerMetrics;
  /** How long a refusal waits for the live inventory to catch up with the log before the start is retried instead (10 s). */
  readonly catchUpMs?: number;
}

export type AttemptOutcome = 'started' | 'failed' | 'claim-lost';

export interface StartAttempt {
  readonly hostId: string;
  readonly outcome: AttemptOutcome;
  /** Why it failed (the agent's error, or the filter that refused the claim on the host's log). */
  readonly reason?: string;
  readonly code?: string;
}

export interface StartArgs {
  readonly uuid: string;
  readonly hints?: SchedulerHints;
  /** The job's id: every event and command of the start carries it. */
  readonly correlationId: string;
  readonly paused?: boolean;
  /** The job ran before (a retry, or a run after a crash): its earlier runs may have left claims, looked for on a caught-up view. */
  readonly rerun?: boolean;
  /** Each attempt as it ends (job progress). */
  readonly progress?: (attempts: readonly StartAttempt[]) => Promise<void> | void;
}

export interface StartResult {
  readonly uuid: string;
  readonly hostId: string;
  readonly attempts: readonly StartAttempt[];
  /** The placement's one line about the last choice. */
  readonly summary: string;
  /** A retried job found its own start done. */
  readonly already?: boolean;
}

async function startOn(ctx: StartContext, hostId: string, uuid: string, paused: boolean, ids: Ids, placed?: KnownDomain): Promise<CommandOutcome> {
  const known = placed && startKnown(ctx.store, hostId, uuid, placed);
  const cmd = makeCommand('start', { hostId, uuid }, { ...(paused ? { paused } : {}), ...(known ? { known } : {}) }, { correlationId: ids.correlationId, now: ctx.now, newId: ctx.newId });
  // Waiting before sending: the watcher must know the command before the agent can answer.
  const outcome = ctx.watcher.wait(cmd, ctx.commandTimeoutMs);
  // A send that throws leaves the wait unawaited: its timeout must not surface as an unhandled rejection.
  outcome.catch(() => undefined);
  await sendCommand(ctx.nc, cmd);
  return outcome;
}

/** A definition larger than this is not sent along with the start (the command must stay well inside NATS's payload limit): the agent reads it. */
const KNOWN_MAX_XML = 256 * 1024;

/**
 * The domain as this start just wrote it (its DomainPlaced on `hostId`) and
 * the store's observation of that write, for the start command: the agent
 * starts from them instead of loading the domain again (execute.ts). Nothing
 * when the store's observation is not of exactly this version (it was
 * dropped, or is of a later write) or the definition is too large to carry.
 */
export function startKnown(store: EventStore, hostId: string, uuid: string, placed: KnownDomain): StartKnown | undefined {
  const s = placed.state;
  if (!s?.defined || s.state !== 'shutoff' || s.hostId !== hostId || s.migration !== undefined || s.xml.length > KNOWN_MAX_XML) return undefined;
  const o = store.observation(domainRef(uuid));
  if (!o || o.version !== placed.version || s.version !== placed.version) return undefined;
  return {
    name: s.name, defined: s.defined, xml: s.xml,
    ...(s.domainType !== undefined ? { domainType: s.domainType } : {}),
    ...(s.driver !== undefined ? { driver: s.driver } : {}),
    definitionVersion: s.definitionVersion, version: placed.version, updatedAt: s.updatedAt,
    state: s.state, reason: s.reason, hostId,
    ...(s.resources !== undefined ? { resources: { memoryKiB: s.resources.memoryKiB, vcpus: s.resources.vcpus } } : {}),
    observation: o, // already the store's copy
  };
}

/** The request with the job's hints and the group's members as the inventory knows them. */
function requestFor(ctx: StartContext, s: DomainState, hints: SchedulerHints | undefined): PlacementRequest {
  const req = placementRequest(parseDomainXML(s.xml), hints ? { hints } : {});
  const g = req.hints.group;
  if (!g) return req;
  const members = [...new Set([...(g.members ?? []), ...ctx.live.groupMembers(g.name)])];
  return { ...req, hints: { ...req.hints, group: { ...g, members } } };
}

/**
 * "no host fits", with a line for every host: the placement's reason, or for
 * a host this job left out, what happened there (its claim was refused on
 * the host's log, or the start failed).
 */
export function noHostFits(p: Placement, attempts: readonly StartAttempt[]): VirtError {
  const tried = new Map(attempts.filter((a) => a.outcome !== 'started').map((a) => [a.hostId, a]));
  const lines = p.explain.map((r) => {
    const a = r.filter === 'RetryFilter' ? tried.get(r.hostId) : undefined;
    if (!a) return `${r.hostId}: ${r.filter}: ${r.reason}`;
    return a.outcome === 'claim-lost' ? `${r.hostId}: ${a.reason} (re-checked on the host's log)` : `${r.hostId}: start failed: ${a.reason}`;
  });
  return new VirtError('OPERATION_FAILED', `${p.summary}\n${lines.map((l) => `  ${l}`).join('\n')}`, '/hosts');
}

export async function startDomain(ctx: StartContext, args: StartArgs): Promise<StartResult> {
  const ids: Ids = { correlationId: args.correlationId };
  // Earlier runs' claims are in the log before this run begins; on a view behind it they would be missed.
  if (args.rerun) await ctx.live.caughtUp(ctx.catchUpMs ?? CATCH_UP_MS);
  const before = claimsOf(ctx, args.uuid);
  let r: StartResult;
  try {
    r = await startOnce(ctx, args, ids);
  } catch (e) {
    // Refused for good (the user's error): no claim of this job may outlive it but the one where the log places
    // the domain (a start that timed out may still boot there). Anything else is retried, and the retry tidies up.
    if (isVirtError(e) && !isConcurrencyError(e)) {
      const placed = (await ctx.store.load(domainRef(args.uuid)).catch(() => undefined))?.state?.hostId;
      await releaseLeftClaims(ctx, args.uuid, placed, ids, new Map()).catch(() => undefined);
    }
    throw e;
  }
  await releaseLeftClaims(ctx, args.uuid, r.hostId, ids, before);
  return r;
}

const CATCH_UP_MS = 10_000;

/**
 * A domain with a short history has no snapshot (a load writes one only after
 * replaying many events): read it from its events alone, one round trip less.
 * Only a guess from the live view, and a wrong one costs time, never
 * correctness (a load without the snapshot replays everything).
 */
const SHORT_HISTORY = 16;
const loadOptions = (ctx: StartContext, uuid: string) => ((ctx.live.versionOf(uuid) ?? Infinity) <= SHORT_HISTORY ? { snapshot: false } : {});

async function startOnce(ctx: StartContext, args: StartArgs, ids: Ids): Promise<StartResult> {
  const { uuid } = args;
  const loaded = await ctx.store.load(domainRef(uuid), loadOptions(ctx, uuid));
  const s = loaded.state;
  if (!s?.defined) throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`, '/uuid');
  if (s.state !== 'shutoff') {
    const own = await ownStart(ctx, uuid, args.correlationId);
    if (own) return { uuid, hostId: own, attempts: [], summary: `domain '${s.name}' already started on ${own} by this job`, already: true };
    throw new VirtError('OPERATION_INVALID', 'domain is already running', '/uuid');
  }
  if (s.hostId !== undefined) await dropStalePlacement(ctx, uuid, s.hostId, ids);
  // The domain as this start read it and, after each DomainPlaced, wrote it: placements append on it without a reload.
  let known: KnownDomain = { state: s, version: loaded.version };
  const base = requestFor(ctx, s, args.hints);
  const excluded = [...(base.hints.excludeHosts ?? [])];
  const attempts: StartAttempt[] = [];
  const report = async (a: StartAttempt) => {
    attempts.push(a);
    ctx.metrics?.starts.inc({ outcome: a.outcome });
    await args.progress?.(attempts);
  };
  let starts = 0;
  let lastPlaced: string | undefined;
  let summary = '';
  while (starts < ctx.maxHosts) {
    const req: PlacementRequest = { ...base, hints: { ...base.hints, excludeHosts: excluded } };
    const p = await placeOnCaughtUpView(ctx, req);
    if (!p.claim) {
      ctx.metrics?.placements.inc({ outcome: 'no-host' });
      if (lastPlaced) await giveUpPlacement(ctx, uuid, lastPlaced, 'no host left to try', ids);
      throw noHostFits(p, attempts);
    }
    ctx.metrics?.placements.inc({ outcome: 'placed' });
    summary = p.summary;
    const hostId = p.claim.hostId;
    const c = await claim(ctx.claims, hostId, { ...p.claim, request: req, reason: `start job ${args.correlationId}` }, ids);
    if (!c.ok) {
      ctx.metrics?.claims.inc({ outcome: 'lost' });
      excluded.push(hostId);
      await report({ hostId, outcome: 'claim-lost', reason: `${c.filter}: ${c.reason}` });
      continue;
    }
    ctx.metrics?.claims.inc({ outcome: 'taken' });
    if (c.event) ctx.live.applyLocal([c.event]);
    // The claim already counts in the inventory; folding DomainPlaced too would copy its lifecycles map per start.
    known = await placeOrRelease(ctx, uuid, known, p, c.claimId, ids);
    lastPlaced = hostId;
    starts++;
    const outcome = await startOn(ctx, hostId, uuid, args.paused === true, ids, known);
    if (outcome.status === 'completed') {
      await report({ hostId, outcome: 'started' });
      return { uuid, hostId, attempts, summary };
    }
    const err = outcome.error;
    const r = await release(ctx.claims, hostId, uuid, `start failed on host '${hostId}': ${err?.message ?? 'no error recorded'}`, ids, { claimId: c.claimId });
    if (r.event) ctx.live.applyLocal([r.event]);
    ctx.metrics?.claims.inc({ outcome: 'released' });
    excluded.push(hostId);
    await report({ hostId, outcome: 'failed', reason: err?.message ?? 'no error recorded', ...(err?.code ? { code: err.code } : {}) });
  }
  await giveUpPlacement(ctx, uuid, lastPlaced!, `start failed on ${starts} hosts`, ids);
  const lines = attempts.filter((a) => a.outcome !== 'started').map((a) => `  ${a.hostId}: ${a.outcome === 'failed' ? 'start failed' : 'claim refused'}: ${a.reason ?? ''}`);
  throw new VirtError('OPERATION_FAILED', `domain '${s.name}' failed to start on ${starts} host${starts === 1 ? '' : 's'} (at most ${ctx.maxHosts} are tried)\n${lines.join('\n')}`, '/hosts');
}

/**
 * DomainPlaced for the claim, appended on the domain as this start knows it
 * (a write by anyone else since makes the store refuse it, and it is decided
 * again on the domain reloaded); if the domain may no longer be placed
 * (started meanwhile by someone else), the claim goes back.
 */
async function placeOrRelease(ctx: StartContext, uuid: string, known: KnownDomain, p: Placement, claimId: string, ids: Ids): Promise<KnownDomain> {
  const c = p.claim!;
  try {
    const r = await appendChecked(ctx.store, uuid, known, (s) => {
      if (!s?.defined) throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`, '/uuid');
      if (s.state !== 'shutoff') throw new VirtError('OPERATION_INVALID', 'domain is already running', '/uuid');
      return [{ type: 'DomainPlaced', data: placedData(c, p.summary) }];
    }, ids);
    return r.known;
  } catch (e) {
    await release(ctx.claims, c.hostId, uuid, `placement not recorded: ${(e as Error).message}`, ids, { claimId });
    throw e;
  }
}

/**
 * A start that failed everywhere leaves the domain placed on the last host it
 * tried (DomainPlaced has no undo): `DomainStopped FAILED` there, libvirt's
 * "domain failed to start", gives the placement back.
 */
async function giveUpPlacement(ctx: StartContext, uuid: string, hostId: string, why: string, ids: Ids): Promise<void> {
  const r = await updateChecked(ctx.store, uuid, (s) => (s?.defined && s.state === 'shutoff' && s.hostId === hostId && !s.migrating
    ? [{ type: 'DomainStopped', data: { uuid, hostId, detail: 'FAILED', error: { code: 'OPERATION_FAILED', message: `operation failed: ${why}` } } }]
    : []), ids);
  ctx.live.applyLocal(r.events);
}

/**
 * A shut-off domain that is still placed somewhere is left over from a start
 * that did not finish (this job's earlier try, after a crash, or another
 * job's): its claim there would count against this start on that host, and
 * stay behind once the domain is placed elsewhere. It is given back first.
 */
async function dropStalePlacement(ctx: StartContext, uuid: string, hostId: string, ids: Ids): Promise<void> {
  const held = (await heldClaims(ctx.claims, hostId))[uuid];
  if (!held) return;
  const r = await release(ctx.claims, hostId, uuid, `placement left by an unfinished start (job ${held.correlationId})`, ids, { claimId: held.id });
  if (r.event) ctx.live.applyLocal([r.event]);
}

/** The host a domain was started on by this job (a retried job), if it was. */
async function ownStart(ctx: StartContext, uuid: string, correlationId: string): Promise<string | undefined> {
  const events = await ctx.store.events(domainRef(uuid));
  const started = events.map((e) => e.event).filter((e) => e.type === 'DomainStarted' && e.correlationId === correlationId);
  const last = started.at(-1);
  return last?.type === 'DomainStarted' ? last.data.hostId : undefined;
}

/**
 * The placement on the live inventory. A refusal ("no host fits") fails the
 * job for good, so it is only given on a view that has read the log as it
 * stands now: the inventory may lag (its subscription catching up after a
 * nats-server restart), and meanwhile it holds this scheduler's own claims
 * (applyLocal) but not the releases and stops after them, so its hosts look
 * fuller than they are. A view that cannot catch up within `catchUpMs` is an
 * infrastructure fault: thrown as a plain Error, the job is retried.
 */
async function placeOnCaughtUpView(ctx: StartContext, req: PlacementRequest): Promise<Placement> {
  const opts = ctx.random ? { random: ctx.random } : {};
  const p = place(ctx.live.current(), req, ctx.scheduler, opts);
  if (p.claim) return p;
  const at = ctx.live.seq;
  const ms = ctx.catchUpMs ?? CATCH_UP_MS;
  if (!(await ctx.live.caughtUp(ms))) {
    throw new Error(`the scheduler's view of the event log (at sequence ${ctx.live.seq}) did not catch up with the log within ${ms} ms; not refusing the start on it: ${p.summary}`);
  }
  return ctx.live.seq === at ? p : place(ctx.live.current(), req, ctx.scheduler, opts);
}

/** hostId → the domain's claim there, as the live inventory (the fold of every host's stream) has it; migration claims left out. */
function claimsOf(ctx: StartContext, uuid: string): Map<string, HostClaim> {
  const out = ctx.live.claimsOfDomain(uuid);
  for (const [hostId, c] of out) if (c.migrateFrom !== undefined) out.delete(hostId);
  return out;
}

/**
 * A start job can run more than once (its scheduler killed mid-start, and
 * BullMQ's stalled-job check hands it on; a lost lock), and each run may
 * claim on another host: the claim on a host the last run did not end up on
 * is capacity nobody gives back (the stop watcher only releases the host
 * the domain stops on). Once the domain runs on `keep` (or, failed for
 * good, nowhere), every other claim of the domain made by this job, and
 * every one that was already there when this run began (a start before it
 * that died between its claim and its placement), is given back, by claim
 * id: idempotent, and a newer claim of the domain (a start after this one)
 * stays. Migration claims are not a start's and are left alone.
 */
async function releaseLeftClaims(ctx: StartContext, uuid: string, keep: string | undefined, ids: Ids, before: ReadonlyMap<string, HostClaim>): Promise<void> {
  for (const [hostId, c] of claimsOf(ctx, uuid)) {
    if (hostId === keep) continue;
    if (c.correlationId !== ids.correlationId && before.get(hostId)?.id !== c.id) continue;
    const why = `claim left by ${c.correlationId === ids.correlationId ? 'an earlier run of this start job' : `start job ${c.correlationId}`}: the domain ${keep ? `runs on host '${keep}'` : 'did not start'}`;
    const r = await release(ctx.claims, hostId, uuid, why, ids, { claimId: c.id });
    if (r.event) ctx.live.applyLocal([r.event]);
    if (r.released) ctx.metrics?.claims.inc({ outcome: 'released' });
  }
}
