import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';
import { queues } from './queues.ts';

describe('config', () => {
  it('reads VIRTFLOW_* variables into a typed object', () => {
    const c = loadConfig({ VIRTFLOW_REDIS_URL: 'redis://10.0.0.1:7000', VIRTFLOW_NATS_URL: 'nats://a:4222, nats://b:4222', VIRTFLOW_CONCURRENCY: '32', VIRTFLOW_HOST_ID: 'node-1' });
    assert.equal(c.redisUrl, 'redis://10.0.0.1:7000');
    assert.deepEqual(c.natsUrl, ['nats://a:4222', 'nats://b:4222']);
    assert.equal(c.concurrency, 32);
    assert.equal(c.hostId, 'node-1');
    assert.equal(c.jobAttempts, 5);
  });

  it('reads the stalled-check period and the policy stage modules', () => {
    const c = loadConfig({ VIRTFLOW_LOCK_MS: '5000', VIRTFLOW_POLICY_STAGES: '/etc/a.mjs, /opt/b.ts', VIRTFLOW_POLICY_DIR: '/etc/virtflow/policy.d' });
    assert.equal(c.stalledMs, 5000, 'the lock period unless set');
    assert.equal(loadConfig({ VIRTFLOW_STALLED_MS: '1000' }).stalledMs, 1000);
    assert.deepEqual(c.policyStages, ['/etc/a.mjs', '/opt/b.ts']);
    assert.equal(c.policyDir, '/etc/virtflow/policy.d');
    assert.equal(c.policyPollMs, 2000);
    assert.throws(() => loadConfig({ VIRTFLOW_POLICY_STAGES: '/etc/a.py' }), /VIRTFLOW_POLICY_STAGES: '\/etc\/a.py' is not a .mjs, .js, .ts or .mts module/);
  });

  it('stops on a wrong value, naming the variable', () => {
    assert.throws(() => loadConfig({ VIRTFLOW_REDIS_URL: 'http://x' }), (e: ConfigError) => e.variable === 'VIRTFLOW_REDIS_URL' && /redis:\/\//.test(e.message));
    assert.throws(() => loadConfig({ VIRTFLOW_CONCURRENCY: 'many' }), (e: ConfigError) => e.message === "VIRTFLOW_CONCURRENCY: 'many' is not a whole number");
    assert.throws(() => loadConfig({ VIRTFLOW_HTTP_PORT: '70000' }), /VIRTFLOW_HTTP_PORT: 70000 is out of range/);
    assert.throws(() => loadConfig({ VIRTFLOW_LOG_LEVEL: 'loud' }), /VIRTFLOW_LOG_LEVEL/);
    assert.throws(() => loadConfig({ VIRTFLOW_NATS_URL: 'nope' }), /VIRTFLOW_NATS_URL: 'nope' is not a URL/);
    assert.throws(() => loadConfig({ VIRTFLOW_EVENT_PROVENANCE: 'yes' }), (e: ConfigError) => e.variable === 'VIRTFLOW_EVENT_PROVENANCE' && /'yes' is not one of 0, 1/.test(e.message));
  });

  it('keeps provenance out of DomainDefined unless VIRTFLOW_EVENT_PROVENANCE=1', () => {
    assert.equal(loadConfig({}).eventProvenance, false);
    assert.equal(loadConfig({ VIRTFLOW_EVENT_PROVENANCE: '0' }).eventProvenance, false);
    assert.equal(loadConfig({ VIRTFLOW_EVENT_PROVENANCE: '1' }).eventProvenance, true);
  });
});

describe('queue names', () => {
  it('are built in one place', () => {
    assert.equal(queues.jobs, 'virtflow.jobs');
    assert.equal(queues.postparse('qemu'), 'virtflow.postparse.qemu');
    assert.equal(queues.schedule, 'virtflow.schedule');
    assert.throws(() => queues.postparse('a.b'));
  });
});
