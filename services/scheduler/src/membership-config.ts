/**
 * Membership's settings from the environment, checked once at start like
 * every VIRTFLOW_* variable (a wrong value names the variable):
 *
 * - VIRTFLOW_HOST_DOWN_MS (15000): a host whose heartbeat has not changed
 *   for this long is down (T). Keep it several heartbeat periods
 *   (VIRTFLOW_HEARTBEAT_MS, 5000) so one lost beat is not a failure.
 * - VIRTFLOW_FENCE_DELAY_MS (15000): added to T before a down host's HA
 *   domains start elsewhere (the lease), so a partitioned host has time to
 *   be the only one running them no longer.
 * - VIRTFLOW_MEMBERSHIP_CHECK_MS (T / 5): how often the decision runs.
 */
import { ConfigError } from '@virtflow/runtime';
import type { MembershipConfig } from '@virtflow/model';

type Env = Readonly<Record<string, string | undefined>>;

function ms(env: Env, name: string, def: number, min: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `'${raw}' is not a whole number of milliseconds`);
  const n = Number(raw);
  if (n < min || n > 86_400_000) throw new ConfigError(name, `${n} is out of range ${min}..86400000`);
  return n;
}

export interface MembershipSettings {
  readonly config: MembershipConfig;
  readonly checkMs: number;
}

export function loadMembershipConfig(env: Env): MembershipSettings {
  const downAfterMs = ms(env, 'VIRTFLOW_HOST_DOWN_MS', 15_000, 100);
  const fenceDelayMs = ms(env, 'VIRTFLOW_FENCE_DELAY_MS', 15_000, 0);
  const checkMs = ms(env, 'VIRTFLOW_MEMBERSHIP_CHECK_MS', Math.max(100, Math.floor(downAfterMs / 5)), 10);
  if (checkMs > downAfterMs) throw new ConfigError('VIRTFLOW_MEMBERSHIP_CHECK_MS', `${checkMs} ms is longer than VIRTFLOW_HOST_DOWN_MS (${downAfterMs} ms): a failure would be noticed late`);
  return { config: { downAfterMs, fenceDelayMs }, checkMs };
}
