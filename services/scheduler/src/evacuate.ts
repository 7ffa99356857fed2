/**
 * Emptying a host of its domains. While the host is up, each running (or
 * paused) domain is live-migrated wherever the placement puts it. Once the
 * host is down (HostDown), its domains cannot be sent anywhere: as Nova's
 * evacuate does, each is recorded as stopped there and booted on another
 * host. The operator (or the failure handler, after fencing) vouches that
 * the host's copies are really gone; when the host comes back its agent
 * finds the log says they live elsewhere and leaves them be.
 */
import { VirtError, parseDomainXML, placementRequest, type Claim, type DomainState, type PlacementRequest, type VirtErrorJSON } from '@virtflow/model';
import { domainRef, hostRef } from '@virtflow/runtime';
import { migrate } from './migrate.ts';
import { bootOn, runsOn } from './migrate-cold.ts';
import { coldTrail, releaseUnused, resumeMigration, type ColdTrail } from './migrate-resume.ts';
import type { MigrateContext } from './migrate-types.ts';
import { chooseTarget } from './migrate-target.ts';
import { appendChecked, detailOf, type Ids } from './migrate-steps.ts';

export interface EvacuateOptions {
  /** The job's id, carried by every event and command of the evacuation. */
  readonly correlationId?: string;
  /** Domains moved at once (4): each live migration copies a guest's memory over the network. */
  readonly concurrency?: number;
}

export interface EvacuateResult {
  readonly hostId: string;
  /** live: the host was up and its domains migrated; cold: it was down and they were booted elsewhere. */
  readonly mode: 'live' | 'cold';
  readonly moved: ReadonlyArray<{ readonly uuid: string; readonly toHost: string }>;
  readonly failed: ReadonlyArray<{ readonly uuid: string; readonly error: VirtErrorJSON }>;
  /** Domains on the host that were not running (placed but shut off, shutting down): left where they are. */
  readonly skipped: ReadonlyArray<{ readonly uuid: string; readonly reason: string }>;
}

export async function evacuate(ctx: MigrateContext, hostId: string, opts: EvacuateOptions = {}): Promise<EvacuateResult> {
  const inv = await ctx.inventory();
  const host = inv.hosts.get(hostId);
  if (!host || !host.facts.registered) throw new VirtError('INVALID_ARG', `cannot evacuate host '${hostId}': no such host`, '/hostId');
  const mode = host.facts.up ? 'live' : 'cold';
  const correlationId = opts.correlationId ?? ctx.newId();
  const moved: { uuid: string; toHost: string }[] = [];
  const failed: { uuid: string; error: VirtErrorJSON }[] = [];
  const skipped: { uuid: string; reason: string }[] = [];
  const domains = new Set(host.domains);
  // An earlier run of this job (its scheduler died) may have stopped domains of the down host already: they live nowhere now.
  if (mode === 'cold' && opts.correlationId !== undefined) for (const uuid of await releasedBy(ctx, hostId, correlationId)) domains.add(uuid);
  await pool([...domains], opts.concurrency ?? 4, async (uuid) => {
    try {
      let s = (await ctx.store.load(domainRef(uuid))).state;
      if (mode === 'live' && s?.migration) {
        // Left migrating by an earlier run of this job (its scheduler died): finished, or called off and moved again.
        const done = await resumeMigration(ctx, uuid, { correlationId });
        if (done) return void moved.push({ uuid, toHost: done.toHost });
        s = (await ctx.store.load(domainRef(uuid))).state;
      }
      let why = notMovable(s, hostId);
      if (why && mode === 'cold' && opts.correlationId !== undefined) {
        // Stopped on the down host by an earlier run of this job: booted elsewhere now (or already).
        const done = await resumeRestart(ctx, uuid, hostId, { correlationId });
        if (done) return void moved.push({ uuid, toHost: done });
        s = (await ctx.store.load(domainRef(uuid))).state;
        why = notMovable(s, hostId);
      }
      if (why) return void skipped.push({ uuid, reason: why });
      const toHost = mode === 'live'
        ? (await migrate(ctx, { uuid, live: true, correlationId })).toHost
        : await restartElsewhere(ctx, s!, hostId, { correlationId });
      moved.push({ uuid, toHost });
    } catch (e) {
      failed.push({ uuid, error: (e instanceof VirtError ? e : new VirtError('INTERNAL_ERROR', detailOf(e))).toJSON() });
    }
  });
  const byUuid = (a: { uuid: string }, b: { uuid: string }) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);
  return { hostId, mode, moved: moved.sort(byUuid), failed: failed.sort(byUuid), skipped: skipped.sort(byUuid) };
}

