import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@virtflow/runtime';
import { loadMembershipConfig } from './membership-config.ts';

test('membership settings: defaults, values, and errors that name the variable', () => {
  assert.deepEqual(loadMembershipConfig({}), { config: { downAfterMs: 15_000, fenceDelayMs: 15_000 }, checkMs: 3_000 });
  assert.deepEqual(loadMembershipConfig({ VIRTFLOW_HOST_DOWN_MS: '3000', VIRTFLOW_FENCE_DELAY_MS: '0' }), { config: { downAfterMs: 3_000, fenceDelayMs: 0 }, checkMs: 600 });
  assert.throws(() => loadMembershipConfig({ VIRTFLOW_HOST_DOWN_MS: '3s' }), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_HOST_DOWN_MS');
  assert.throws(() => loadMembershipConfig({ VIRTFLOW_HOST_DOWN_MS: '50' }), (e: unknown) => e instanceof ConfigError && /out of range/.test(e.message));
  assert.throws(() => loadMembershipConfig({ VIRTFLOW_HOST_DOWN_MS: '1000', VIRTFLOW_MEMBERSHIP_CHECK_MS: '5000' }), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_MEMBERSHIP_CHECK_MS');
});
