/**
 * Claims on the host aggregate: how two schedulers share hosts without a
 * global lock. A claim is a HostResourcesClaimed event on the host's own
 * stream, appended at the host's version. The check and the append happen
 * against one version, so of two schedulers that read a host at version v,
 * only one stores version v + 1; the other gets a ConcurrencyError, reloads
 * the host (now holding the winner's claim) and checks again with the
 * placement's own filters (checkClaim), and either claims at v + 1 or hears
 * that the host no longer fits. Nova's placement service does the same with
 * a generation per resource provider.
 *
 * The host's state is cached per host between claims: a scheduler claiming
 * on one host again and again appends at the version it wrote last, and a
 * reload happens only when someone else wrote in between (the append says
 * so). The cache can only be behind the log, never ahead of it.
 *
 *   const ctx = claimsContext({ store, inventory, scheduler, occupants });
 *   const r = await claim(ctx, 'node-1', { uuid, memoryKiB, vcpus, request }, { correlationId: jobId });
 *   if (!r.ok) ... r.filter, r.reason: another scheduler was faster, or the host changed
 *   await release(ctx, 'node-1', uuid, 'domain stopped', { correlationId: jobId });
 */
import {
  VirtError, checkClaim, checkTransition, reduceHost,
  type AnyEvent, type CellClaim, type Claim, type DomainLifecycle, type EventData, type FilterName, type HostClaim, type HostState, type InventoryConfig,
  type PlacementRequest, type SchedulerConfig,
} from '@virtflow/model';
import { hostRef, isConcurrencyError, type EventStore } from '@virtflow/runtime';

/** The ids every event of a job carries. */
export interface Ids {
  readonly correlationId: string;
  readonly causationId?: string;
}

export interface ClaimsOptions {
  readonly store: EventStore;
  /** The allocation policy (ratios, reservations, aggregates) the claims are checked against. */
  readonly inventory?: InventoryConfig;
  readonly scheduler?: SchedulerConfig;
  /**
   * Domains on a host that its stream may not hold a claim for (one started
   * straight on a host, or placed before claims existed): the live
   * inventory's lifecycles. They count as well; a claim and a placement of
   * one domain count once.
   */
  readonly occupants?: (hostId: string) => Iterable<readonly [string, DomainLifecycle]>;
  /** Appends tried before giving up on a host that keeps changing under us (25). */
  readonly attempts?: number;
}

export interface ClaimsContext extends ClaimsOptions {
  /** hostId → the host as this process last read or wrote it. */
  readonly cache: Map<string, CachedHost>;
  /** hostId → the end of this context's queue of claims and releases on the host (see `serially`). */
  readonly queues: Map<string, Promise<void>>;
}

export interface CachedHost {
  readonly state: HostState | undefined;
  readonly version: number;
}

/** What a domain takes on a host. */
export interface ClaimDomain {
  readonly uuid: string;
  readonly memoryKiB: number;
  readonly vcpus: number;
  readonly numa?: readonly CellClaim[];
  /** A migration's target half: the domain runs on `migrateFrom` meanwhile. */
  readonly migrateFrom?: string;
  /** The request the placement was made for: every filter that can judge one host runs again on the reloaded host. */
  readonly request?: PlacementRequest;
  /** The scheduling group, recorded with the claim so other schedulers count the domain in it. Default: the request's group. */
  readonly group?: string;
  readonly reason?: string;
}

export type ClaimResult =
  | {
      readonly ok: true; readonly hostId: string; readonly version: number; readonly already: boolean; readonly appends: number;
      /** HostClaim.id: the claim's event id, what a release names. */
      readonly claimId: string;
      /** The HostResourcesClaimed appended (none when `already`). */
      readonly event?: AnyEvent;
    }
  | { readonly ok: false; readonly hostId: string; readonly filter: FilterName; readonly reason: string; readonly appends: number };

export interface ReleaseResult {
  readonly hostId: string;
  /** False when the host held no claim for the domain (nothing appended). */
  readonly released: boolean;
  readonly version: number;
  /** The HostResourcesReleased appended. */
  readonly event?: AnyEvent;
}

export function claimsContext(opts: ClaimsOptions): ClaimsContext {
  return { ...opts, cache: new Map(), queues: new Map() };
}

/**
 * Runs `write` after this context's earlier claims and releases on the same
 * host. A scheduler's concurrent jobs mostly pick the same best host; racing
 * each other there, each append would fail against its neighbour's and
 * reload the host, and some would give up after `attempts` lost races. In
 * line, each appends at the version the previous one wrote (the cache), so
 * only another process's write costs a reload. Hosts stay independent.
 */
