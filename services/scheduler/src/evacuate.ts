/**
 * Emptying a host of its domains. While the host is up, each running (or
 * paused) domain is live-migrated wherever the placement puts it. Once the
 * host is down (HostDown), its domains cannot be sent anywhere: as Nova's
 * evacuate does, each is recorded as stopped there and booted on another
 * host. The operator (or the failure handler, after fencing) vouches that
 * the host's copies are really gone; when the host comes back its agent
 * finds the log says they live elsewhere and leaves them be.
 */
import { VirtError, parseDomainXML, placementRequest, type DomainState, type VirtErrorJSON } from '@virtflow/model';
import { domainRef } from '@virtflow/runtime';
import { bootOn, migrate, resumeMigration, type MigrateContext } from './migrate.ts';
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
  await pool([...host.domains], opts.concurrency ?? 4, async (uuid) => {
    try {
      let s = (await ctx.store.load(domainRef(uuid))).state;
      if (mode === 'live' && s?.migration) {
        // Left migrating by an earlier run of this job (its scheduler died): finished, or called off and moved again.
        const done = await resumeMigration(ctx, uuid, { correlationId });
        if (done) return void moved.push({ uuid, toHost: done.toHost });
        s = (await ctx.store.load(domainRef(uuid))).state;
      }
      const why = notMovable(s, hostId);
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
 * A domain of a down host, booted elsewhere: recorded as stopped on the dead
 * host (FAILED, naming why), its claim there given back, then placed on the
 * best other host and started. Tries the next host when a start fails there.
 */
export async function restartElsewhere(ctx: MigrateContext, dom: DomainState, downHost: string, opts: { readonly correlationId: string }): Promise<string> {
  const ids: Ids = { correlationId: opts.correlationId };
  const { uuid } = dom;
  const timeoutMs = ctx.timeoutMs ?? 120_000;
  const error = new VirtError('OPERATION_FAILED', `host '${downHost}' is down: domain '${dom.name}' evacuated`, `/hosts/${downHost}`).toJSON();
  await appendChecked(ctx, uuid, (s) => (s?.hostId === downHost && s.state !== 'shutoff' ? [{ type: 'DomainStopped', data: { uuid, hostId: downHost, detail: 'FAILED', error } }] : []), ids);
  await ctx.claims.release(downHost, uuid, `host '${downHost}' is down: domain evacuated`, ids);
  const req = placementRequest(parseDomainXML(dom.xml));
  const exclude: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < (ctx.maxAttempts ?? 3); i++) {
    const choice = chooseTarget(await ctx.inventory(), req, downHost, { exclude, live: false, ...(ctx.scheduler ? { config: ctx.scheduler } : {}), ...(ctx.random ? { random: ctx.random } : {}) });
    if (!choice.ok) {
      problems.push(detailOf(choice.error));
      break;
    }
    const toHost = choice.claim.hostId;
    exclude.push(toHost);
    const answer = await ctx.claims.claim({ ...choice.claim, request: req }, ids);
    if (!answer.ok) {
      problems.push(`${toHost}: ${answer.reason}`);
      continue;
    }
    ctx.progress?.({ uuid, stage: 'booting', fromHost: downHost, toHost, message: `booting domain '${dom.name}' of down host '${downHost}' on host '${toHost}'` });
    try {
      await bootOn(ctx, uuid, toHost, dom, ids, timeoutMs);
      return toHost;
    } catch (e) {
      problems.push(`${toHost}: ${detailOf(e)}`);
      await ctx.claims.release(toHost, uuid, `start failed: ${detailOf(e)}`, ids);
    }
  }
  throw new VirtError('OPERATION_FAILED', `domain '${dom.name}' of down host '${downHost}' could not be started elsewhere: ${problems.join('; ')}`, '/uuid');
}

/** Runs `f` over `items`, at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}
