/**
 * Choosing a migration's destination and claiming it there: the placement
 * (migrate-target.ts) judges the hosts, the scheduler's claims take the
 * resources; a claim lost to another scheduler is tried on the next best host.
 */
import { VirtError, parseDomainXML, placementRequest, type Claim, type DomainState } from '@virtflow/model';
import { chooseTarget } from './migrate-target.ts';
import type { Ids } from './migrate-steps.ts';
import type { MigrateArgs, MigrateContext } from './migrate-types.ts';

/**
 * Chooses the destination and claims it. A claim refused because another
 * scheduler filled the host meanwhile is tried on the next best host (a
 * requested host is not replaced: the refusal is the answer).
 */
export async function claimTarget(ctx: MigrateContext, dom: DomainState, args: MigrateArgs, ids: Ids): Promise<{ claim: Claim; summary: string }> {
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
