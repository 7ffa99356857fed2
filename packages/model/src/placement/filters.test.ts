import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterContext } from './place.ts';
import { FILTERS } from './filters.ts';
import { applyClaim, foldInventory } from './inventory.ts';
import { GiB, MiB, cluster, request, uuidOf, type HostSpec } from './fixtures.ts';
import type { FilterName, Inventory, InventoryConfig, PlacementRequest, SchedulerConfig } from './types.ts';

const NO_RESERVE: InventoryConfig = { policy: { reservedHostMemoryKiB: 0 } };

/** What one filter says about one host. */
function verdict(name: FilterName, inv: Inventory, hostId: string, req: PlacementRequest, config: SchedulerConfig = {}): string | undefined {
  return FILTERS[name].check(inv.hosts.get(hostId)!, req, filterContext(inv, req, config));
}

function one(spec: Partial<HostSpec> = {}, config: InventoryConfig = NO_RESERVE) {
  return cluster([{ id: 'node-1', ...spec }], config);
}

describe('ComputeFilter', () => {
  it('passes an up host', () => {
    assert.equal(verdict('ComputeFilter', one().inv, 'node-1', request(uuidOf(1))), undefined);
  });

  it('removes a down host, saying why and when it was last seen', () => {
    const { log, inv } = one();
    log.add('HostDown', { hostId: 'node-1', reason: 'missed heartbeats for 15 s', lastSeen: '2024-01-01T00:00:00.000Z' });
    const down = foldInventory(inv, log.events.slice(-1));
    assert.equal(verdict('ComputeFilter', down, 'node-1', request(uuidOf(1))), 'host is down: missed heartbeats for 15 s (last seen 2024-01-01T00:00:00.000Z)');
  });

  it('removes a drained host', () => {
    const { log, inv } = one();
    log.add('HostDrained', { hostId: 'node-1', drained: true });
    assert.equal(verdict('ComputeFilter', foldInventory(inv, log.events.slice(-1)), 'node-1', request(uuidOf(1))), 'host is drained: it takes no new domains');
  });

  it('removes a host in maintenance by its label, or its aggregate', () => {
    assert.equal(verdict('ComputeFilter', one({ labels: { 'virtflow/maintenance': 'true' } }).inv, 'node-1', request(uuidOf(1))), 'host is in maintenance (label virtflow/maintenance=true)');
    const agg = one({}, { aggregates: [{ name: 'rack-7', hosts: ['node-1'], labels: { 'virtflow/maintenance': 'true' } }] });
    assert.equal(agg.inv.hosts.get('node-1')!.status, 'maintenance');
  });

  it('removes a host known only from domain events', () => {
    const { log, inv } = one();
    log.add('DomainPlaced', { uuid: uuidOf(1), hostId: 'ghost', memoryKiB: GiB, vcpus: 1 });
    const next = foldInventory(inv, log.events.slice(-1));
    assert.equal(verdict('ComputeFilter', next, 'ghost', request(uuidOf(2))), 'host is not registered (known only from domain events)');
  });
});

