import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadAgentConfig } from './config.ts';

const d = { hostId: 'n1', tmpdir: '/tmp' };

describe('loadAgentConfig', () => {
  it('has defaults', () => {
    const c = loadAgentConfig({}, d);
    assert.equal(c.hypervisor, 'qemu');
    assert.equal(c.runDir, '/tmp/virtflow/n1');
    assert.equal(c.heartbeatMs, 5000);
    assert.deepEqual(c.testDelays, {});
    assert.equal(c.testGuestShutdownMs, 50);
  });

  it('reads the test hypervisor\'s settings', () => {
    const c = loadAgentConfig({ VIRTFLOW_HYPERVISOR: 'test', VIRTFLOW_TEST_DELAYS: 'start=2000, destroy=5', VIRTFLOW_TEST_GUEST_SHUTDOWN_MS: 'never', VIRTFLOW_TEST_CPUS: '64' }, d);
    assert.deepEqual([c.hypervisor, c.testCpus, c.testGuestShutdownMs], ['test', 64, Infinity]);
    assert.deepEqual(c.testDelays, { start: 2000, destroy: 5 });
  });

  it('names the variable at fault', () => {
    assert.throws(() => loadAgentConfig({ VIRTFLOW_HYPERVISOR: 'xen' }, d), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_HYPERVISOR');
    assert.throws(() => loadAgentConfig({ VIRTFLOW_TEST_DELAYS: 'boot=1' }, d), /VIRTFLOW_TEST_DELAYS: unknown operation 'boot'/);
    assert.throws(() => loadAgentConfig({ VIRTFLOW_HEARTBEAT_MS: '10' }, d), /VIRTFLOW_HEARTBEAT_MS: 10 is out of range/);
  });
});