function notMovable(s: DomainState | undefined, hostId: string): string | undefined {
  if (!s?.defined) return 'not defined';
  if (s.hostId !== hostId) return `lives on host '${s.hostId ?? '(none)'}' now`;
  if (s.migration) return `already being migrated to host '${s.migration.toHost}'`;
  if (s.state !== 'running' && s.state !== 'paused') return `${s.state}: nothing runs to move`;
  return undefined;
}

/**
 * A domain of a down host, booted elsewhere: its claim there given back,
 * recorded as stopped on the dead host (FAILED, naming why), then placed on
 * the best other host and started. Tries the next host when a start fails
 * there. The claim goes first so that a run killed after the stop leaves a
 * HostResourcesReleased of its own on the host's log, by which its rerun
 * finds the domain (releasedBy; it no longer lives there).
 */
export async function restartElsewhere(ctx: MigrateContext, dom: DomainState, downHost: string, opts: { readonly correlationId: string }): Promise<string> {
  const ids: Ids = { correlationId: opts.correlationId };
  const { uuid } = dom;
  const error = new VirtError('OPERATION_FAILED', `host '${downHost}' is down: domain '${dom.name}' evacuated`, `/hosts/${downHost}`).toJSON();
  await ctx.claims.release(downHost, uuid, `host '${downHost}' is down: domain evacuated`, ids);
  await appendChecked(ctx, uuid, (s) => (s?.hostId === downHost && s.state !== 'shutoff' ? [{ type: 'DomainStopped', data: { uuid, hostId: downHost, detail: 'FAILED', error } }] : []), ids);
  return bootElsewhere(ctx, dom, downHost, ids);
}

/**
 * The domains job `correlationId` gave the claim back of on `hostId`: those
 * an earlier run of an evacuation of the down host stopped there, or was
 * about to.
 */
async function releasedBy(ctx: MigrateContext, hostId: string, correlationId: string): Promise<string[]> {
  const out = new Set<string>();
  for (const { event: e } of await ctx.store.events(hostRef(hostId))) {
    if (e.type === 'HostResourcesReleased' && e.correlationId === correlationId) out.add(e.data.uuid);
  }
  return [...out];
}

/**
 * A domain an earlier run of this evacuation recorded as stopped on the down
 * host (its own FAILED stop in the domain's log), the run killed before the
 * domain was booted elsewhere, or before the job completed. Before, the rerun
 * skipped it ("shutoff: nothing runs to move") and it stayed off. Now it is
 * booted on the host the earlier run claimed (else one chosen as a first run
 * does), its hosts where a start failed left out; one booted already is
 * reported where it went. Undefined: nothing of this job's to finish (it
 * never stopped the domain, or someone started it since).
 */
async function resumeRestart(ctx: MigrateContext, uuid: string, downHost: string, ids: Ids): Promise<string | undefined> {
  const trail = await coldTrail(ctx, uuid, ids);
  if (!trail || trail.fromHost !== downHost) return undefined;
  const { dom } = trail;
  if (trail.arrived !== undefined) {
    await releaseUnused(ctx, trail, [trail.arrived], ids);
    return trail.arrived;
  }
  if (dom.migration) return undefined;
  if (dom.state !== 'shutoff') {
    // Started by someone else since (an HA restart, a user): nothing of this job's to boot.
    await releaseUnused(ctx, trail, dom.hostId !== undefined ? [dom.hostId] : [], ids);
    return undefined;
  }
  await ctx.claims.release(downHost, uuid, `host '${downHost}' is down: domain evacuated`, ids);
  return bootElsewhere(ctx, dom, downHost, ids, trail);
}