describe('RetryFilter and RequestedHostFilter', () => {
  it('removes the hosts a request excludes', () => {
    const { inv } = one();
    assert.match(verdict('RetryFilter', inv, 'node-1', request(uuidOf(1), { hints: { excludeHosts: ['node-1'] } }))!, /^excluded by the request's excludeHosts/);
    assert.equal(verdict('RetryFilter', inv, 'node-1', request(uuidOf(1), { hints: { excludeHosts: ['node-2'] } })), undefined);
  });

  it('keeps only the requested host', () => {
    const { inv } = one();
    assert.equal(verdict('RequestedHostFilter', inv, 'node-1', request(uuidOf(1), { hints: { requestedHost: 'node-2' } })), "not the requested host 'node-2'");
  });
});

describe('LabelsFilter', () => {
  const { inv } = cluster([{ id: 'node-1', labels: { zone: 'eu-1b' } }], { aggregates: [{ name: 'ssd', hosts: ['node-1'], labels: { disk: 'ssd', zone: 'eu-1a' } }] });

  it('says which label is missing or different', () => {
    assert.equal(verdict('LabelsFilter', inv, 'node-1', request(uuidOf(1), { hints: { requiredLabels: { gpu: 'a100' } } })), 'no label gpu (required gpu=a100)');
    assert.equal(verdict('LabelsFilter', inv, 'node-1', request(uuidOf(1), { hints: { requiredLabels: { zone: 'eu-1a' } } })), 'label zone=eu-1b, required zone=eu-1a');
  });

  it("reads an aggregate's metadata under the host's own labels, and accepts one of several values", () => {
    assert.equal(verdict('LabelsFilter', inv, 'node-1', request(uuidOf(1), { hints: { requiredLabels: { disk: 'ssd', zone: ['eu-1a', 'eu-1b'] } } })), undefined);
    assert.deepEqual(inv.hosts.get('node-1')!.aggregates, ['ssd']);
  });
});

describe('capability filters', () => {
  it('ArchFilter: a host without guests of the arch', () => {
    assert.equal(verdict('ArchFilter', one().inv, 'node-1', request(uuidOf(1), { arch: 'aarch64' })), 'host runs no hvm/aarch64 guests (it offers hvm/x86_64)');
  });

  it('DomainTypeFilter: kvm needs a host whose caps list kvm', () => {
    const { inv } = one({ kvm: false });
    assert.equal(verdict('DomainTypeFilter', inv, 'node-1', request(uuidOf(1))), 'host offers no kvm domains for hvm/x86_64 (only qemu): no /dev/kvm on the host, or KVM cannot run this arch');
    assert.equal(verdict('DomainTypeFilter', inv, 'node-1', request(uuidOf(1), { domainType: 'qemu' })), undefined);
  });

  it('EmulatorFilter: the emulator path must be on the host', () => {
    const { inv } = one({ emulator: '/usr/libexec/qemu-kvm' });
    assert.equal(verdict('EmulatorFilter', inv, 'node-1', request(uuidOf(1))), 'emulator /usr/bin/qemu-system-x86_64 is not on the host (it has /usr/libexec/qemu-kvm)');
  });

  it('MachineTypeFilter: canonical names and aliases', () => {
    const { inv } = one({ machines: ['pc-i440fx-8.0', 'pc-q35-8.0'] });
    assert.equal(verdict('MachineTypeFilter', inv, 'node-1', request(uuidOf(1), { machine: 'pc' })), undefined);
    assert.equal(verdict('MachineTypeFilter', inv, 'node-1', request(uuidOf(1), { machine: 'pc-q35-8.0' })), undefined);
    assert.equal(verdict('MachineTypeFilter', inv, 'node-1', request(uuidOf(1))), "machine type pc-i440fx-7.2 is not offered for kvm hvm/x86_64 by the host's emulator (it offers pc-i440fx-8.0, pc-q35-8.0)");
  });

  it('CpuModelFilter: unknown and unusable models', () => {
    const { inv } = one();
    assert.equal(verdict('CpuModelFilter', inv, 'node-1', request(uuidOf(1), { cpuModel: 'Haswell' })), undefined);
    assert.equal(verdict('CpuModelFilter', inv, 'node-1', request(uuidOf(1), { cpuModel: 'EPYC-Genoa' })), "CPU model EPYC-Genoa is unknown to the host's emulator");
    assert.equal(verdict('CpuModelFilter', inv, 'node-1', request(uuidOf(1), { cpuModel: 'Skylake-Server' })), "CPU model Skylake-Server is not usable on the host's CPU (features missing)");
  });

  it('a host with no capabilities fails the capability filters', () => {
    const { log, inv } = one();
    log.add('DomainPlaced', { uuid: uuidOf(9), hostId: 'ghost', memoryKiB: GiB, vcpus: 1 });
    const next = foldInventory(inv, log.events.slice(-1));
    assert.equal(verdict('ArchFilter', next, 'ghost', request(uuidOf(1))), 'host has not reported its capabilities');
  });
});

describe('RamFilter and CoreFilter', () => {
  it('explains free memory against the request, with the ratio', () => {
    const { inv } = one({ memoryKiB: 4 * GiB });
    const used = applyClaim(inv, { uuid: uuidOf(1), hostId: 'node-1', memoryKiB: 2.5 * GiB, vcpus: 1 });
    assert.equal(verdict('RamFilter', used, 'node-1', request(uuidOf(2))), 'free memory 1.5 GiB < requested 2 GiB (ratio 1.0)');
  });

  it('counts the reservation and the overcommit ratio', () => {
    const { inv } = one({ memoryKiB: 4 * GiB }, { policy: { ramAllocationRatio: 1.5, reservedHostMemoryKiB: 512 * MiB } });
    const h = inv.hosts.get('node-1')!;
    assert.equal(h.capacity.memoryKiB, 3.5 * GiB * 1.5);
    const used = applyClaim(inv, { uuid: uuidOf(1), hostId: 'node-1', memoryKiB: 4 * GiB, vcpus: 1 });
    assert.equal(verdict('RamFilter', used, 'node-1', request(uuidOf(2))), 'free memory 1.25 GiB < requested 2 GiB (ratio 1.5, 512 MiB reserved)');
    assert.equal(verdict('RamFilter', used, 'node-1', request(uuidOf(2), { memoryKiB: 1.25 * GiB })), undefined);
  });

  it('explains free vCPUs with the CPU allocation ratio', () => {
    const { inv } = one({ cpus: 2 }, { policy: { cpuAllocationRatio: 2 } });
    const used = applyClaim(inv, { uuid: uuidOf(1), hostId: 'node-1', memoryKiB: GiB, vcpus: 3 });
    assert.equal(verdict('CoreFilter', used, 'node-1', request(uuidOf(2))), 'free vCPUs 1 < requested 2 (2 CPUs × ratio 2.0 = 4, 3 claimed)');
    assert.equal(verdict('CoreFilter', used, 'node-1', request(uuidOf(2), { vcpus: 1 })), undefined);
  });

  it('NumDomainsFilter caps the domains on a host', () => {
    const { inv } = one();
    const used = applyClaim(inv, { uuid: uuidOf(1), hostId: 'node-1', memoryKiB: GiB, vcpus: 1 });
    assert.equal(verdict('NumDomainsFilter', used, 'node-1', request(uuidOf(2)), { maxDomainsPerHost: 1 }), 'host has 1 domain, the most allowed (maxDomainsPerHost 1)');
    assert.equal(verdict('NumDomainsFilter', used, 'node-1', request(uuidOf(2)), { maxDomainsPerHost: 2 }), undefined);
  });
});

describe('server group filters', () => {
  const base = cluster([{ id: 'node-1' }, { id: 'node-2' }], NO_RESERVE).inv;
  const inv = applyClaim(base, { uuid: uuidOf(1), hostId: 'node-1', memoryKiB: GiB, vcpus: 1 });

  it('affinity keeps the hosts of the members, and any host for the first member', () => {
    const req = request(uuidOf(2), { hints: { group: { name: 'db', policy: 'affinity', members: [uuidOf(1), uuidOf(2)] } } });
    assert.equal(verdict('ServerGroupAffinityFilter', inv, 'node-1', req), undefined);
    assert.equal(verdict('ServerGroupAffinityFilter', inv, 'node-2', req), "group 'db' (affinity) has its members on node-1");
    const first = request(uuidOf(1), { hints: { group: { name: 'db', policy: 'affinity', members: [uuidOf(1)] } } });
    assert.equal(verdict('ServerGroupAffinityFilter', base, 'node-2', first), undefined);
  });

  it('anti-affinity removes the hosts of the members, up to maxPerHost', () => {
    const req = request(uuidOf(2), { hints: { group: { name: 'web', policy: 'anti-affinity', members: [uuidOf(1)] } } });
    assert.equal(verdict('ServerGroupAntiAffinityFilter', inv, 'node-1', req), "group 'web' (anti-affinity) already has 1 member here (at most 1 per host)");
    assert.equal(verdict('ServerGroupAntiAffinityFilter', inv, 'node-2', req), undefined);
    const two = request(uuidOf(2), { hints: { group: { name: 'web', policy: 'anti-affinity', maxPerHost: 2, members: [uuidOf(1)] } } });
    assert.equal(verdict('ServerGroupAntiAffinityFilter', inv, 'node-1', two), undefined);
  });

  it('a domain re-placed does not count against itself', () => {
    const req = request(uuidOf(1), { hints: { group: { name: 'web', policy: 'anti-affinity', members: [uuidOf(1)] } } });
    assert.equal(verdict('ServerGroupAntiAffinityFilter', inv, 'node-1', req), undefined);
  });
});

describe('NUMATopologyFilter', () => {
  const cells = [
    { id: 0, memoryKiB: 4 * GiB, cpus: [0, 1, 2, 3] },
    { id: 1, memoryKiB: 4 * GiB, cpus: [4, 5, 6, 7] },
  ];
  const numa = (spec: { memoryKiB: number; vcpus: number }[]) => request(uuidOf(1), { numaCells: spec.map((c, id) => ({ id, ...c })) });

  it('puts each guest cell in a distinct host cell', () => {
    const { inv } = one({ numaCells: cells }, NO_RESERVE);
    const req = numa([{ memoryKiB: 3 * GiB, vcpus: 2 }, { memoryKiB: 3 * GiB, vcpus: 2 }]);
    const ctx = filterContext(inv, req, {});
    assert.equal(FILTERS.NUMATopologyFilter.check(inv.hosts.get('node-1')!, req, ctx), undefined);
    assert.deepEqual(ctx.numaFits.get('node-1')!.map((c) => [c.guestCell, c.hostCell]), [[0, 0], [1, 1]]);
  });

  it('refuses more guest cells than host cells, a cell too big, or too many vCPUs for a cell', () => {
    const { inv } = one({ numaCells: cells }, NO_RESERVE);
    assert.equal(verdict('NUMATopologyFilter', inv, 'node-1', numa([{ memoryKiB: GiB, vcpus: 1 }, { memoryKiB: GiB, vcpus: 1 }, { memoryKiB: GiB, vcpus: 1 }])), 'guest has 3 NUMA cells, host only 2');
    assert.equal(verdict('NUMATopologyFilter', inv, 'node-1', numa([{ memoryKiB: 5 * GiB, vcpus: 1 }])), 'guest NUMA cell 0 needs 5 GiB, the most free in a host cell is 4 GiB (cell 0)');
    assert.equal(verdict('NUMATopologyFilter', inv, 'node-1', numa([{ memoryKiB: GiB, vcpus: 6 }])), "guest NUMA cell 0 has 6 vCPUs, more than any host cell's CPUs (largest: 4)");
  });

  it('counts earlier NUMA claims in their cells', () => {
    const { inv } = one({ numaCells: cells }, NO_RESERVE);
    const taken = applyClaim(inv, { uuid: uuidOf(9), hostId: 'node-1', memoryKiB: 3 * GiB, vcpus: 2, numa: [{ guestCell: 0, hostCell: 0, memoryKiB: 3 * GiB, vcpus: 2 }] });
    assert.deepEqual(taken.hosts.get('node-1')!.numaCells!.map((c) => c.used.memoryKiB), [3 * GiB, 0]);
    const req = numa([{ memoryKiB: 2 * GiB, vcpus: 1 }, { memoryKiB: 2 * GiB, vcpus: 1 }]);
    assert.equal(verdict('NUMATopologyFilter', taken, 'node-1', req), "no assignment of the guest's 2 NUMA cells to distinct host cells has room for all of them");
    assert.equal(verdict('NUMATopologyFilter', taken, 'node-1', numa([{ memoryKiB: GiB, vcpus: 1 }, { memoryKiB: 2 * GiB, vcpus: 1 }])), undefined);
  });

  it('a host that did not report NUMA cells: rejected, or passed when configured', () => {
    const { inv } = one({}, NO_RESERVE);
    const req = numa([{ memoryKiB: GiB, vcpus: 1 }]);
    assert.equal(verdict('NUMATopologyFilter', inv, 'node-1', req), 'guest asks for 1 NUMA cell; the host did not report its NUMA topology');
    assert.equal(verdict('NUMATopologyFilter', inv, 'node-1', req, { numaUnknownHost: 'pass' }), undefined);
  });

  it('a guest without NUMA cells passes any host', () => {
    assert.equal(verdict('NUMATopologyFilter', one({}, NO_RESERVE).inv, 'node-1', request(uuidOf(1))), undefined);
  });
});

