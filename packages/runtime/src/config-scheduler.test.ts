import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadSchedulerConfig } from './config.ts';

describe('loadSchedulerConfig', () => {
  it("Nova's defaults when nothing is set", () => {
    assert.deepEqual(loadSchedulerConfig({}), {
      maxHosts: 3, commandTimeoutMs: 60_000, ramAllocationRatio: 1.0, cpuAllocationRatio: 4.0, reservedHostMemoryKiB: 524288, reservedHostCpus: 0,
      hostSubsetSize: 1, weights: {}, maxDomainsPerHost: undefined,
    });
  });

  it('reads every variable', () => {
    const c = loadSchedulerConfig({
      VIRTFLOW_SCHEDULER_MAX_HOSTS: '5', VIRTFLOW_COMMAND_TIMEOUT_MS: '1000', VIRTFLOW_RAM_ALLOCATION_RATIO: '1.5', VIRTFLOW_CPU_ALLOCATION_RATIO: '16',
      VIRTFLOW_RESERVED_HOST_MEMORY_KIB: '0', VIRTFLOW_RESERVED_HOST_CPUS: '2', VIRTFLOW_HOST_SUBSET_SIZE: '3', VIRTFLOW_SCHEDULER_WEIGHTS: 'ram=-1, domains=2.5',
      VIRTFLOW_MAX_DOMAINS_PER_HOST: '40',
    });
    assert.deepEqual(c, {
      maxHosts: 5, commandTimeoutMs: 1000, ramAllocationRatio: 1.5, cpuAllocationRatio: 16, reservedHostMemoryKiB: 0, reservedHostCpus: 2,
      hostSubsetSize: 3, weights: { ram: -1, domains: 2.5 }, maxDomainsPerHost: 40,
    });
  });

  it('a wrong value names its variable', () => {
    const bad = (env: Record<string, string>, re: RegExp) => assert.throws(() => loadSchedulerConfig(env), (e: unknown) => e instanceof ConfigError && re.test(e.message));
    bad({ VIRTFLOW_SCHEDULER_MAX_HOSTS: '0' }, /^VIRTFLOW_SCHEDULER_MAX_HOSTS: 0 is out of range 1\.\.1000/);
    bad({ VIRTFLOW_RAM_ALLOCATION_RATIO: '-1' }, /^VIRTFLOW_RAM_ALLOCATION_RATIO: '-1' is not a ratio above 0/);
    bad({ VIRTFLOW_CPU_ALLOCATION_RATIO: 'lots' }, /^VIRTFLOW_CPU_ALLOCATION_RATIO: 'lots' is not a ratio/);
    bad({ VIRTFLOW_SCHEDULER_WEIGHTS: 'disk=1' }, /^VIRTFLOW_SCHEDULER_WEIGHTS: unknown weigher 'disk'/);
    bad({ VIRTFLOW_SCHEDULER_WEIGHTS: 'ram' }, /^VIRTFLOW_SCHEDULER_WEIGHTS: 'ram' is not weigher=multiplier/);
  });
});