/**
 * Places the shut-off domain of a down host on the best other host and
 * starts it, the next host when a start fails (ctx.maxAttempts in all).
 * `trail`: what an earlier run of the job did, so its claim is used first
 * and its failed hosts count as tried.
 */
async function bootElsewhere(ctx: MigrateContext, dom: DomainState, downHost: string, ids: Ids, trail?: ColdTrail): Promise<string> {
  const { uuid } = dom;
  const timeoutMs = ctx.timeoutMs ?? 120_000;
  const req = placementRequest(parseDomainXML(dom.xml));
  const exclude: string[] = [...(trail?.failed.keys() ?? [])];
  const problems: string[] = [...(trail?.failed ?? [])].map(([h, e]) => `${h}: ${e ? (e.detail ?? e.message) : 'start failed'}`);
  let next = trail ? earlierClaim(trail, downHost, req) : undefined;
  if (trail) await releaseUnused(ctx, trail, next ? [next.hostId] : [], ids);
  for (let i = exclude.length; i < (ctx.maxAttempts ?? 3); i++) {
    let claim = next;
    next = undefined;
    if (!claim) {
      const choice = chooseTarget(await ctx.inventory(), req, downHost, { exclude, live: false, ...(ctx.scheduler ? { config: ctx.scheduler } : {}), ...(ctx.random ? { random: ctx.random } : {}) });
      if (!choice.ok) {
        problems.push(detailOf(choice.error));
        break;
      }
      claim = { ...choice.claim, request: req };
    }
    const toHost = claim.hostId;
    exclude.push(toHost);
    const answer = await ctx.claims.claim(claim, ids);
    if (!answer.ok) {
      problems.push(`${toHost}: ${answer.reason}`);
      continue;
    }
    ctx.progress?.({ uuid, stage: 'booting', fromHost: downHost, toHost, message: `booting domain '${dom.name}' of down host '${downHost}' on host '${toHost}'` });
    try {
      await bootOn(ctx, uuid, toHost, dom, ids, timeoutMs);
      return toHost;
    } catch (e) {
      // A rerun's start may meet its earlier run's landing meanwhile (refused as "already running"): booted all the same.
      if (trail && runsOn((await ctx.store.load(domainRef(uuid))).state, toHost)) return toHost;
      problems.push(`${toHost}: ${detailOf(e)}`);
      await ctx.claims.release(toHost, uuid, `start failed: ${detailOf(e)}`, ids);
    }
  }
  throw new VirtError('OPERATION_FAILED', `domain '${dom.name}' of down host '${downHost}' could not be started elsewhere: ${problems.join('; ')}`, '/uuid');
}

/** The claim an earlier run of the job holds for the domain on a host it may still boot on (the one it placed it on, first), taken again as it was. */
function earlierClaim(trail: ColdTrail, downHost: string, req: PlacementRequest): (Claim & { readonly request: PlacementRequest }) | undefined {
  const hosts = [...trail.claimed.keys()].filter((h) => h !== downHost && !trail.failed.has(h));
  const hostId = trail.dom.hostId !== undefined && hosts.includes(trail.dom.hostId) ? trail.dom.hostId : hosts[0];
  if (hostId === undefined) return undefined;
  const c = trail.claimed.get(hostId)!;
  return { uuid: trail.dom.uuid, hostId, memoryKiB: c.memoryKiB, vcpus: c.vcpus, ...(c.numa ? { numa: c.numa } : {}), request: req };
}

/** Runs `f` over `items`, at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}
