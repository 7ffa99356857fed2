import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { projectHosts } from '../events/project-hosts.ts';
import { applyClaim, buildInventory, foldInventory } from './inventory.ts';
import { placedData } from './claims.ts';
import { formatExplain, place, placeMany } from './place.ts';
import { normalize } from './weighers.ts';
import { GiB, cluster, qemuCaps, request, uuidOf } from './fixtures.ts';
import { log as eventLog } from '../events/fixtures.ts';
import { emptyInventory } from './inventory.ts';
import type { Inventory, InventoryConfig, PlacementRequest } from './types.ts';

const CONFIG: InventoryConfig = { policy: { reservedHostMemoryKiB: 0 } };

/** n1 empty, n2 holding one 8 GiB / 6 vCPU domain. */
function twoHosts(): Inventory {
  const { inv } = cluster([{ id: 'n1' }, { id: 'n2' }], CONFIG);
  return applyClaim(inv, { uuid: uuidOf(100), hostId: 'n2', memoryKiB: 8 * GiB, vcpus: 6 });
}

describe('weighers', () => {
  it('normalise min-max over the candidates, all 0 when equal', () => {
    assert.deepEqual(normalize([2, 4, 6]), [0, 0.5, 1]);
    assert.deepEqual(normalize([3, 3]), [0, 0]);
    assert.deepEqual(normalize([]), []);
  });

  it('RAM and CPU spread with a positive multiplier and pack with a negative one', () => {
    const inv = twoHosts();
    assert.equal(place(inv, request(uuidOf(1))).chosen!.hostId, 'n1');
    assert.equal(place(inv, request(uuidOf(1)), { weights: { ram: -1, cpu: -1 } }).chosen!.hostId, 'n2');
    assert.equal(place(inv, request(uuidOf(1)), { weights: { ram: 0, cpu: -1 } }).chosen!.hostId, 'n2');
  });

  it('domain count packs with a positive multiplier (Nova: num_instances_weight_multiplier)', () => {
    const inv = twoHosts();
    const p = place(inv, request(uuidOf(1)), { weights: { ram: 0, cpu: 0, domains: 1 } });
    assert.equal(p.chosen!.hostId, 'n2');
    assert.deepEqual(p.chosen!.weights, { domains: { raw: 1, normalized: 1, weighted: 1 } });
  });

  it('reports each weigher: raw, normalised and weighted', () => {
    const p = place(twoHosts(), request(uuidOf(1)), { weights: { ram: 2, cpu: 1 } });
    const [best, next] = p.ranked;
    assert.equal(best!.hostId, 'n1');
    assert.deepEqual(best!.weights.ram, { raw: 16 * GiB, normalized: 1, weighted: 2 });
    assert.deepEqual(best!.weights.cpu, { raw: 32, normalized: 1, weighted: 1 });
    assert.equal(best!.weight, 3);
    assert.deepEqual(next!.weights.ram, { raw: 8 * GiB, normalized: 0, weighted: 0 });
    assert.equal(next!.weight, 0);
  });

  it('soft anti-affinity weighs against the hosts of the group, soft affinity for them', () => {
    const inv = twoHosts();
    const group = (policy: 'soft-affinity' | 'soft-anti-affinity') => request(uuidOf(1), { hints: { group: { name: 'g', policy, members: [uuidOf(100)] } } });
    assert.equal(place(inv, group('soft-affinity'), { weights: { ram: 0, cpu: 0 } }).chosen!.hostId, 'n2');
    assert.equal(place(inv, group('soft-anti-affinity'), { weights: { ram: 0, cpu: 0 } }).chosen!.hostId, 'n1');
  });

  it('ties go to the first host by id; hostSubsetSize picks among the best with the random handed in', () => {
    const { inv } = cluster([{ id: 'n1' }, { id: 'n2' }, { id: 'n3' }], CONFIG);
    assert.equal(place(inv, request(uuidOf(1))).chosen!.hostId, 'n1');
    assert.equal(place(inv, request(uuidOf(1)), { hostSubsetSize: 2 }, { random: () => 0.99 }).chosen!.hostId, 'n2');
    assert.equal(place(inv, request(uuidOf(1)), { hostSubsetSize: 2 }, { random: () => 0 }).chosen!.hostId, 'n1');
  });
});