function serially<T>(ctx: ClaimsContext, hostId: string, write: () => Promise<T>): Promise<T> {
  const run = (ctx.queues.get(hostId) ?? Promise.resolve()).then(write);
  const tail = run.then(() => undefined, () => undefined);
  ctx.queues.set(hostId, tail);
  // The last one out removes the queue, so idle hosts keep no entry.
  void tail.then(() => {
    if (ctx.queues.get(hostId) === tail) ctx.queues.delete(hostId);
  });
  return run;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A little jittered backoff, so racing schedulers do not retry in lockstep. */
const backoff = (attempt: number) => sleep(Math.random() * Math.min(100, 2 ** attempt));

async function loadHost(ctx: ClaimsContext, hostId: string): Promise<CachedHost> {
  const l = await ctx.store.load(hostRef(hostId));
  const h = { state: l.state, version: l.version };
  ctx.cache.set(hostId, h);
  return h;
}

/** The host's state with the domains the live inventory knows on it, for the check. */
function withOccupants(ctx: ClaimsContext, state: HostState): HostState {
  if (!ctx.occupants) return state;
  const occupants: Record<string, DomainLifecycle> = {};
  for (const [uuid, lc] of ctx.occupants(state.hostId)) occupants[uuid] = lc;
  return { ...state, occupants };
}

/** The request's group members, with the domains of its group that hold claims on this host (another scheduler's, maybe not seen yet). */
function withGroupClaims(req: PlacementRequest | undefined, state: HostState): PlacementRequest | undefined {
  const g = req?.hints.group;
  if (!req || !g || !state.claims) return req;
  const here = Object.entries(state.claims).filter(([, c]) => c.group === g.name).map(([u]) => u);
  if (here.length === 0) return req;
  const members = [...new Set([...(g.members ?? []), ...here])];
  return { ...req, hints: { ...req.hints, group: { ...g, members } } };
}

/** The job's own claim, made by an earlier try of it: nothing to append again. */
const ownClaim = (a: HostClaim, d: ClaimDomain, ids: Ids) =>
  a.correlationId === ids.correlationId && a.memoryKiB === d.memoryKiB && a.vcpus === d.vcpus && a.migrateFrom === d.migrateFrom;

function claimData(hostId: string, d: ClaimDomain): EventData['HostResourcesClaimed'] {
  const group = d.group ?? d.request?.hints.group?.name;
  return {
    hostId, uuid: d.uuid, memoryKiB: d.memoryKiB, vcpus: d.vcpus,
    ...(d.numa?.length ? { numa: d.numa } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(d.migrateFrom !== undefined ? { migrateFrom: d.migrateFrom } : {}),
    ...(d.reason !== undefined ? { reason: d.reason } : {}),
  };
}

/** Appends one event to the host at the cached version; on success the cache moves on with it. */
async function appendHost(ctx: ClaimsContext, hostId: string, h: CachedHost, event: AnyEvent): Promise<number> {
  await ctx.store.append(hostRef(hostId), [event], h.version);
  const next = { state: reduceHost(h.state, event), version: h.version + 1 };
  ctx.cache.set(hostId, next);
  return next.version;
}

/**
 * Claims a domain's resources on a host, if they still fit there: the
 * optimistic-concurrency loop (check at version v, append at v, reload on a
 * conflict). A claim the host already holds for the domain from the same job
 * (correlationId), the same size, is success with `already` (a retried job);
 * any other claim of the domain there is replaced by a new one, so a release
 * naming the old claim (a stop seen earlier) leaves the new one alone. Not
 * fitting is an answer, not an error: `{ok: false, filter, reason}` in the
 * placement's words.
 */
export function claim(ctx: ClaimsContext, hostId: string, domain: ClaimDomain, ids: Ids): Promise<ClaimResult> {
  return serially(ctx, hostId, () => claimNow(ctx, hostId, domain, ids));
}

async function claimNow(ctx: ClaimsContext, hostId: string, domain: ClaimDomain, ids: Ids): Promise<ClaimResult> {
  const attempts = ctx.attempts ?? 25;
  const claim: Claim = {
    uuid: domain.uuid, hostId, memoryKiB: domain.memoryKiB, vcpus: domain.vcpus,
    ...(domain.numa ? { numa: domain.numa } : {}), ...(domain.migrateFrom !== undefined ? { migrateFrom: domain.migrateFrom } : {}),
  };
  let fresh = false;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const cached = fresh ? undefined : ctx.cache.get(hostId);
    const h = cached ?? (await loadHost(ctx, hostId));
    fresh = false;
    const state = h.state;
    if (!state?.registered) {
      if (cached) { fresh = true; continue; }
      return { ok: false, hostId, filter: 'ComputeFilter', reason: `host '${hostId}' is not registered`, appends: attempt - 1 };
    }
    const held = state.claims?.[domain.uuid];
    if (held && ownClaim(held, domain, ids)) return { ok: true, hostId, version: h.version, already: true, appends: attempt - 1, claimId: held.id };
    const check = checkClaim(withOccupants(ctx, state), claim, { inventory: ctx.inventory ?? {}, scheduler: ctx.scheduler ?? {}, ...withRequest(withGroupClaims(domain.request, state)) });
    if (!check.ok) {
      // A cached host may be missing releases: only the host as the log has it now can say no.
      if (cached) { fresh = true; continue; }
      return { ok: false, hostId, filter: check.filter, reason: check.reason, appends: attempt - 1 };
    }
    const [event] = ctx.store.makeEvents([{ type: 'HostResourcesClaimed', data: claimData(hostId, domain) }], h.version, ids);
    checkTransition(state, event!);
    try {
      const version = await appendHost(ctx, hostId, h, event!);
      return { ok: true, hostId, version, already: false, appends: attempt, claimId: event!.id, event: event! };
    } catch (e) {
      if (!isConcurrencyError(e)) throw e;
      // Someone wrote to the host since we read it: read it again and decide again.
      ctx.cache.delete(hostId);
      fresh = true;
      await backoff(attempt);
    }
  }
  throw new VirtError('OPERATION_TIMEOUT', `claim of domain ${domain.uuid} on host '${hostId}' lost ${attempts} races with other writers in a row`, `/hosts/${hostId}/claims/${domain.uuid}`);
}

const withRequest = (req: PlacementRequest | undefined) => (req ? { request: req } : {});

export interface ReleaseOptions {
  /** Release only the claim made by this event (HostClaim.id): a newer claim of the domain stays. */
  readonly claimId?: string;
}

/**
 * Gives a domain's claim on a host back (HostResourcesReleased), with the
 * same loop. A host that holds no claim for the domain (or, with `claimId`,
 * not that claim) is left alone: releasing twice, or after a failover
 * released it, is harmless.
 */
export function release(ctx: ClaimsContext, hostId: string, uuid: string, reason: string, ids: Ids, opts: ReleaseOptions = {}): Promise<ReleaseResult> {
  return serially(ctx, hostId, () => releaseNow(ctx, hostId, uuid, reason, ids, opts));
}

async function releaseNow(ctx: ClaimsContext, hostId: string, uuid: string, reason: string, ids: Ids, opts: ReleaseOptions): Promise<ReleaseResult> {
  const attempts = ctx.attempts ?? 25;
  let fresh = false;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const cached = fresh ? undefined : ctx.cache.get(hostId);
    const h = cached ?? (await loadHost(ctx, hostId));
    fresh = false;
    const held = h.state?.claims && Object.hasOwn(h.state.claims, uuid) ? h.state.claims[uuid] : undefined;
    if (!held || (opts.claimId !== undefined && held.id !== opts.claimId)) {
      // The cache may predate the claim (another scheduler's): ask the log before saying there is none.
      if (cached) { fresh = true; continue; }
      return { hostId, released: false, version: h.version };
    }
    const [event] = ctx.store.makeEvents([{ type: 'HostResourcesReleased', data: { hostId, uuid, reason } }], h.version, ids);
    try {
      return { hostId, released: true, version: await appendHost(ctx, hostId, h, event!), event: event! };
    } catch (e) {
      if (!isConcurrencyError(e)) throw e;
      ctx.cache.delete(hostId);
      fresh = true;
      await backoff(attempt);
    }
  }
  throw new VirtError('OPERATION_TIMEOUT', `release of domain ${uuid} on host '${hostId}' lost ${attempts} races with other writers in a row`, `/hosts/${hostId}/claims/${uuid}`);
}

/** The claims a host holds now, as the log has it (reloaded, not cached). */
export async function heldClaims(ctx: ClaimsContext, hostId: string): Promise<Readonly<Record<string, HostClaim>>> {
  return (await loadHost(ctx, hostId)).state?.claims ?? {};
}

/**
 * The claims as MIGRATE's and HOSTFAIL's modules take them: `claim(Claim)`
 * answering `{ok}` or `{ok: false, reason}`, and `release`.
 */
export function claimsPort(ctx: ClaimsContext): {
  claim(c: Claim & { readonly request?: PlacementRequest; readonly group?: string; readonly reason?: string }, ids: Ids): Promise<ClaimResult>;
  release(hostId: string, uuid: string, reason: string, ids: Ids, opts?: ReleaseOptions): Promise<void>;
} {
  return {
    claim: (c, ids) => claim(ctx, c.hostId, c, ids),
    release: async (hostId, uuid, reason, ids, opts) => {
      await release(ctx, hostId, uuid, reason, ids, opts);
    },
  };
}
