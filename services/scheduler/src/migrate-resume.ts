/**
 * A migration's job run again after its scheduler died part-way (BullMQ's
 * stalled check hands the job on, same job id = correlationId): what its
 * earlier run wrote is read back from the domain's log and the move it began
 * is finished, called off, or reported as over. Live moves by their own
 * DomainMigrating (resumeMigration), cold ones by their own stop (coldTrail,
 * resumeColdMigration); evacuate.ts asks both for the domains of a host.
 */
import {
  VirtError, foldDomain, parseDomainXML, placementRequest,
  type DomainState, type HostClaim, type VirtErrorJSON,
} from '@virtflow/model';
import { domainRef } from '@virtflow/runtime';
import { claimTarget } from './migrate-claim.ts';
import { bootBack, coldBoot, coldFailure } from './migrate-cold.ts';
import { callOff, detailOf, waitForDomain, type Ids } from './migrate-steps.ts';
import type { MigrateArgs, MigrateContext, MigrateResult, Say } from './migrate-types.ts';

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
  // The log first: a job with no DomainMigrating of its own (every first run) costs this one read.
  const own = (await ctx.store.events(domainRef(uuid))).filter((e) => e.event.type === 'DomainMigrating').at(-1)?.event;
  if (own?.type !== 'DomainMigrating' || own.correlationId !== ids.correlationId) return undefined;
  const s = (await ctx.store.load(domainRef(uuid))).state;
  if (!s?.defined) return undefined;
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
export async function resumeColdMigration(ctx: MigrateContext, args: MigrateArgs, ids: Ids): Promise<MigrateResult | undefined> {
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