describe('place', () => {
  it('chooses the preferred host when it passes every filter, whatever the weights', () => {
    const inv = twoHosts();
    const p = place(inv, request(uuidOf(1), { hints: { preferredHost: 'n2' } }));
    assert.equal(p.chosen!.hostId, 'n2');
    assert.equal(p.chosen!.preferred, true);
    const full = place(inv, request(uuidOf(1), { memoryKiB: 10 * GiB, hints: { preferredHost: 'n2' } }));
    assert.equal(full.chosen!.hostId, 'n1', 'a preferred host that does not fit is only a preference');
  });

  it('explains every host left out, in host order, and sums it up', () => {
    const { log, inv } = cluster(
      [
        { id: 'n1', memoryKiB: 4 * GiB },
        { id: 'n2', kvm: false },
        { id: 'n3', labels: { zone: 'b' } },
        { id: 'n4' },
      ],
      CONFIG,
    );
    log.add('HostDown', { hostId: 'n4', reason: 'missed heartbeats for 15 s' });
    const withDown = foldInventory(applyClaim(inv, { uuid: uuidOf(9), hostId: 'n1', memoryKiB: 2.5 * GiB, vcpus: 1 }), log.events.slice(-1));
    const req: PlacementRequest = request(uuidOf(1), { name: 'web-1', hints: { requiredLabels: { zone: 'b' } } });
    const none = place(withDown, { ...req, hints: {} }, { filters: ['ComputeFilter', 'DomainTypeFilter', 'RamFilter'] });
    assert.equal(none.chosen!.hostId, 'n3');
    const p = place(withDown, { ...req, memoryKiB: 2 * GiB, hints: { requiredLabels: { zone: 'a' } } });
    assert.equal(p.chosen, undefined);
    assert.equal(p.claim, undefined);
    assert.deepEqual(formatExplain(p), [
      'n1: LabelsFilter: no label zone (required zone=a)',
      'n2: LabelsFilter: no label zone (required zone=a)',
      'n3: LabelsFilter: label zone=b, required zone=a',
      'n4: ComputeFilter: host is down: missed heartbeats for 15 s (last seen 2024-01-01T00:00:04.000Z)',
    ]);
    assert.equal(p.summary, "no host fits domain 'web-1' (2 GiB, 2 vCPUs): of 4 hosts, 3 by LabelsFilter, 1 by ComputeFilter");
    const all = place(withDown, { ...req, hints: {} }, { explainAll: true });
    assert.deepEqual(formatExplain(all), [
      'n1: RamFilter: free memory 1.5 GiB < requested 2 GiB (ratio 1.0)',
      'n2: DomainTypeFilter: host offers no kvm domains for hvm/x86_64 (only qemu): no /dev/kvm on the host, or KVM cannot run this arch',
      'n4: ComputeFilter: host is down: missed heartbeats for 15 s (last seen 2024-01-01T00:00:04.000Z)',
    ]);
    assert.equal(all.summary, "domain 'web-1' (2 GiB, 2 vCPUs) placed on n3 (weight 0) of 1 host that fit, 3 left out");
    assert.deepEqual(all.explain[0]!.all, [{ filter: 'RamFilter', reason: 'free memory 1.5 GiB < requested 2 GiB (ratio 1.0)' }]);
  });

  it('considers only the hosts it is given', () => {
    const { inv } = cluster([{ id: 'n1' }, { id: 'n2' }], CONFIG);
    const p = place(inv, request(uuidOf(1)), {}, { hosts: ['n2', 'nx'] });
    assert.equal(p.chosen!.hostId, 'n2');
    assert.equal(p.explain.length, 0);
  });

  it('says so when there are no hosts at all', () => {
    const { inv } = cluster([], CONFIG);
    assert.equal(place(inv, request(uuidOf(1), { name: 'x' })).summary, "no host fits domain 'x' (2 GiB, 2 vCPUs): there are no hosts");
  });

  it('hands the NUMA cells it found to the claim', () => {
    const cells = [
      { id: 0, memoryKiB: 8 * GiB, cpus: [0, 1, 2, 3] },
      { id: 1, memoryKiB: 8 * GiB, cpus: [4, 5, 6, 7] },
    ];
    const { inv } = cluster([{ id: 'n1', numaCells: cells }], CONFIG);
    const p = place(inv, request(uuidOf(1), { numaCells: [{ id: 0, memoryKiB: GiB, vcpus: 1 }, { id: 1, memoryKiB: GiB, vcpus: 1 }] }));
    assert.deepEqual(p.claim!.numa, [
      { guestCell: 0, hostCell: 0, memoryKiB: GiB, vcpus: 1 },
      { guestCell: 1, hostCell: 1, memoryKiB: GiB, vcpus: 1 },
    ]);
  });
});

describe('placeMany', () => {
  it('decides as place and applyClaim one after the other, and leaves its input as it was', () => {
    const { inv } = cluster([{ id: 'n1', memoryKiB: 8 * GiB }, { id: 'n2', memoryKiB: 6 * GiB }, { id: 'n3', memoryKiB: 4 * GiB }], CONFIG);
    const members = [1, 2, 3, 4].map(uuidOf);
    const reqs = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => request(uuidOf(i), { hints: i <= 4 ? { group: { name: 'g', policy: 'anti-affinity', members } } : {} }));
    let one = inv;
    const expected = reqs.map((r) => {
      const p = place(one, r);
      if (p.claim) one = applyClaim(one, p.claim);
      return p;
    });
    const before = [...inv.hosts.values()];
    const batch = placeMany(inv, reqs);
    assert.deepEqual(batch.placements, expected);
    assert.deepEqual([...batch.inventory.hosts.values()], [...one.hosts.values()]);
    assert.deepEqual([...inv.hosts.values()], before);
    assert.equal(batch.placements[3]!.chosen, undefined, 'a fourth anti-affinity member on 3 hosts');
  });

  it('keeps only the best rankLimit candidates', () => {
    const { inv } = cluster([{ id: 'n1' }, { id: 'n2' }, { id: 'n3' }], CONFIG);
    assert.deepEqual(place(inv, request(uuidOf(1)), { rankLimit: 2 }).ranked.map((r) => r.hostId), ['n1', 'n2']);
  });
});

