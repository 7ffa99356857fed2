import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldHost } from '../events/host.ts';
import { projectHosts } from '../events/project-hosts.ts';
import { decodeEvent, encodeEvent } from '../events/validate.ts';
import { applyClaim, buildInventory, emptyInventory, foldInventory, hostInventory, policyOf, releaseClaim } from './inventory.ts';
import { checkClaim, checkClaimInInventory, placedData } from './claims.ts';
import { place } from './place.ts';
import { GiB, cluster, request, uuidOf } from './fixtures.ts';
import type { Inventory, InventoryConfig } from './types.ts';

const CONFIG: InventoryConfig = { policy: { reservedHostMemoryKiB: 0 } };
const A = uuidOf(1);
const B = uuidOf(2);

const use = (inv: Inventory, h: string) => {
  const x = inv.hosts.get(h)!;
  return { used: x.used.memoryKiB, vcpus: x.used.vcpus, domains: x.domains, transit: x.transit };
};

describe('the inventory fold', () => {
  it('DomainPlaced takes, DomainStarted keeps, DomainStopped releases', () => {
    const { log, inv } = cluster([{ id: 'n1' }], CONFIG);
    let i = inv;
    const step = (e: Parameters<typeof log.add>) => {
      log.add(...e);
      i = foldInventory(i, log.events.slice(-1));
    };
    step(['DomainPlaced', { uuid: A, hostId: 'n1', memoryKiB: 2 * GiB, vcpus: 2 }]);
    assert.deepEqual(use(i, 'n1'), { used: 2 * GiB, vcpus: 2, domains: [A], transit: [] });
    assert.equal(i.hosts.get('n1')!.free.memoryKiB, 14 * GiB);
    step(['DomainStarted', { uuid: A, hostId: 'n1', detail: 'BOOTED' }]);
    assert.deepEqual(use(i, 'n1'), { used: 2 * GiB, vcpus: 2, domains: [A], transit: [] });
    step(['DomainStopped', { uuid: A, hostId: 'n1', detail: 'SHUTDOWN' }]);
    assert.deepEqual(use(i, 'n1'), { used: 0, vcpus: 0, domains: [], transit: [] });
    assert.equal(i.lifecycles.has(A), false, 'a stopped domain occupies nothing');
    step(['DomainUndefined', { uuid: A, name: 'a' }]);
    assert.deepEqual(use(i, 'n1'), { used: 0, vcpus: 0, domains: [], transit: [] });
  });

  it('DomainMigrating counts on both ends until the source stops its copy', () => {
    const { log, inv } = cluster([{ id: 'n1' }, { id: 'n2' }], CONFIG);
    log.add('DomainPlaced', { uuid: A, hostId: 'n1', memoryKiB: GiB, vcpus: 1 });
    log.add('DomainStarted', { uuid: A, hostId: 'n1', detail: 'BOOTED' });
    log.add('DomainMigrating', { uuid: A, fromHost: 'n1', toHost: 'n2' });
    let i = foldInventory(inv, log.events.slice(-3));
    assert.deepEqual(use(i, 'n1'), { used: GiB, vcpus: 1, domains: [A], transit: [] });
    assert.deepEqual(use(i, 'n2'), { used: GiB, vcpus: 1, domains: [], transit: [A] });
    log.add('DomainStarted', { uuid: A, hostId: 'n2', detail: 'MIGRATED' });
    log.add('DomainStopped', { uuid: A, hostId: 'n1', detail: 'MIGRATED' });
    i = foldInventory(i, log.events.slice(-2));
    assert.deepEqual(use(i, 'n1'), { used: 0, vcpus: 0, domains: [], transit: [] });
    assert.deepEqual(use(i, 'n2'), { used: GiB, vcpus: 1, domains: [A], transit: [] });
  });

  it('a redelivered placement or stop changes nothing', () => {
    const { log, inv } = cluster([{ id: 'n1' }], CONFIG);
    const placed = log.add('DomainPlaced', { uuid: A, hostId: 'n1', memoryKiB: GiB, vcpus: 1 });
    const once = foldInventory(inv, [placed]);
    assert.deepEqual(foldInventory(once, [placed]).hosts, once.hosts);
    const stopped = log.add('DomainStopped', { uuid: A, hostId: 'n1', detail: 'DESTROYED' });
    const off = foldInventory(once, [stopped]);
    assert.deepEqual(foldInventory(off, [stopped]).hosts, off.hosts);
    assert.deepEqual(off.hosts.get('n1'), inv.hosts.get('n1'));
  });

  it("reads a host's NUMA cells from its capabilities, through the wire", () => {
    const { log } = cluster([{ id: 'n1', numaCells: [{ id: 0, memoryKiB: 8 * GiB, cpus: [0, 1, 2, 3] }, { id: 1, memoryKiB: 8 * GiB, cpus: [4, 5, 6, 7] }] }], CONFIG);
    const decoded = log.events.map((e) => decodeEvent(encodeEvent(e), e.subject));
    const inv = foldInventory(emptyInventory({ policy: { reservedHostMemoryKiB: 0, cpuAllocationRatio: 2 } }), decoded.filter((e) => !(e instanceof Error)) as typeof log.events);
    assert.deepEqual(inv.hosts.get('n1')!.numaCells!.map((c) => [c.id, c.capacity.memoryKiB, c.capacity.vcpus]), [[0, 8 * GiB, 8], [1, 8 * GiB, 8]]);
  });

  it('agrees with the hosts projection and with a fold in one go', () => {
    const { log } = cluster([{ id: 'n1' }, { id: 'n2' }], CONFIG);
    log.add('DomainPlaced', { uuid: A, hostId: 'n1', memoryKiB: GiB, vcpus: 1 });
    log.add('DomainPlaced', { uuid: B, hostId: 'n2', memoryKiB: 3 * GiB, vcpus: 4 });
    log.add('DomainStarted', { uuid: B, hostId: 'n2', detail: 'BOOTED' });
    log.add('DomainMigrating', { uuid: B, fromHost: 'n2', toHost: 'n1' });
    const projection = projectHosts(log.events.map((event, i) => ({ seq: i + 1, event })));
    const fromProjection = buildInventory(projection, CONFIG);
    const folded = foldInventory(emptyInventory(CONFIG), log.events);
    assert.deepEqual([...fromProjection.hosts.values()], [...folded.hosts.values()]);
    for (const v of projectHosts.views(projection)) {
      assert.deepEqual(folded.hosts.get(v.hostId)!.used, v.used);
      assert.deepEqual(folded.hosts.get(v.hostId)!.domains, v.domains);
    }
  });

  it("applies the allocation policy: defaults, aggregates' smallest ratio, host overrides", () => {
    const config: InventoryConfig = {
      policy: { ramAllocationRatio: 1.5 },
      aggregates: [
        { name: 'a', hosts: ['n1', 'n2'], policy: { ramAllocationRatio: 1.2, cpuAllocationRatio: 8 } },
        { name: 'b', hosts: ['n1'], policy: { ramAllocationRatio: 1.1 } },
      ],
      hosts: { n2: { cpuAllocationRatio: 2 } },
    };
    assert.deepEqual(policyOf(config, 'n1'), { ramAllocationRatio: 1.1, cpuAllocationRatio: 8, reservedHostMemoryKiB: 512 * 1024, reservedHostCpus: 0 });
    assert.deepEqual(policyOf(config, 'n2'), { ramAllocationRatio: 1.2, cpuAllocationRatio: 2, reservedHostMemoryKiB: 512 * 1024, reservedHostCpus: 0 });
    assert.equal(policyOf(config, 'n3').ramAllocationRatio, 1.5);
    const { inv } = cluster([{ id: 'n1', cpus: 4, memoryKiB: 8 * GiB }], config);
    assert.deepEqual(inv.hosts.get('n1')!.capacity, { memoryKiB: Math.floor(7.5 * GiB * 1.1), vcpus: 32 });
  });
});

