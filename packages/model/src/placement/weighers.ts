/**
 * Weighers, after Nova's: each gives a raw value per candidate host, the
 * values are normalised over the candidates (min-max to [0, 1], all 0 when
 * they are equal, as nova.weights.normalize does) and summed times each
 * weigher's multiplier. The sign of a multiplier says spread or pack.
 */
import type { FilterContext } from './filters.ts';
import type { HostInventory, PlacementRequest, SchedulerConfig, WeigherName } from './types.ts';

export interface HostWeigher {
  readonly name: WeigherName;
  /** Whether the weigher has anything to say about this request. */
  applies(req: PlacementRequest): boolean;
  value(host: HostInventory, req: PlacementRequest, ctx: FilterContext): number;
}

/** Nova's defaults: ram and cpu 1.0 (spread), instance count 0.0 (off), soft affinity 1.0. */
export const DEFAULT_WEIGHTS: Readonly<Record<WeigherName, number>> = Object.freeze({ ram: 1, cpu: 1, domains: 0, softAffinity: 1 });

export const WEIGHERS: readonly HostWeigher[] = [
  { name: 'ram', applies: () => true, value: (h) => h.free.memoryKiB },
  { name: 'cpu', applies: () => true, value: (h) => h.free.vcpus },
  { name: 'domains', applies: () => true, value: (h) => h.domains.length + h.transit.length },
  {
    // ServerGroupSoftAffinityWeigher / ServerGroupSoftAntiAffinityWeigher: members on the host, negated for anti.
    name: 'softAffinity',
    applies: (req) => req.hints.group?.policy === 'soft-affinity' || req.hints.group?.policy === 'soft-anti-affinity',
    value: (h, req, ctx) => (ctx.groupHosts.get(h.hostId) ?? 0) * (req.hints.group?.policy === 'soft-anti-affinity' ? -1 : 1),
  },
];

export function weightsOf(config: SchedulerConfig): Record<WeigherName, number> {
  return { ...DEFAULT_WEIGHTS, ...config.weights };
}

/** Min-max normalisation over the candidates, as nova.weights.normalize. */
export function normalize(values: readonly number[]): number[] {
  if (values.length === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo;
  return values.map((v) => (span === 0 ? 0 : (v - lo) / span));
}
