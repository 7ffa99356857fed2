/**
 * Issue 7's race: two schedulers side by side over 500 start jobs on 5 hosts
 * with tight memory. No lock between them: only the claims on each host's
 * stream (optimistic concurrency). Afterwards, from the event log rebuilt
 * from zero, no host holds more than its allocation ratio allows, and every
 * job either started its domain or failed with "no host fits" and a reason
 * for every host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { emptyInventory, foldInventory, type AnyEvent, type InventoryConfig } from '@virtflow/model';
import type { StartResult } from '@virtflow/scheduler';
import { GiB, MiB, allEvents, define, outcome, startRig, type Outcome, type Rig } from './support.ts';

const JOBS = Number(process.env.VIRTFLOW_SCHEDULER_RACE_JOBS ?? 500);
const HOSTS = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'];
const HOST_MEMORY = 8 * GiB;
const HOST_CPUS = 16;
// What the schedulers run with (support.ts: no reserved memory): capacity = 8 GiB, 64 vCPUs a host.
const POLICY: InventoryConfig = { policy: { ramAllocationRatio: 1.0, cpuAllocationRatio: 4.0, reservedHostMemoryKiB: 0, reservedHostCpus: 0 } };
const SIZES = [128 * MiB, 256 * MiB, 384 * MiB];

describe(`two schedulers racing over ${JOBS} start jobs on ${HOSTS.length} hosts with tight memory`, { timeout: 240_000 }, () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ hosts: HOSTS.map((hostId) => ({ hostId, memoryKiB: HOST_MEMORY, cpus: HOST_CPUS })), schedulers: 2, concurrency: 12 });
  });
  after(async () => {
    await rig?.stop();
  });

  it('no host beyond its ratio (from the log rebuilt from zero); every job started or failed with "no host fits" and per-host reasons', async () => {
    const uuids: string[] = [];
    const size = new Map<string, number>();
    for (let i = 0; i < JOBS; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, JOBS - i) }, (_, k) => define(rig.store, `race-${i + k}`, SIZES[(i + k) % 3]!, 1 + ((i + k) % 2))));
      batch.forEach((u, k) => (uuids.push(u), size.set(u, SIZES[(i + k) % 3]!)));
    }
    const jobs = await rig.queue.addBulk(uuids.map((uuid) => ({ name: 'start', data: { op: 'start', uuid }, opts: { jobId: `start-${uuid}`, attempts: 3, backoff: { type: 'fixed', delay: 100 } } })));
    const outcomes: Outcome[] = await Promise.all(jobs.map((j) => outcome(rig, j, 200_000)));

    // Every job: started where it says, or "no host fits" with one line for each host.
    const placedOn = new Map<string, string>();
    let refused = 0;
    for (const [i, o] of outcomes.entries()) {
      if (o.ok) {
        const r = o.value as StartResult;
        assert.equal(r.uuid, uuids[i]);
        placedOn.set(r.uuid, r.hostId);
        continue;
      }
      refused++;
      assert.equal(o.error.code, 'OPERATION_FAILED', `job ${o.id}: ${o.error.message}`);
      assert.match(o.error.message, /no host fits domain 'race-\d+'/, `job ${o.id}`);
      for (const h of HOSTS) assert.match(o.error.message, new RegExp(`\\n  ${h}: .+`), `job ${o.id} gives a reason for ${h}: ${o.error.message}`);
    }
    assert.equal(placedOn.size + refused, JOBS);
    assert.ok(placedOn.size > 0 && refused > 0, `the hosts filled up: ${placedOn.size} placed, ${refused} refused`);

    // The log from zero: the placement's own fold, and an independent count.
    const events = await allEvents(rig.store);
    const inv = foldInventory(emptyInventory(POLICY), events);
    const claimed = new Map<string, Map<string, number>>();
    const running = new Map<string, number>();
    const startedOn = new Map<string, string>();
    for (const e of events as AnyEvent[]) {
      if (e.type === 'HostResourcesClaimed') (claimed.get(e.data.hostId) ?? claimed.set(e.data.hostId, new Map()).get(e.data.hostId)!).set(e.data.uuid, e.data.memoryKiB);
      if (e.type === 'HostResourcesReleased') claimed.get(e.data.hostId)?.delete(e.data.uuid);
      if (e.type === 'DomainStarted') {
        assert.equal(startedOn.has(e.data.uuid), false, `domain ${e.data.uuid} started once`);
        startedOn.set(e.data.uuid, e.data.hostId);
        running.set(e.data.hostId, (running.get(e.data.hostId) ?? 0) + size.get(e.data.uuid)!);
      }
    }
    for (const h of HOSTS) {
      const host = inv.hosts.get(h)!;
      assert.equal(host.capacity.memoryKiB, HOST_MEMORY);
      assert.ok(host.used.memoryKiB <= host.capacity.memoryKiB, `${h}: ${host.used.memoryKiB} KiB used > ${host.capacity.memoryKiB} KiB`);
      assert.ok(host.used.vcpus <= host.capacity.vcpus, `${h}: ${host.used.vcpus} vCPUs used > ${host.capacity.vcpus}`);
      const held = [...(claimed.get(h)?.values() ?? [])].reduce((a, b) => a + b, 0);
      assert.ok(held <= HOST_MEMORY, `${h}: claims of ${held} KiB > ${HOST_MEMORY} KiB`);
      assert.ok((running.get(h) ?? 0) <= HOST_MEMORY, `${h}: domains of ${running.get(h)} KiB running > ${HOST_MEMORY} KiB`);
      assert.equal(held, host.used.memoryKiB, `${h}: the inventory counts exactly the held claims`);
    }
    // What the jobs said is what the log says.
    assert.deepEqual(new Map([...startedOn].sort()), new Map([...placedOn].sort()));
    // Both schedulers took part.
    const done = await Promise.all(rig.schedulers.map(async (s) => (await s.metrics.jobs.get()).values.filter((v) => v.labels.op === 'start').reduce((a, v) => a + v.value, 0)));
    assert.ok(done.every((n) => n > 0), `each scheduler ran start jobs: ${done.join(', ')}`);
    const usedPct = HOSTS.map((h) => Math.round((100 * inv.hosts.get(h)!.used.memoryKiB) / HOST_MEMORY));
    const lost = await Promise.all(rig.schedulers.map(async (s) => (await s.metrics.claims.get()).values.find((v) => v.labels.outcome === 'lost')?.value ?? 0));
    console.log(`# ${placedOn.size} started, ${refused} refused; memory used per host: ${usedPct.join('%, ')}%; jobs per scheduler: ${done.join(', ')}; claims lost to the other scheduler: ${lost.join(', ')}`);
  });
});
