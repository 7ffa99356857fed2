/**
 * Property-style tests over random inventories drawn from the model's seeded
 * PRNG: whatever the cluster and the requests, a chosen host passes every
 * filter, no host is ever oversubscribed beyond its ratios, every host is
 * either ranked or explained, and the scheduler's claims agree with the log.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { log as eventLog } from '../events/fixtures.ts';
import { projectHosts } from '../events/project-hosts.ts';
import { prng } from '../events/simulate.ts';
import { placedData, checkClaim, checkClaimInInventory } from './claims.ts';
import { foldHost, isHostEvent } from '../events/host.ts';
import { DEFAULT_FILTERS, FILTERS } from './filters.ts';
import { applyClaim, buildInventory, emptyInventory, foldInventory } from './inventory.ts';
import { filterContext, place } from './place.ts';
import { GiB, qemuCaps, uuidOf } from './fixtures.ts';
import type { GroupHint, Inventory, InventoryConfig, PlacementRequest, SchedulerConfig } from './types.ts';

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const chance = (rnd: Rnd, p: number) => rnd() < p;

const MACHINES = ['pc-i440fx-7.2', 'pc-q35-7.2', 'pc-i440fx-8.0', 'pc-q35-8.0'];
const MODELS = ['qemu64', 'Haswell', 'Skylake-Server', 'EPYC'];

interface World {
  readonly log: ReturnType<typeof eventLog>;
  readonly inv: Inventory;
  readonly hosts: readonly string[];
  readonly config: InventoryConfig;
}

function world(rnd: Rnd): World {
  const n = 2 + Math.floor(rnd() * 10);
  const hosts = Array.from({ length: n }, (_, i) => `h${String(i).padStart(2, '0')}`);
  const config: InventoryConfig = {
    policy: { ramAllocationRatio: pick(rnd, [1, 1, 1.5]), cpuAllocationRatio: pick(rnd, [1, 4, 16]), reservedHostMemoryKiB: pick(rnd, [0, 512 * 1024]) },
    aggregates: [{ name: 'fast', hosts: hosts.filter(() => chance(rnd, 0.3)), labels: { disk: 'ssd' }, policy: { ramAllocationRatio: 1 } }],
  };
  const l = eventLog();
  for (const id of hosts) {
    const cpus = pick(rnd, [2, 4, 8, 16]);
    const memoryKiB = pick(rnd, [2, 4, 8, 16]) * GiB;
    const numa = chance(rnd, 0.4);
    const half = cpus / 2;
    l.add('HostRegistered', {
      hostId: id,
      labels: { zone: pick(rnd, ['a', 'b', 'c']), ...(chance(rnd, 0.1) ? { 'virtflow/maintenance': 'true' } : {}) },
      capabilities: qemuCaps({
        cpus,
        memoryKiB,
        arch: chance(rnd, 0.85) ? 'x86_64' : 'aarch64',
        kvm: chance(rnd, 0.8),
        machines: MACHINES.filter(() => chance(rnd, 0.7)).concat(['pc-i440fx-7.2']).filter((m, i, a) => a.indexOf(m) === i),
        cpuModels: MODELS.filter(() => chance(rnd, 0.7)).map((name) => ({ name, usable: pick(rnd, ['yes', 'no', 'unknown'] as const) })),
        ...(numa
          ? {
              numaCells: [
                { id: 0, memoryKiB: memoryKiB / 2, cpus: Array.from({ length: half }, (_, i) => i) },
                { id: 1, memoryKiB: memoryKiB / 2, cpus: Array.from({ length: half }, (_, i) => half + i) },
              ],
            }
          : {}),
      }),
    });
    if (chance(rnd, 0.1)) l.add('HostDown', { hostId: id, reason: 'missed heartbeats' });
    else if (chance(rnd, 0.1)) l.add('HostDrained', { hostId: id, drained: true });
  }
  return { log: l, inv: foldInventory(emptyInventory(config), l.events), hosts, config };
}

function randomRequest(rnd: Rnd, i: number, groups: Map<string, { hint: GroupHint; members: string[] }>, hosts: readonly string[]): PlacementRequest {
  const uuid = uuidOf(i);
  let group: GroupHint | undefined;
  if (chance(rnd, 0.5)) {
    const name = `g${Math.floor(rnd() * 6)}`;
    let g = groups.get(name);
    if (!g) {
      const policy = pick(rnd, ['affinity', 'anti-affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'] as const);
      g = { hint: { name, policy, ...(policy === 'anti-affinity' && chance(rnd, 0.3) ? { maxPerHost: 2 } : {}) }, members: [] };
      groups.set(name, g);
    }
    g.members.push(uuid);
    group = { ...g.hint, members: [...g.members] };
  }
  const cells = chance(rnd, 0.2) ? 2 : 0;
  const vcpus = cells ? 2 * (1 + Math.floor(rnd() * 2)) : 1 + Math.floor(rnd() * 4);
  const memoryKiB = pick(rnd, [256 * 1024, 512 * 1024, GiB, 2 * GiB, 3 * GiB]);
  return {
    uuid,
    name: `d${i}`,
    memoryKiB,
    vcpus,
    domainType: chance(rnd, 0.7) ? 'kvm' : 'qemu',
    osType: 'hvm',
    arch: chance(rnd, 0.9) ? 'x86_64' : 'aarch64',
    machine: pick(rnd, MACHINES),
    ...(chance(rnd, 0.5) ? { emulator: '/usr/bin/qemu-system-x86_64' } : {}),
    ...(chance(rnd, 0.3) ? { cpuModel: pick(rnd, MODELS) } : {}),
    ...(cells ? { numaCells: [0, 1].map((id) => ({ id, memoryKiB: memoryKiB / 2, vcpus: vcpus / 2 })) } : {}),
    hints: {
      ...(group ? { group } : {}),
      ...(chance(rnd, 0.2) ? { requiredLabels: chance(rnd, 0.5) ? { zone: pick(rnd, ['a', 'b']) } : { disk: 'ssd' } } : {}),
      ...(chance(rnd, 0.1) ? { excludeHosts: [pick(rnd, hosts)] } : {}),
      ...(chance(rnd, 0.1) ? { preferredHost: pick(rnd, hosts) } : {}),
    },
  };
}

function assertWithinRatios(inv: Inventory, what: string): void {
  for (const h of inv.hosts.values()) {
    assert.ok(h.used.memoryKiB <= h.capacity.memoryKiB, `${what}: ${h.hostId} memory ${h.used.memoryKiB} > ${h.capacity.memoryKiB}`);
    assert.ok(h.used.vcpus <= h.capacity.vcpus, `${what}: ${h.hostId} vCPUs ${h.used.vcpus} > ${h.capacity.vcpus}`);
    for (const c of h.numaCells ?? []) {
      assert.ok(c.used.memoryKiB <= c.capacity.memoryKiB && c.used.vcpus <= c.capacity.vcpus, `${what}: ${h.hostId} NUMA cell ${c.id}`);
    }
  }
}

describe('placement over random inventories', () => {
  for (let seed = 1; seed <= 40; seed++) {
    it(`seed ${seed}: chosen hosts pass every filter and no host goes beyond its ratios`, () => {
      const rnd = prng(seed * 7919);
      const w = world(rnd);
      const config: SchedulerConfig = {
        weights: { ram: pick(rnd, [1, -1, 0]), cpu: pick(rnd, [1, -1, 0]), domains: pick(rnd, [0, 1, -1]) },
        ...(chance(rnd, 0.3) ? { maxDomainsPerHost: 3 + Math.floor(rnd() * 5) } : {}),
        ...(chance(rnd, 0.3) ? { hostSubsetSize: 3 } : {}),
        numaUnknownHost: pick(rnd, ['reject', 'pass'] as const),
      };
      const groups = new Map<string, { hint: GroupHint; members: string[] }>();
      let inv = w.inv;
      const running: string[] = [];
      let placed = 0;
      for (let i = 1; i <= 120; i++) {
        const req = randomRequest(rnd, i, groups, w.hosts);
        const p = place(inv, req, config, { random: rnd });
        assert.equal(p.ranked.length + p.explain.length, inv.hosts.size, 'every host is ranked or explained');
        for (const r of p.explain) assert.ok(r.reason.length > 0 && !r.reason.includes('undefined') && !r.reason.includes('NaN'), r.reason);
        // A filter that says it does not apply passes every host.
        const skipped = DEFAULT_FILTERS.filter((n) => FILTERS[n].applies?.(req, config) === false);
        const probe = filterContext(inv, req, config);
        for (const h of inv.hosts.values()) for (const n of skipped) assert.equal(FILTERS[n].check(h, req, probe), undefined, `${n} does not apply`);
        if (!p.claim) {
          assert.equal(p.ranked.length, 0);
          assert.match(p.summary, /^no host fits/);
        } else {
          const host = inv.hosts.get(p.claim.hostId)!;
          // Every filter, run directly: a filter skipped as not applying must not have had anything to say.
          const ctx = filterContext(inv, req, config);
          for (const name of DEFAULT_FILTERS) assert.equal(FILTERS[name].check(host, req, ctx), undefined, `${p.claim.hostId} passes ${name}`);
          assert.deepEqual(checkClaimInInventory(inv, p.claim, { scheduler: config, request: req }), { ok: true });
          inv = applyClaim(inv, p.claim);
          w.log.add('DomainPlaced', placedData(p.claim));
          w.log.add('DomainStarted', { uuid: req.uuid, hostId: p.claim.hostId, detail: 'BOOTED' });
          inv = foldInventory(inv, w.log.events.slice(-2));
          running.push(req.uuid);
          placed++;
          assertWithinRatios(inv, `after placing ${req.name}`);
        }
        // Now and then a domain stops and gives its resources back.
        if (running.length && chance(rnd, 0.25)) {
          const uuid = running.splice(Math.floor(rnd() * running.length), 1)[0]!;
          w.log.add('DomainStopped', { uuid, hostId: inv.lifecycles.get(uuid)!.hostId!, detail: pick(rnd, ['SHUTDOWN', 'DESTROYED'] as const) });
          inv = foldInventory(inv, w.log.events.slice(-1));
          assert.equal(inv.lifecycles.has(uuid), false);
          assert.equal([...inv.numa.keys()].some((k) => k.startsWith(`${uuid}@`)), false, 'its NUMA cells are released too');
        }
      }
      assert.ok(placed > 0, 'something was placed');
      // The log, folded by the hosts projection, says what the scheduler's inventory says.
      const fromLog = buildInventory(projectHosts(w.log.events.map((event, k) => ({ seq: k + 1, event }))), w.config);
      for (const h of w.hosts) assert.deepEqual(fromLog.hosts.get(h)!.used, inv.hosts.get(h)!.used, h);
    });
  }

  for (let seed = 1; seed <= 20; seed++) {
    it(`seed ${seed}: two schedulers on stale views, each claim checked on the host's own events, never oversubscribe`, () => {
      const rnd = prng(seed * 104729);
      const w = world(rnd);
      const config: SchedulerConfig = { weights: { ram: pick(rnd, [1, -1]) }, numaUnknownHost: 'pass' };
      // Each scheduler sees the log up to some point: the other's latest claims may be missing.
      const views = [{ seen: 0, inv: emptyInventory(w.config) }, { seen: 0, inv: emptyInventory(w.config) }];
      const groups = new Map<string, { hint: GroupHint; members: string[] }>();
      const running: string[] = [];
      let claimed = 0;
      for (let i = 1; i <= 150; i++) {
        const v = views[i % 2]!;
        const upTo = v.seen + Math.floor(rnd() * (w.log.events.length - v.seen + 1));
        v.inv = foldInventory(v.inv, w.log.events.slice(v.seen, upTo));
        v.seen = upTo;
        const req = randomRequest(rnd, i, groups, w.hosts);
        const p = place(v.inv, req, config, { random: rnd });
        if (p.claim) {
          // What the store's load gives: the host aggregate from its own events, claims included.
          const own = w.log.events.filter((e) => isHostEvent(e) && e.data.hostId === p.claim!.hostId);
          const check = checkClaim(foldHost(own, p.claim.hostId)!, p.claim, { inventory: w.config, scheduler: config, request: req });
          if (check.ok) {
            const { uuid, hostId, memoryKiB, vcpus, numa } = p.claim;
            w.log.add('HostResourcesClaimed', { hostId, uuid, memoryKiB, vcpus, ...(numa ? { numa } : {}) });
            w.log.add('DomainPlaced', placedData(p.claim));
            w.log.add('DomainStarted', { uuid, hostId, detail: 'BOOTED' });
            running.push(uuid);
            claimed++;
          }
        }
        if (running.length && chance(rnd, 0.2)) {
          const uuid = running.splice(Math.floor(rnd() * running.length), 1)[0]!;
          const truth = foldInventory(emptyInventory(w.config), w.log.events);
          const hostId = truth.lifecycles.get(uuid)!.hostId!;
          w.log.add('DomainStopped', { uuid, hostId, detail: 'SHUTDOWN' });
          // The stop watcher's release comes later, or before the other scheduler sees the stop: either way.
          w.log.add('HostResourcesReleased', { hostId, uuid, reason: 'domain stopped' });
        }
        assertWithinRatios(foldInventory(emptyInventory(w.config), w.log.events), `step ${i}`);
      }
      assert.ok(claimed > 0, 'something was claimed');
    });
  }

  it('the same inventory and request give the same decision', () => {
    const rnd = prng(42);
    const w = world(rnd);
    const req = randomRequest(rnd, 1, new Map(), w.hosts);
    assert.deepEqual(place(w.inv, req), place(w.inv, req));
  });
});