describe('claims', () => {
  it('a claim folds as its DomainPlaced: the event coming back from the log changes nothing', () => {
    const { log, inv } = cluster([{ id: 'n1' }, { id: 'n2' }], CONFIG);
    const p = place(inv, request(A));
    const claimed = applyClaim(inv, p.claim!);
    log.add('DomainPlaced', placedData(p.claim!));
    const echoed = foldInventory(claimed, log.events.slice(-1));
    assert.deepEqual(echoed.hosts.get(p.claim!.hostId), claimed.hosts.get(p.claim!.hostId));
  });

  it('a migration claim counts on the target as DomainMigrating does', () => {
    const { log, inv } = cluster([{ id: 'n1' }, { id: 'n2' }], CONFIG);
    log.add('DomainPlaced', { uuid: A, hostId: 'n1', memoryKiB: GiB, vcpus: 1 });
    log.add('DomainStarted', { uuid: A, hostId: 'n1', detail: 'BOOTED' });
    const running = foldInventory(inv, log.events.slice(-2));
    const p = place(running, request(A, { memoryKiB: GiB, vcpus: 1 }), { weights: { ram: -1, cpu: -1 } }, { migrateFrom: 'n1' });
    assert.equal(p.explain[0]!.filter, 'RetryFilter', 'the source is never the target, even packing');
    assert.deepEqual(p.claim, { uuid: A, hostId: 'n2', memoryKiB: GiB, vcpus: 1, migrateFrom: 'n1' });
    const claimed = applyClaim(running, p.claim!);
    assert.deepEqual(use(claimed, 'n2'), { used: GiB, vcpus: 1, domains: [], transit: [A] });
    log.add('DomainMigrating', { uuid: A, fromHost: 'n1', toHost: 'n2' });
    assert.deepEqual(foldInventory(claimed, log.events.slice(-1)).hosts.get('n2'), claimed.hosts.get('n2'));
    assert.deepEqual(releaseClaim(claimed, p.claim!).hosts.get('n2'), running.hosts.get('n2'));
  });

  it('releaseClaim gives back a claim that could not be appended', () => {
    const { inv } = cluster([{ id: 'n1' }], CONFIG);
    const claim = place(inv, request(A)).claim!;
    assert.deepEqual(releaseClaim(applyClaim(inv, claim), claim).hosts.get('n1'), inv.hosts.get('n1'));
  });

  it('two schedulers racing for one host: the second finds, after reloading the host, that its claim no longer fits', () => {
    const { log, inv } = cluster([{ id: 'n1', memoryKiB: 4 * GiB }], CONFIG);
    const first = place(inv, request(A, { memoryKiB: 3 * GiB })).claim!;
    const second = place(inv, request(B, { memoryKiB: 3 * GiB })).claim!;
    assert.equal(first.hostId, 'n1');
    assert.equal(second.hostId, 'n1', 'both decided on the same snapshot');
    // The first appends; the second reloads the host aggregate and checks again.
    assert.deepEqual(checkClaim(foldHost(log.events, 'n1')!, first, { inventory: CONFIG }), { ok: true });
    log.add('DomainPlaced', placedData(first));
    const reloaded = foldHost(log.events, 'n1')!;
    assert.deepEqual(checkClaim(reloaded, second, { inventory: CONFIG }), { ok: false, filter: 'RamFilter', reason: 'free memory 1 GiB < requested 3 GiB (ratio 1.0)' });
    assert.deepEqual(checkClaim(reloaded, first, { inventory: CONFIG }), { ok: true }, 'a claim the host already holds is not counted twice');
  });

  it('the re-check runs the one-host filters of the request: state and anti-affinity', () => {
    const { log } = cluster([{ id: 'n1' }], CONFIG);
    log.add('DomainPlaced', { uuid: A, hostId: 'n1', memoryKiB: GiB, vcpus: 1 });
    const req = request(B, { hints: { group: { name: 'web', policy: 'anti-affinity', members: [A, B] } } });
    const claim = { uuid: B, hostId: 'n1', memoryKiB: req.memoryKiB, vcpus: req.vcpus };
    const state = foldHost(log.events, 'n1')!;
    assert.deepEqual(checkClaim(state, claim, { inventory: CONFIG }), { ok: true });
    assert.deepEqual(checkClaim(state, claim, { inventory: CONFIG, request: req }), { ok: false, filter: 'ServerGroupAntiAffinityFilter', reason: "group 'web' (anti-affinity) already has 1 member here (at most 1 per host)" });
    log.add('HostDrained', { hostId: 'n1', drained: true });
    assert.deepEqual(checkClaim(foldHost(log.events, 'n1')!, claim, { inventory: CONFIG }), { ok: false, filter: 'ComputeFilter', reason: 'host is drained: it takes no new domains' });
  });

  it('hostInventory of a host aggregate equals the inventory of the cluster for that host', () => {
    const { log, inv } = cluster([{ id: 'n1' }, { id: 'n2' }], CONFIG);
    log.add('DomainPlaced', { uuid: A, hostId: 'n1', memoryKiB: GiB, vcpus: 1 });
    log.add('DomainPlaced', { uuid: B, hostId: 'n1', memoryKiB: 2 * GiB, vcpus: 3 });
    const folded = foldInventory(inv, log.events.slice(-2));
    assert.deepEqual(hostInventory(foldHost(log.events, 'n1')!, CONFIG), folded.hosts.get('n1'));
    assert.deepEqual(checkClaimInInventory(folded, { uuid: uuidOf(3), hostId: 'n1', memoryKiB: 14 * GiB, vcpus: 1 }), { ok: false, filter: 'RamFilter', reason: 'free memory 13 GiB < requested 14 GiB (ratio 1.0)' });
  });

  it('NUMA claims are re-checked cell by cell', () => {
    const cells = [
      { id: 0, memoryKiB: 2 * GiB, cpus: [0, 1] },
      { id: 1, memoryKiB: 2 * GiB, cpus: [2, 3] },
    ];
    const { log } = cluster([{ id: 'n1', numaCells: cells }], CONFIG);
    const mine = { uuid: B, hostId: 'n1', memoryKiB: 2 * GiB, vcpus: 2, numa: [{ guestCell: 0, hostCell: 0, memoryKiB: 2 * GiB, vcpus: 2 }] };
    const theirs = { uuid: A, hostId: 'n1', memoryKiB: GiB, vcpus: 1, numa: [{ guestCell: 0, hostCell: 0, memoryKiB: GiB, vcpus: 1 }] };
    log.add('DomainPlaced', placedData(theirs));
    const state = foldHost(log.events, 'n1')!;
    assert.deepEqual(checkClaim(state, mine, { inventory: CONFIG }), { ok: true }, 'without their NUMA claim, cell 0 looks free');
    assert.deepEqual(checkClaim(state, mine, { inventory: CONFIG, claims: [theirs] }), { ok: false, filter: 'NUMATopologyFilter', reason: 'host NUMA cell 0 has 1 GiB free < 2 GiB for guest cell 0' });
  });
});

