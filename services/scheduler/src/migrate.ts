/**
 * Moving a running domain to another host, as Nova's conductor does it:
 * choose the destination (the one asked for, if the placement filters let
 * it; else the best host but the source), claim its resources there, record
 * the decision (DomainMigrating), have the destination's agent wait for the
 * domain (migrate-in) and the source's agent send it (migrate-out), then
 * wait until the log says the domain arrived. Success gives the source's
 * claim back; any failure before the handover gives the destination's back
 * and leaves the domain running on its source.
 *
 * `live: false` is Nova's cold migration: the domain is shut down on the
 * source (ACPI, then destroyed after a grace period), placed on the
 * destination and booted there; a boot that fails there boots it on the
 * source again.
 */
import {
  VirtError, foldDomain, parseDomainXML, placementRequest,
  type Claim, type DomainState, type HostClaim, type Inventory, type PlacementRequest, type SchedulerConfig, type SchedulerHints, type VirtErrorJSON,
} from '@virtflow/model';
import { domainRef } from '@virtflow/runtime';
import { chooseTarget } from './migrate-target.ts';
import { appendChecked, callOff, command, detailOf, outcomeError, waitForDomain, type Ids, type StepContext } from './migrate-steps.ts';

/** What a claim on a host answers: taken, or why the host no longer fits (another scheduler was faster). */
export type ClaimAnswer = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * The scheduler's claims on host aggregates (claims.ts), as far as a
 * migration needs them: take one on the destination, give one back.
 * Releasing a claim that is not held does nothing.
 */
export interface MigrationClaims {
  /** `request`: the placement's request, so every filter that judges one host runs again on the host as the log has it. */
  claim(claim: Claim & { readonly request?: PlacementRequest }, ids: Ids): Promise<ClaimAnswer>;
  release(hostId: string, uuid: string, reason: string, ids: Ids): Promise<unknown>;
}

export type MigrationStage = 'choosing' | 'claimed' | 'recorded' | 'incoming' | 'transfer' | 'stopping' | 'booting' | 'arrived' | 'failed';

export interface MigrationProgress {
  readonly uuid: string;
  readonly stage: MigrationStage;
  readonly fromHost: string;
  readonly toHost?: string;
  readonly message: string;
}

export interface MigrateContext extends StepContext {
  /** The scheduler's current inventory (hosts, free resources, where each domain is). */
  inventory(): Promise<Inventory>;
  readonly claims: MigrationClaims;
  readonly scheduler?: SchedulerConfig;
  /**
   * The TCP port the destination listens on for the domain's state. libvirt
   * takes one from migration_port_min..max (49152–49215) on the destination:
   * the default draws from that range.
   */
  migrationPort?(toHost: string): number | Promise<number>;
  /** Per command and per wait for the log (120 s: a live migration copies all guest memory). */
  readonly timeoutMs?: number;
  /** Cold migration: how long the guest may take to power off before it is destroyed (30 s). */
  readonly shutdownGraceMs?: number;
  /** Hosts tried when a claim loses a race with another scheduler (3). */
  readonly maxAttempts?: number;
  readonly random?: () => number;
  progress?(p: MigrationProgress): void;
}

export interface MigrateArgs {
  readonly uuid: string;
  /** The destination; without it the placement chooses, never the source. */
  readonly toHost?: string;
  readonly live: boolean;
  /** The job's id: every event and command of the migration carries it. */
  readonly correlationId?: string;
  readonly hints?: SchedulerHints;
}

export interface MigrateResult {
  readonly uuid: string;
  readonly fromHost: string;
  readonly toHost: string;
  readonly live: boolean;
  /** The placement's one line about the choice. */
  readonly summary: string;
}

const MIGRATION_PORTS = [49152, 49215] as const;

