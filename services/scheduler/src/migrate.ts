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
  VirtError, parseDomainXML, placementRequest,
  type Claim, type DomainState, type Inventory, type PlacementRequest, type SchedulerConfig, type SchedulerHints,
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
  if (args.correlationId !== undefined && args.live) {
    const done = await resumeMigration(ctx, args.uuid, ids);
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
  say('booting', `booting domain '${dom.name}' on host '${toHost}'`, toHost);
  try {
    await bootOn(ctx, uuid, toHost, dom, ids, timeoutMs);
  } catch (e) {
    const why = detailOf(e);
    await ctx.claims.release(toHost, uuid, `cold migration failed: ${why}`, ids);
    say('failed', `${why}; booting domain '${dom.name}' on host '${fromHost}' again`, toHost);
    // Its stop there gave the source's claim back: take it again (it boots there whatever the answer: it ran there a moment ago).
    const size = dom.resources ?? placementRequest(parseDomainXML(dom.xml));
    await ctx.claims.claim({ uuid, hostId: fromHost, memoryKiB: size.memoryKiB, vcpus: size.vcpus }, ids);
    await bootOn(ctx, uuid, fromHost, dom, ids, timeoutMs);
    throw new VirtError('OPERATION_FAILED', `cold migration of domain '${dom.name}' from host '${fromHost}' to '${toHost}' failed: ${why}`, '/uuid');
  }
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
  await appendChecked(ctx, uuid, () => [{ type: 'DomainPlaced', data: { uuid, hostId, memoryKiB: size.memoryKiB, vcpus: size.vcpus, reason: `moved to host '${hostId}'` } }], ids);
  const started = await command(ctx, hostId, 'start', uuid, {}, ids, timeoutMs);
  if (started.outcome.status !== 'completed') {
    // libvirt's "domain failed to start": the placement is given back so the domain can be placed again.
    const err = outcomeError(hostId, 'start', started.outcome);
    await appendChecked(ctx, uuid, (s) => (s?.state === 'shutoff' && s.hostId === hostId ? [{ type: 'DomainStopped', data: { uuid, hostId, detail: 'FAILED', error: err.toJSON() } }] : []), ids);
    throw err;
  }
}
