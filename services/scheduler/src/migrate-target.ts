/**
 * Where a migration goes: the host asked for, if it passes the placement
 * filters, or the best host `place` finds without the source. Pure over the
 * scheduler's inventory, so the reason a host is refused is the filter's own
 * sentence, the same one a start would get.
 */
import {
  VirtError, formatExplain, place,
  type Claim, type Inventory, type PlacementRequest, type SchedulerConfig,
} from '@virtflow/model';

export type TargetChoice =
  | { readonly ok: true; readonly claim: Claim; readonly summary: string }
  | { readonly ok: false; readonly error: VirtError };

/**
 * The destination of `req`'s domain, which runs on `source`. With `toHost`,
 * that host alone is judged; without, every host but the source and those in
 * `exclude` (refused by an earlier claim attempt of the same migration).
 */
export function chooseTarget(
  inv: Inventory, req: PlacementRequest, source: string,
  opts: {
    readonly toHost?: string | undefined;
    readonly exclude?: readonly string[];
    /** A live migration's claim is DomainMigrating's target half; a cold one's is a new placement. */
    readonly live?: boolean;
    readonly config?: SchedulerConfig;
    readonly random?: () => number;
  } = {},
): TargetChoice {
  const who = `domain '${req.name ?? req.uuid}'`;
  const { toHost } = opts;
  if (toHost !== undefined) {
    if (toHost === source) return refuse('OPERATION_INVALID', `${who} cannot be migrated to the host it runs on ('${toHost}')`, '/toHost');
    if (!inv.hosts.has(toHost)) return refuse('INVALID_ARG', `cannot migrate ${who} to host '${toHost}': no such host`, '/toHost');
  }
  // A cold migration places the domain afresh: the source must be left out by hand.
  const exclude = [...new Set([...(req.hints.excludeHosts ?? []), ...(opts.exclude ?? []), ...(opts.live === false ? [source] : [])])];
  const hints = { ...req.hints, ...(exclude.length ? { excludeHosts: exclude } : {}), ...(toHost !== undefined ? { requestedHost: toHost } : {}) };
  const p = place(inv, { ...req, hints }, opts.config ?? {}, {
    ...(opts.live === false ? {} : { migrateFrom: source }),
    ...(toHost !== undefined ? { hosts: [toHost] } : {}),
    ...(opts.random ? { random: opts.random } : {}),
  });
  if (p.claim) return { ok: true, claim: p.claim, summary: p.summary };
  if (toHost !== undefined) {
    const why = p.explain.find((r) => r.hostId === toHost);
    return refuse('OPERATION_INVALID', `cannot migrate ${who} to host '${toHost}': ${why ? `${why.filter}: ${why.reason}` : p.summary}`, '/toHost');
  }
  return refuse('OPERATION_INVALID', `cannot migrate ${who} away from host '${source}': ${[p.summary, ...formatExplain(p)].join('; ')}`, '/toHost');
}

function refuse(code: 'OPERATION_INVALID' | 'INVALID_ARG', detail: string, path: string): TargetChoice {
  return { ok: false, error: new VirtError(code, detail, path) };
}