export async function migrate(ctx: MigrateContext, args: MigrateArgs): Promise<MigrateResult> {
  const ids: Ids = { correlationId: args.correlationId ?? ctx.newId() };
  if (args.correlationId !== undefined) {
    const done = args.live ? await resumeMigration(ctx, args.uuid, ids) : await resumeColdMigration(ctx, args, ids);
    if (done) return done;
  }
  const dom = await runningDomain(ctx, args.uuid);
  const fromHost = dom.hostId!;
  const say = (stage: MigrationStage, message: string, toHost?: string) => ctx.progress?.({ uuid: args.uuid, stage, fromHost, ...(toHost ? { toHost } : {}), message });
  say('choosing', `choosing a destination for domain '${dom.name}' on host '${fromHost}'`);
  const { claim, summary } = await claimTarget(ctx, dom, args, ids);
  const toHost = claim.hostId;
  say('claimed', summary, toHost);
  const result = { uuid: args.uuid, fromHost, toHost, live: args.live, summary };
  if (args.live) await liveMove(ctx, dom, toHost, ids, say);
  else await coldMove(ctx, dom, toHost, ids, say);
  await ctx.claims.release(fromHost, args.uuid, `domain migrated to host '${toHost}'`, ids);
  say('arrived', `domain '${dom.name}' runs on host '${toHost}'`, toHost);
  return result;
}

type Say = (stage: MigrationStage, message: string, toHost?: string) => void;

/**
 * A rerun of this job (its scheduler killed mid-migration: BullMQ's stalled
 * check hands the job on) meets what its earlier run wrote. Before, a
 * DomainMigrating of its own made runningDomain refuse ("already being
 * migrated"): the job failed for good and the domain stayed migrating, every
 * lifecycle operation on it refused and the destination's claim held; and a
 * run killed after the arrival migrated the domain a second time. Now a
 * migration past the handover (or over) is finished and reported; one that
 * was not is called off, which leaves the domain running on its source, and
 * the caller migrates it afresh. Undefined: nothing of this job's to resume
 * (evacuate.ts asks too, for the domains its earlier run left migrating).
 */
export async function resumeMigration(ctx: MigrateContext, uuid: string, ids: Ids): Promise<MigrateResult | undefined> {
  const s = (await ctx.store.load(domainRef(uuid))).state;
  if (!s?.defined) return undefined;
  const own = (await ctx.store.events(domainRef(uuid))).filter((e) => e.event.type === 'DomainMigrating').at(-1)?.event;
  if (own?.type !== 'DomainMigrating' || own.correlationId !== ids.correlationId) return undefined;
  const { fromHost, toHost } = own.data;
  const arrived = (d: DomainState | undefined) => d?.hostId === toHost && !d.migration && (d.state === 'running' || d.state === 'paused');
  const finish = async (): Promise<MigrateResult> => {
    await ctx.claims.release(fromHost, uuid, `domain migrated to host '${toHost}'`, ids);
    ctx.progress?.({ uuid, stage: 'arrived', fromHost, toHost, message: `domain '${s.name}' runs on host '${toHost}' (migrated by an earlier run of job ${ids.correlationId})` });
    return { uuid, fromHost, toHost, live: true, summary: `migrated to host '${toHost}' by an earlier run of this job` };
  };
  if (!s.migration) return arrived(s) ? finish() : undefined;
  if (s.migration.toHost !== toHost) return undefined;
  const err = new VirtError('OPERATION_FAILED', `an earlier run of job ${ids.correlationId} stopped before the handover`, '/uuid');
  const found = await callOff(ctx, uuid, toHost, err, ids);
  const m = found?.migration;
  if (m?.toHost === toHost && (m.sourceStopped || m.targetStarted)) {
    await waitForDomain(ctx, uuid, `the arrival of domain '${s.name}' on host '${toHost}'`, (d) => d?.hostId === toHost && !d.migration, ctx.timeoutMs ?? 120_000);
    return finish();
  }
  if (!m && arrived(found)) return finish();
  await ctx.claims.release(toHost, uuid, `migration not finished: ${detailOf(err)}`, ids);
  return undefined;
}

