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
 *
 * Here the entry and the live move; the cold move is migrate-cold.ts, the
 * choice and claim of the destination migrate-claim.ts, a rerun of the job
 * migrate-resume.ts, the types migrate-types.ts (re-exported below).
 */
import { VirtError, type DomainState } from '@virtflow/model';
import { domainRef } from '@virtflow/runtime';
import { claimTarget } from './migrate-claim.ts';
import { coldMove } from './migrate-cold.ts';
import { resumeColdMigration, resumeMigration } from './migrate-resume.ts';
import { appendChecked, callOff, command, detailOf, outcomeError, waitForDomain, type Ids } from './migrate-steps.ts';
import type { MigrateArgs, MigrateContext, MigrateResult, MigrationStage, Say } from './migrate-types.ts';

export type { ClaimAnswer, MigrateArgs, MigrateContext, MigrateResult, MigrationClaims, MigrationProgress, MigrationStage } from './migrate-types.ts';

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

/** The domain as it stands, refused unless it runs (or is paused) on a host and is not already moving. */
async function runningDomain(ctx: MigrateContext, uuid: string): Promise<DomainState> {
  const s = (await ctx.store.load(domainRef(uuid))).state;
  if (!s?.defined) throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`, '/uuid');
  if (s.migration) throw new VirtError('OPERATION_INVALID', `domain '${s.name}' is already being migrated to host '${s.migration.toHost}'`, '/uuid');
  if ((s.state !== 'running' && s.state !== 'paused') || s.hostId === undefined) throw new VirtError('OPERATION_INVALID', `domain '${s.name}' is not running`, '/uuid');
  return s;
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
  // A paused domain arrives as QEMU reports it: started MIGRATED, then suspended PAUSED, two appends by the
  // destination's agent; the move is over once the second is in (else a reader right after sees it running).
  const arrived = (s: DomainState | undefined) => s?.hostId === toHost && !s.migration && (dom.state !== 'paused' || s.state !== 'running');
  await waitForDomain(ctx, uuid, `the arrival of domain '${dom.name}' on host '${toHost}'`, arrived, timeoutMs);
}