describe('claims on the host stream in the inventory', () => {
  it('a claim counts before its DomainPlaced; the placement of a claimed domain counts once; the claim outlives a stop until released', () => {
    const { log, inv } = cluster([{ id: 'n1' }], CONFIG);
    let i = inv;
    const step = (...e: Parameters<typeof log.add>) => {
      log.add(...e);
      i = foldInventory(i, log.events.slice(-1));
    };
    step('HostResourcesClaimed', { hostId: 'n1', uuid: A, memoryKiB: 2 * GiB, vcpus: 2 });
    assert.deepEqual(use(i, 'n1'), { used: 2 * GiB, vcpus: 2, domains: [A], transit: [] });
    step('DomainPlaced', { uuid: A, hostId: 'n1', memoryKiB: 2 * GiB, vcpus: 2 });
    step('DomainStarted', { uuid: A, hostId: 'n1', detail: 'BOOTED' });
    assert.deepEqual(use(i, 'n1'), { used: 2 * GiB, vcpus: 2, domains: [A], transit: [] }, 'claim and placement: one domain');
    step('DomainStopped', { uuid: A, hostId: 'n1', detail: 'SHUTDOWN' });
    assert.equal(use(i, 'n1').used, 2 * GiB, 'held until given back: a scheduler that has not seen the stop must not count the room as free');
    step('HostResourcesReleased', { hostId: 'n1', uuid: A, reason: 'domain stopped' });
    assert.deepEqual(use(i, 'n1'), { used: 0, vcpus: 0, domains: [], transit: [] });
  });

  it('a migration target\'s claim is in transit; the same fold from zero gives the same inventory', () => {
    const { log, inv } = cluster([{ id: 'n1' }, { id: 'n2' }], CONFIG);
    log.add('HostResourcesClaimed', { hostId: 'n1', uuid: A, memoryKiB: GiB, vcpus: 1 });
    log.add('DomainPlaced', { uuid: A, hostId: 'n1', memoryKiB: GiB, vcpus: 1 });
    log.add('DomainStarted', { uuid: A, hostId: 'n1', detail: 'BOOTED' });
    log.add('HostResourcesClaimed', { hostId: 'n2', uuid: A, memoryKiB: GiB, vcpus: 1, migrateFrom: 'n1' });
    const live = log.events.slice(2).reduce((x, e) => foldInventory(x, [e]), inv);
    assert.deepEqual([use(live, 'n1').domains, use(live, 'n2').transit, use(live, 'n2').used], [[A], [A], GiB]);
    assert.deepEqual(foldInventory(emptyInventory(CONFIG), log.events).hosts, live.hosts);
  });

  it('checkClaim against the host aggregate counts the other claims, never the domain\'s own twice', () => {
    const { log } = cluster([{ id: 'n1', memoryKiB: 4 * GiB }], CONFIG);
    log.add('HostResourcesClaimed', { hostId: 'n1', uuid: A, memoryKiB: 3 * GiB, vcpus: 1 });
    const host = foldHost(log.events, 'n1')!;
    assert.deepEqual(checkClaim(host, { uuid: A, hostId: 'n1', memoryKiB: 3 * GiB, vcpus: 1 }, { inventory: CONFIG }), { ok: true });
    const b = checkClaim(host, { uuid: B, hostId: 'n1', memoryKiB: 2 * GiB, vcpus: 1 }, { inventory: CONFIG });
    assert.equal(b.ok, false);
    assert.match(!b.ok ? b.reason : '', /free memory 1 GiB < requested 2 GiB/);
    const inv = foldInventory(emptyInventory(CONFIG), log.events);
    assert.deepEqual(checkClaimInInventory(inv, { uuid: A, hostId: 'n1', memoryKiB: 4 * GiB, vcpus: 1 }), { ok: true }, 'a resize checks against the others only');
  });

  it('anti-affinity on the host aggregate counts the group\'s claims there', () => {
    const { log } = cluster([{ id: 'n1' }], CONFIG);
    log.add('HostResourcesClaimed', { hostId: 'n1', uuid: A, memoryKiB: GiB, vcpus: 1, group: 'web' });
    const req = request(B, { memoryKiB: GiB, vcpus: 1, hints: { group: { name: 'web', policy: 'anti-affinity', members: [A] } } });
    const r = checkClaim(foldHost(log.events, 'n1')!, { uuid: B, hostId: 'n1', memoryKiB: GiB, vcpus: 1 }, { inventory: CONFIG, request: req });
    assert.deepEqual([r.ok, !r.ok && r.filter], [false, 'ServerGroupAntiAffinityFilter']);
  });
});