/** The domain as it stands, refused unless it runs (or is paused) on a host and is not already moving. */
async function runningDomain(ctx: MigrateContext, uuid: string): Promise<DomainState> {
  const s = (await ctx.store.load(domainRef(uuid))).state;
  if (!s?.defined) throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`, '/uuid');
  if (s.migration) throw new VirtError('OPERATION_INVALID', `domain '${s.name}' is already being migrated to host '${s.migration.toHost}'`, '/uuid');
  if ((s.state !== 'running' && s.state !== 'paused') || s.hostId === undefined) throw new VirtError('OPERATION_INVALID', `domain '${s.name}' is not running`, '/uuid');
  return s;
}

/**
 * Chooses the destination and claims it. A claim refused because another
 * scheduler filled the host meanwhile is tried on the next best host (a
 * requested host is not replaced: the refusal is the answer).
 */
async function claimTarget(ctx: MigrateContext, dom: DomainState, args: MigrateArgs, ids: Ids): Promise<{ claim: Claim; summary: string }> {
  const req = placementRequest(parseDomainXML(dom.xml), args.hints ? { hints: args.hints } : {});
  const exclude: string[] = [];
  const attempts = args.toHost !== undefined ? 1 : (ctx.maxAttempts ?? 3);
  const refusals: string[] = [];
  for (let i = 0; i < attempts; i++) {
    const choice = chooseTarget(await ctx.inventory(), req, dom.hostId!, {
      toHost: args.toHost, exclude, live: args.live, ...(ctx.scheduler ? { config: ctx.scheduler } : {}), ...(ctx.random ? { random: ctx.random } : {}),
    });
    if (!choice.ok) {
      if (refusals.length === 0) throw choice.error;
      break;
    }
    const answer = await ctx.claims.claim({ ...choice.claim, request: req }, ids);
    if (answer.ok) return choice;
    refusals.push(`${choice.claim.hostId}: ${answer.reason}`);
    exclude.push(choice.claim.hostId);
  }
  throw new VirtError('OPERATION_INVALID', `cannot migrate domain '${dom.name}': the claim was refused on ${refusals.join('; ')}`, args.toHost !== undefined ? '/toHost' : '/uuid');
}

async function portFor(ctx: MigrateContext, toHost: string): Promise<number> {
  if (ctx.migrationPort) return ctx.migrationPort(toHost);
  const [lo, hi] = MIGRATION_PORTS;
  return lo + Math.floor((ctx.random ?? Math.random)() * (hi - lo + 1));
}

/** Where the destination's agent listens: the address it registered with, else loopback (one machine). */
async function addressOf(ctx: MigrateContext, hostId: string): Promise<string> {
  return (await ctx.inventory()).facts.get(hostId)?.address ?? '127.0.0.1';
}

async function liveMove(ctx: MigrateContext, dom: DomainState, toHost: string, ids: Ids, say: Say): Promise<void> {
  const { uuid } = dom;
  const fromHost = dom.hostId!;
  const timeoutMs = ctx.timeoutMs ?? 120_000;
  try {
    await appendChecked(ctx, uuid, () => [{ type: 'DomainMigrating', data: { uuid, fromHost, toHost } }], ids);
  } catch (e) {
    await ctx.claims.release(toHost, uuid, `migration not recorded: ${detailOf(e)}`, ids);
    throw e;
  }
  say('recorded', `DomainMigrating ${fromHost} → ${toHost}`, toHost);
  try {
    const host = await addressOf(ctx, toHost);
    const port = await portFor(ctx, toHost);
    say('incoming', `host '${toHost}' waits for the domain on ${host}:${port}`, toHost);
    const into = await command(ctx, toHost, 'migrate-in', uuid, { fromHost, host, port }, ids, timeoutMs);
    if (into.outcome.status !== 'completed') throw outcomeError(toHost, 'migrate-in', into.outcome);
    say('transfer', `host '${fromHost}' sends the domain to ${host}:${port}`, toHost);
    const out = await command(ctx, fromHost, 'migrate-out', uuid, { toHost, host, port }, ids, timeoutMs);
    if (out.outcome.status !== 'completed') throw outcomeError(fromHost, 'migrate-out', out.outcome);
  } catch (e) {
    const err = e instanceof VirtError ? e : new VirtError('INTERNAL_ERROR', detailOf(e));
    const found = await callOff(ctx, uuid, toHost, err, ids);
    const m = found?.migration;
    // Past the handover (the source let go, or the destination runs it): finish instead.
    if (!(m && m.toHost === toHost && (m.sourceStopped || m.targetStarted))) {
      await ctx.claims.release(toHost, uuid, `migration failed: ${detailOf(err)}`, ids);
      say('failed', `${detailOf(err)}; domain '${dom.name}' stays on host '${fromHost}'`, toHost);
      throw new VirtError('OPERATION_FAILED', `migration of domain '${dom.name}' from host '${fromHost}' to '${toHost}' failed: ${detailOf(err)}`, err.path ?? '/uuid');
    }
  }
  await waitForDomain(ctx, uuid, `the arrival of domain '${dom.name}' on host '${toHost}'`, (s) => s?.hostId === toHost && !s.migration, timeoutMs);
}

async function coldMove(ctx: MigrateContext, dom: DomainState, toHost: string, ids: Ids, say: Say): Promise<void> {
  const { uuid } = dom;
  const fromHost = dom.hostId!;
  const timeoutMs = ctx.timeoutMs ?? 120_000;
  say('stopping', `shutting domain '${dom.name}' down on host '${fromHost}'`, toHost);
  try {
    await stopOn(ctx, dom, fromHost, ids, timeoutMs);
  } catch (e) {
    await ctx.claims.release(toHost, uuid, `cold migration failed: ${detailOf(e)}`, ids);
    throw e;
  }
  await coldBoot(ctx, dom, fromHost, toHost, ids, say, false);
}

/**
 * The second half of a cold migration: the domain, shut off, is booted on
 * `toHost`; a boot that fails there boots it on its source again and fails
 * the migration. `resumed`: a rerun's boot, which may meet the start its
 * earlier run sent landing meanwhile (the agent then refuses the second one
 * as "already running"): the domain running on `toHost` is the boot done.
 */
async function coldBoot(ctx: MigrateContext, dom: DomainState, fromHost: string, toHost: string, ids: Ids, say: Say, resumed: boolean): Promise<void> {
  const { uuid } = dom;
  const timeoutMs = ctx.timeoutMs ?? 120_000;
  say('booting', `booting domain '${dom.name}' on host '${toHost}'`, toHost);
  try {
    await bootOn(ctx, uuid, toHost, dom, ids, timeoutMs);
  } catch (e) {
    if (resumed && runsOn((await ctx.store.load(domainRef(uuid))).state, toHost)) return;
    const why = detailOf(e);
    await ctx.claims.release(toHost, uuid, `cold migration failed: ${why}`, ids);
    say('failed', `${why}; booting domain '${dom.name}' on host '${fromHost}' again`, toHost);
    await bootBack(ctx, dom, fromHost, ids, resumed);
    throw coldFailure(dom.name, fromHost, toHost, why);
  }
}

/** The fallback of a failed cold boot: the domain booted on its source again. */
async function bootBack(ctx: MigrateContext, dom: DomainState, fromHost: string, ids: Ids, resumed: boolean): Promise<void> {
  const { uuid } = dom;
  // Its stop there gave the source's claim back: take it again (it boots there whatever the answer: it ran there a moment ago).
  const size = dom.resources ?? placementRequest(parseDomainXML(dom.xml));
  await ctx.claims.claim({ uuid, hostId: fromHost, memoryKiB: size.memoryKiB, vcpus: size.vcpus }, ids);
  try {
    await bootOn(ctx, uuid, fromHost, dom, ids, ctx.timeoutMs ?? 120_000);
  } catch (e) {
    if (!(resumed && runsOn((await ctx.store.load(domainRef(uuid))).state, fromHost))) throw e;
  }
}

function coldFailure(name: string, fromHost: string, toHost: string, why: string): VirtError {
  return new VirtError('OPERATION_FAILED', `cold migration of domain '${name}' from host '${fromHost}' to '${toHost}' failed: ${why}`, '/uuid');
}

/** The domain runs (or is paused) on `hostId`, not moving. */
export const runsOn = (s: DomainState | undefined, hostId: string): boolean => s?.hostId === hostId && !s.migration && (s.state === 'running' || s.state === 'paused');

/**
 * What an earlier run of a job moving a domain cold (a cold migration, or
 * the evacuation of a down host) did to it, read from the domain's log: the
 * job's first DomainStopped of the domain (its stop on the source, or the
 * FAILED on the down host) and what the job wrote after it; with the job's
 * claims on the domain still held (HostResourcesClaimed of its own).
 */
export interface ColdTrail {
  /** The domain as it stands now. */
  readonly dom: DomainState;
  /** Where the job stopped it: the move's source. */
  readonly fromHost: string;
  /** The host the job booted it on after the stop, other than the source: the move arrived there. */
  readonly arrived?: string;
  /** The job booted it on its source again after the stop: a failed cold migration's fallback, done. */
  readonly bootedBack: boolean;
  /** Hosts other than the source where the job's boot failed after the stop (its DomainStopped FAILED there), with the error. */
  readonly failed: ReadonlyMap<string, VirtErrorJSON | undefined>;
  /** The last host other than the source the job placed it on after the stop. */
  readonly placed?: string;
  /** hostId → the job's claim on the domain there, still held. */
  readonly claimed: ReadonlyMap<string, HostClaim>;
}

/** The trail of job `ids` on domain `uuid`; undefined when the job never stopped it (nothing of a cold move begun). */
export async function coldTrail(ctx: MigrateContext, uuid: string, ids: Ids): Promise<ColdTrail | undefined> {
  const log = (await ctx.store.events(domainRef(uuid))).map((e) => e.event);
  // A live migration's stop (MIGRATED) is no cold move's: resumeMigration's business.
  const at = log.findIndex((e) => e.type === 'DomainStopped' && e.data.detail !== 'MIGRATED' && e.correlationId === ids.correlationId);
  const stop = log[at];
  if (stop?.type !== 'DomainStopped') return undefined;
  const dom = foldDomain(log, uuid);
  if (!dom?.defined) return undefined;
  const fromHost = stop.data.hostId;
  let arrived: string | undefined;
  let placed: string | undefined;
  let bootedBack = false;
  const failed = new Map<string, VirtErrorJSON | undefined>();
  for (const e of log.slice(at + 1)) {
    if (e.correlationId !== ids.correlationId) continue;
    if (e.type === 'DomainStarted' && e.data.detail === 'BOOTED') {
      if (e.data.hostId === fromHost) bootedBack = true;
      else arrived ??= e.data.hostId;
    } else if (e.type === 'DomainPlaced' && e.data.hostId !== fromHost) {
      placed = e.data.hostId;
    } else if (e.type === 'DomainStopped' && e.data.detail === 'FAILED' && e.data.hostId !== fromHost && arrived === undefined) {
      failed.set(e.data.hostId, e.data.error);
    }
  }
  const claimed = new Map<string, HostClaim>();
  for (const [hostId, facts] of (await ctx.inventory()).facts) {
    const c = facts.claims && Object.hasOwn(facts.claims, uuid) ? facts.claims[uuid] : undefined;
    if (c?.correlationId === ids.correlationId) claimed.set(hostId, c);
  }
  return { dom, fromHost, ...(arrived !== undefined ? { arrived } : {}), bootedBack, failed, ...(placed !== undefined ? { placed } : {}), claimed };
}

/** Gives back the job's claims of `trail` on every host but `keep`: an earlier run's claims the move does not use. */
export async function releaseUnused(ctx: MigrateContext, trail: ColdTrail, keep: readonly string[], ids: Ids): Promise<void> {
  for (const hostId of trail.claimed.keys()) {
    if (!keep.includes(hostId)) await ctx.claims.release(hostId, trail.dom.uuid, `not used by job ${ids.correlationId} after its earlier run stopped`, ids);
  }
}

/**
 * A cold migration's job run again (its scheduler killed part-way) meets
 * what its earlier run wrote. Before, a run killed after the stop on the
 * source left the domain shut off: the rerun refused it as "not running",
 * the job failed for good, the domain stayed off and the destination's claim
 * was held; and a rerun after the boot moved the domain a second time. Now
 * the job's own stop (its correlationId) in the domain's log says the move
 * is under way, and the rerun finishes it: the domain is booted on the
 * destination its earlier run claimed (else one chosen as a first run does),
 * or, if that boot had failed, on its source again; a move already over is
 * reported as the first run would have. Undefined: nothing of this job's to
 * finish (it never stopped the domain, or someone started it since: then it
 * is migrated as it stands).
 */
async function resumeColdMigration(ctx: MigrateContext, args: MigrateArgs, ids: Ids): Promise<MigrateResult | undefined> {
  const trail = await coldTrail(ctx, args.uuid, ids);
  if (!trail) return undefined;
  const { dom, fromHost } = trail;
  const { uuid, name } = dom;
  const by = `an earlier run of job ${ids.correlationId}`;
  const say: Say = (stage, message, toHost) => ctx.progress?.({ uuid, stage, fromHost, ...(toHost ? { toHost } : {}), message });
  const arrivedAt = async (toHost: string): Promise<MigrateResult> => {
    await releaseUnused(ctx, trail, [toHost], ids);
    await ctx.claims.release(fromHost, uuid, `domain migrated to host '${toHost}'`, ids);
    say('arrived', `domain '${name}' runs on host '${toHost}'`, toHost);
    return { uuid, fromHost, toHost, live: false, summary: `moved to host '${toHost}' by ${by}` };
  };
  const failedTo = [...trail.failed].at(-1);
  const failure = () => {
    const toHost = failedTo?.[0] ?? trail.placed ?? [...trail.claimed.keys()].find((h) => h !== fromHost) ?? '(unknown)';
    const e = failedTo?.[1];
    return coldFailure(name, fromHost, toHost, e ? (e.detail ?? e.message) : `its boot there failed (${by})`);
  };
  if (trail.arrived !== undefined) return arrivedAt(trail.arrived);
  if (trail.bootedBack) {
    await releaseUnused(ctx, trail, [fromHost], ids);
    throw failure();
  }
  if (dom.migration) return undefined;
  if (dom.state !== 'shutoff') {
    // Started by someone else since: nothing of this job's to boot; it is migrated as it stands.
    await releaseUnused(ctx, trail, dom.hostId !== undefined ? [dom.hostId] : [], ids);
    return undefined;
  }
  if (failedTo) {
    // Its boot on the destination had failed: the earlier run was booting the domain on its source again.
    await releaseUnused(ctx, trail, [fromHost], ids);
    say('failed', `booting domain '${name}' on host '${fromHost}' again (${by} failed to boot it on host '${failedTo[0]}')`, failedTo[0]);
    await bootBack(ctx, dom, fromHost, ids, true);
    throw failure();
  }
  // The boot is still to do: on the destination the earlier run claimed (the one it placed the domain on, if it did).
  const claimedTo = [...trail.claimed.keys()].filter((h) => h !== fromHost);
  let toHost = dom.hostId !== undefined && claimedTo.includes(dom.hostId) ? dom.hostId : claimedTo[0];
  let summary = `destination '${toHost}' chosen by ${by}`;
  if (toHost !== undefined) {
    const c = trail.claimed.get(toHost)!;
    // Still held, or taken again if it went meanwhile (the same job's claim of the same size is no new one).
    const req = placementRequest(parseDomainXML(dom.xml), args.hints ? { hints: args.hints } : {});
    const answer = await ctx.claims.claim({ uuid, hostId: toHost, memoryKiB: c.memoryKiB, vcpus: c.vcpus, ...(c.numa ? { numa: c.numa } : {}), request: req }, ids);
    if (!answer.ok) toHost = undefined;
  }
  if (toHost === undefined) {
    say('choosing', `choosing a destination for domain '${name}', stopped on host '${fromHost}' by ${by}`);
    const chosen = await claimTarget(ctx, { ...dom, hostId: fromHost }, args, ids);
    toHost = chosen.claim.hostId;
    summary = chosen.summary;
  }
  await releaseUnused(ctx, trail, [toHost], ids);
  say('claimed', summary, toHost);
  await coldBoot(ctx, dom, fromHost, toHost, ids, say, true);
  await ctx.claims.release(fromHost, uuid, `domain migrated to host '${toHost}'`, ids);
  say('arrived', `domain '${name}' runs on host '${toHost}'`, toHost);
  return { uuid, fromHost, toHost, live: false, summary };
}

/** Shuts the domain down on its host (ACPI; destroyed after the grace period) and waits until the log says it is off. */
async function stopOn(ctx: MigrateContext, dom: DomainState, hostId: string, ids: Ids, timeoutMs: number): Promise<void> {
  const off = (s: DomainState | undefined) => s?.state === 'shutoff';
  const asked = await command(ctx, hostId, 'shutdown', dom.uuid, {}, ids, timeoutMs);
  if (asked.outcome.status === 'completed') {
    try {
      await waitForDomain(ctx, dom.uuid, `domain '${dom.name}' to power off`, off, ctx.shutdownGraceMs ?? 30_000);
      return;
    } catch (e) {
      if (!(e instanceof VirtError && e.code === 'OPERATION_TIMEOUT')) throw e;
    }
  }
  const destroyed = await command(ctx, hostId, 'destroy', dom.uuid, {}, ids, timeoutMs);
  if (destroyed.outcome.status !== 'completed' && !off((await ctx.store.load(domainRef(dom.uuid))).state)) throw outcomeError(hostId, 'destroy', destroyed.outcome);
  await waitForDomain(ctx, dom.uuid, `domain '${dom.name}' to stop`, off, timeoutMs);
}

/** Places a shut-off domain on `hostId` (DomainPlaced with its claim's size) and has the agent boot it. */
export async function bootOn(ctx: StepContext, uuid: string, hostId: string, dom: Pick<DomainState, 'name' | 'resources' | 'xml'>, ids: Ids, timeoutMs: number): Promise<void> {
  const size = dom.resources ?? placementRequest(parseDomainXML(dom.xml));
  // Placed there already (by an earlier run of the job, cut before the start): not placed twice.
  const placed = (s: DomainState | undefined) => s?.state === 'shutoff' && s.hostId === hostId && s.resources?.memoryKiB === size.memoryKiB && s.resources.vcpus === size.vcpus;
  await appendChecked(ctx, uuid, (s) => (placed(s) ? [] : [{ type: 'DomainPlaced', data: { uuid, hostId, memoryKiB: size.memoryKiB, vcpus: size.vcpus, reason: `moved to host '${hostId}'` } }]), ids);
  const started = await command(ctx, hostId, 'start', uuid, {}, ids, timeoutMs);
  if (started.outcome.status !== 'completed') {
    // libvirt's "domain failed to start": the placement is given back so the domain can be placed again.
    const err = outcomeError(hostId, 'start', started.outcome);
    await appendChecked(ctx, uuid, (s) => (s?.state === 'shutoff' && s.hostId === hostId ? [{ type: 'DomainStopped', data: { uuid, hostId, detail: 'FAILED', error: err.toJSON() } }] : []), ids);
    throw err;
  }
}
