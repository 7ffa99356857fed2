/**
 * Nova's cold migration (`live: false`): the domain is shut down on the
 * source (ACPI, then destroyed after a grace period), placed on the
 * destination and booted there; a boot that fails there boots it on the
 * source again. Its steps serve a rerun of the job (migrate-resume.ts) and
 * the evacuation of a down host (evacuate.ts) too.
 */
import { VirtError, parseDomainXML, placementRequest, type DomainState } from '@virtflow/model';
import { domainRef } from '@virtflow/runtime';
import { appendChecked, command, detailOf, outcomeError, waitForDomain, type Ids, type StepContext } from './migrate-steps.ts';
import type { MigrateContext, Say } from './migrate-types.ts';

export async function coldMove(ctx: MigrateContext, dom: DomainState, toHost: string, ids: Ids, say: Say): Promise<void> {
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
export async function coldBoot(ctx: MigrateContext, dom: DomainState, fromHost: string, toHost: string, ids: Ids, say: Say, resumed: boolean): Promise<void> {
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
export async function bootBack(ctx: MigrateContext, dom: DomainState, fromHost: string, ids: Ids, resumed: boolean): Promise<void> {
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

export function coldFailure(name: string, fromHost: string, toHost: string, why: string): VirtError {
  return new VirtError('OPERATION_FAILED', `cold migration of domain '${name}' from host '${fromHost}' to '${toHost}' failed: ${why}`, '/uuid');
}

/** The domain runs (or is paused) on `hostId`, not moving. */
export const runsOn = (s: DomainState | undefined, hostId: string): boolean => s?.hostId === hostId && !s.migration && (s.state === 'running' || s.state === 'paused');

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
