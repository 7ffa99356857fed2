/**
 * Draining a host: HostDrained {drained: true} first, so no placement picks
 * it any more (the ComputeFilter's "host is drained"), then its domains are
 * evacuated. Undraining is the same event with `drained: false`: the host
 * takes new domains again; nothing moves back on its own (Nova's
 * `compute service set --enable` does not rebalance either).
 */
import { VirtError, checkTransition } from '@virtflow/model';
import { hostRef } from '@virtflow/runtime';
import { evacuate, type EvacuateOptions, type EvacuateResult } from './evacuate.ts';
import type { MigrateContext } from './migrate.ts';
import type { Ids, StepContext } from './migrate-steps.ts';

/** Marks the host drained (or not). Already so: nothing is appended. Returns whether an event was. */
export async function setDrained(ctx: StepContext, hostId: string, drained: boolean, ids: Ids): Promise<boolean> {
  const r = await ctx.store.update(hostRef(hostId), ({ state, version }) => {
    if (!state?.registered) throw new VirtError('INVALID_ARG', `cannot ${drained ? 'drain' : 'undrain'} host '${hostId}': no such host`, '/hostId');
    if (state.drained === drained) return [];
    const drafts = [{ type: 'HostDrained', data: { hostId, drained } }] as const;
    checkTransition(state, ctx.store.makeEvents(drafts, version, ids)[0]!);
    return drafts;
  }, ids);
  return r.events.length > 0;
}

export async function drain(ctx: MigrateContext, hostId: string, opts: EvacuateOptions = {}): Promise<EvacuateResult & { readonly drained: boolean }> {
  const correlationId = opts.correlationId ?? ctx.newId();
  const drained = await setDrained(ctx, hostId, true, { correlationId });
  return { ...(await evacuate(ctx, hostId, { ...opts, correlationId })), drained };
}

export async function undrain(ctx: StepContext, hostId: string, opts: { readonly correlationId?: string } = {}): Promise<boolean> {
  return setDrained(ctx, hostId, false, { correlationId: opts.correlationId ?? ctx.newId() });
}