describe("the test driver's domains", () => {
  it('need hosts whose capabilities offer the test domain type', () => {
    const l = eventLog();
    const qemuOnly = qemuCaps({ arch: 'i686' });
    const withTest = { ...qemuOnly, guests: qemuOnly.guests.map((g) => ({ ...g, domains: [...g.domains, { type: 'test' }] })) };
    l.add('HostRegistered', { hostId: 'qemu-only', capabilities: qemuOnly });
    l.add('HostRegistered', { hostId: 'test-host', capabilities: withTest });
    const inv = foldInventory(emptyInventory(CONFIG), l.events);
    const sim: PlacementRequest = { uuid: uuidOf(1), name: 'sim-1', memoryKiB: 128 * 1024, vcpus: 1, domainType: 'test', osType: 'hvm', arch: 'i686', hints: {} };
    const p = place(inv, sim);
    assert.equal(p.chosen!.hostId, 'test-host');
    assert.deepEqual(formatExplain(p), ['qemu-only: DomainTypeFilter: host offers no test domains for hvm/i686 (only qemu, kvm)']);
  });
});

describe('3 hosts, 60 domains with anti-affinity and affinity groups', () => {
  const HOSTS = ['node-1', 'node-2', 'node-3'];
  const SIZES = [1, 2, 4];

  /** 15 anti-affinity groups of 3, 5 affinity groups of 3: 60 domains. */
  function requests(): PlacementRequest[] {
    const out: PlacementRequest[] = [];
    for (let g = 0; g < 20; g++) {
      const anti = g < 15;
      const members = [0, 1, 2].map((k) => uuidOf(g * 3 + k + 1));
      members.forEach((uuid, k) => {
        out.push(request(uuid, { name: `d${g}-${k}`, memoryKiB: SIZES[(g + k) % 3]! * GiB, vcpus: 1 + ((g + k) % 4), hints: { group: { name: `g${g}`, policy: anti ? 'anti-affinity' : 'affinity', members } } }));
      });
    }
    return out;
  }

  it('places every domain without oversubscribing a host, every group as its policy says', () => {
    const { log, inv: start } = cluster(HOSTS.map((id) => ({ id, memoryKiB: 64 * GiB, cpus: 16 })), CONFIG);
    let inv = start;
    const where = new Map<string, string>();
    for (const req of requests()) {
      const p = place(inv, req);
      assert.ok(p.claim, p.summary);
      inv = applyClaim(inv, p.claim);
      log.add('DomainPlaced', placedData(p.claim));
      where.set(req.uuid, p.claim.hostId);
    }
    for (const h of inv.hosts.values()) {
      assert.ok(h.used.memoryKiB <= h.capacity.memoryKiB, `${h.hostId} memory`);
      assert.ok(h.used.vcpus <= h.capacity.vcpus, `${h.hostId} vCPUs`);
      assert.ok(h.domains.length > 0, `${h.hostId} is used: RAM weigher spreads`);
    }
    for (const req of requests()) {
      const g = req.hints.group!;
      const hosts = new Set(g.members!.map((m) => where.get(m)));
      assert.equal(hosts.size, g.policy === 'anti-affinity' ? 3 : 1, `group ${g.name}`);
    }
    // The log says the same as the scheduler's claims.
    const rebuilt = buildInventory(projectHosts(log.events.map((event, i) => ({ seq: i + 1, event }))), CONFIG);
    for (const h of HOSTS) assert.deepEqual(rebuilt.hosts.get(h)!.used, inv.hosts.get(h)!.used);

    // A fourth member of a full anti-affinity group has nowhere to go, and every host says why.
    const members = [uuidOf(1), uuidOf(2), uuidOf(3), uuidOf(999)];
    const p = place(inv, request(uuidOf(999), { name: 'd0-3', memoryKiB: GiB, vcpus: 1, hints: { group: { name: 'g0', policy: 'anti-affinity', members } } }));
    assert.equal(p.chosen, undefined);
    assert.deepEqual(p.explain.map((r) => r.filter), ['ServerGroupAntiAffinityFilter', 'ServerGroupAntiAffinityFilter', 'ServerGroupAntiAffinityFilter']);
    assert.equal(p.explain[0]!.reason, "group 'g0' (anti-affinity) already has 1 member here (at most 1 per host)");
  });
});
