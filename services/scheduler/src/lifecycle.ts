/**
 * Lifecycle operations on a domain that runs somewhere: shutdown, destroy,
 * reboot, reset, suspend, resume. The log says where the domain lives now
 * (never a host the domain left), so the command goes to that host's agent
 * and the job's result is the agent's outcome. A destroy gives the claim
 * back as soon as the agent has recorded the stop; a shutdown's stop comes
 * when the guest powers off, and the stop watcher (service.ts) gives the
 * claim back then.
 */
import { VirtError, makeCommand, type CommandOutcome } from '@virtflow/model';
import { domainRef, sendCommand, type CommandResultWatcher, type EventStore } from '@virtflow/runtime';
import type { NatsConnection } from '@nats-io/transport-node';
import { heldClaims, release, type ClaimsContext, type Ids } from './claims.ts';

export const ROUTED_OPS = ['shutdown', 'destroy', 'reboot', 'reset', 'suspend', 'resume'] as const;
export type RoutedOp = (typeof ROUTED_OPS)[number];

export interface RouteContext {
  readonly store: EventStore;
  readonly nc: NatsConnection;
  readonly watcher: CommandResultWatcher;
  readonly claims: ClaimsContext;
  readonly commandTimeoutMs: number;
  readonly newId: () => string;
  readonly now: () => Date;
}

export interface RoutedResult {
  readonly uuid: string;
  readonly op: RoutedOp;
  readonly hostId: string;
  /** The events the agent recorded for it. */
  readonly events: readonly { readonly id: string; readonly type: string; readonly seq: number }[];
  /** destroy: the claim on the host was given back. */
  readonly released?: boolean;
}

export function isRoutedOp(op: string): op is RoutedOp {
  return (ROUTED_OPS as readonly string[]).includes(op);
}

export async function routeOperation(ctx: RouteContext, op: RoutedOp, uuid: string, ids: Ids): Promise<RoutedResult> {
  const s = (await ctx.store.load(domainRef(uuid))).state;
  if (!s?.defined) throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`, '/uuid');
  const refused = s.state === 'shutoff' || s.hostId === undefined ? 'domain is not running' : s.migrating ? `domain '${s.name}' is being migrated` : undefined;
  if (refused !== undefined) {
    // The same job run again (a retry, or a lost lock handing it to another worker) after its
    // command took effect: the state now refuses the op, but the log holds what this job did.
    const done = await ownResult(ctx, op, uuid, ids);
    if (done) return done;
    throw new VirtError('OPERATION_INVALID', refused, '/uuid');
  }
  const hostId = s.hostId!;
  // The claim in force before the stop: released by its id, so a newer claim (a start right after) stays.
  const claimId = op === 'destroy' ? (await heldClaims(ctx.claims, hostId))[uuid]?.id : undefined;
  const cmd = makeCommand(op, { hostId, uuid }, {}, { correlationId: ids.correlationId, now: ctx.now, newId: ctx.newId });
  const pending: Promise<CommandOutcome> = ctx.watcher.wait(cmd, ctx.commandTimeoutMs);
  // A send that throws leaves the wait unawaited: its timeout must not surface as an unhandled rejection.
  pending.catch(() => undefined);
  await sendCommand(ctx.nc, cmd);
  const outcome = await pending;
  if (outcome.status !== 'completed') {
    const e = outcome.error;
    throw new VirtError(e?.code ?? 'INTERNAL_ERROR', `${op} on host '${hostId}' failed: ${e?.message ?? 'no error recorded'}`, e?.path ?? '/uuid');
  }
  let released: boolean | undefined;
  if (op === 'destroy' && claimId !== undefined) released = (await release(ctx.claims, hostId, uuid, 'domain destroyed', ids, { claimId })).released;
  return { uuid, op, hostId, events: outcome.events ?? [], ...(released !== undefined ? { released } : {}) };
}

/** What an earlier run of this job recorded on the domain, as its result; undefined when it recorded nothing. */
async function ownResult(ctx: RouteContext, op: RoutedOp, uuid: string, ids: Ids): Promise<RoutedResult | undefined> {
  const own = (await ctx.store.events(domainRef(uuid))).filter((e) => e.event.correlationId === ids.correlationId && 'hostId' in (e.event.data as object));
  if (own.length === 0) return undefined;
  const hostId = (own[own.length - 1]!.event.data as { hostId: string }).hostId;
  return { uuid, op, hostId, events: own.map((e) => ({ id: e.event.id, type: e.event.type, seq: e.seq })) };
}
