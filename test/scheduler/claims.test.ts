/**
 * Claims on the host aggregate against a real nats-server: two schedulers
 * (two connections, two stores, two claim contexts with their own caches)
 * racing for one host never hold more than its capacity, and releases give
 * room back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { emptyInventory, foldInventory, type AnyEvent } from '@virtflow/model';
import { syntheticCapabilities as syntheticHostCaps } from '@virtflow/host-agent';
import { hostRef, type EventStore } from '@virtflow/runtime';
import { claim, claimsContext, heldClaims, release } from '@virtflow/scheduler';
import { startNats, type Nats } from '../events/support.ts';

const GiB = 1024 * 1024;
const POLICY = { ramAllocationRatio: 1.0, cpuAllocationRatio: 4.0, reservedHostMemoryKiB: 0, reservedHostCpus: 0 };

async function register(store: EventStore, hostId: string, memoryKiB: number, cpus: number): Promise<void> {
  await store.update(hostRef(hostId), () => [{ type: 'HostRegistered', data: { hostId, capabilities: syntheticHostCaps(cpus, memoryKiB) } }], { correlationId: 'test' });
}

describe('claims on the host aggregate', () => {
  let nats: Nats;
  let a: EventStore;
  let b: EventStore;
  before(async () => {
    nats = await startNats();
    a = await nats.store();
    b = await nats.store();
  });
  after(async () => {
    await nats?.close();
  });

  it('two schedulers racing 40 claims of 1 GiB on a 10 GiB host: exactly 10 fit, the rest are told why', async () => {
    await register(a, 'node-r', 10 * GiB, 64);
    const ctxA = claimsContext({ store: a, inventory: { policy: POLICY } });
    const ctxB = claimsContext({ store: b, inventory: { policy: POLICY } });
    const uuids = Array.from({ length: 40 }, () => randomUUID());
    const results = await Promise.all(uuids.map((uuid, i) => claim(i % 2 ? ctxA : ctxB, 'node-r', { uuid, memoryKiB: GiB, vcpus: 1 }, { correlationId: `job-${i}` })));
    const won = results.filter((r) => r.ok);
    assert.equal(won.length, 10, 'exactly the capacity was claimed');
    for (const r of results) if (!r.ok) assert.match(r.reason, /free memory .* < requested 1 GiB/, r.reason);
    const held = await heldClaims(ctxA, 'node-r');
    assert.equal(Object.keys(held).length, 10);
    // The log rebuilt from zero says the same.
    const events = (await a.events(hostRef('node-r'))).map((e) => e.event) as AnyEvent[];
    const inv = foldInventory(emptyInventory({ policy: POLICY }), events);
    const h = inv.hosts.get('node-r')!;
    assert.equal(h.used.memoryKiB, 10 * GiB);
    assert.ok(h.free.memoryKiB >= 0);
  });

  it('a release gives the room back; releasing again does nothing; claiming twice is one claim', async () => {
    await register(a, 'node-s', 2 * GiB, 8);
    const ctx = claimsContext({ store: a, inventory: { policy: POLICY } });
    const other = claimsContext({ store: b, inventory: { policy: POLICY } });
    const [u1, u2, u3] = [randomUUID(), randomUUID(), randomUUID()];
    assert.equal((await claim(ctx, 'node-s', { uuid: u1, memoryKiB: GiB, vcpus: 1 }, { correlationId: 'j1' })).ok, true);
    const again = await claim(other, 'node-s', { uuid: u1, memoryKiB: GiB, vcpus: 1 }, { correlationId: 'j1' });
    assert.deepEqual([again.ok, again.ok && again.already], [true, true]);
    assert.equal((await claim(other, 'node-s', { uuid: u2, memoryKiB: GiB, vcpus: 1 }, { correlationId: 'j2' })).ok, true);
    // ctx's cache predates u2's claim: the append conflicts, the reload says the host is full.
    const full = await claim(ctx, 'node-s', { uuid: u3, memoryKiB: GiB, vcpus: 1 }, { correlationId: 'j3' });
    assert.equal(full.ok, false);
    assert.equal(!full.ok && full.filter, 'RamFilter');
    const r = await release(other, 'node-s', u1, 'domain stopped', { correlationId: 'j4' });
    assert.equal(r.released, true);
    assert.equal((await release(ctx, 'node-s', u1, 'again', { correlationId: 'j5' })).released, false);
    assert.equal((await claim(ctx, 'node-s', { uuid: u3, memoryKiB: GiB, vcpus: 1 }, { correlationId: 'j6' })).ok, true);
    assert.deepEqual(Object.keys(await heldClaims(ctx, 'node-s')).sort(), [u2, u3].sort());
  });

  it('a host that is not registered, or down, takes no claim', async () => {
    const ctx = claimsContext({ store: a });
    const r = await claim(ctx, 'nobody', { uuid: randomUUID(), memoryKiB: GiB, vcpus: 1 }, { correlationId: 'j' });
    assert.deepEqual([r.ok, !r.ok && r.reason], [false, "host 'nobody' is not registered"]);
    await register(a, 'node-d', 8 * GiB, 8);
    await a.update(hostRef('node-d'), () => [{ type: 'HostDown', data: { hostId: 'node-d', reason: 'no heartbeat' } }], { correlationId: 't' });
    const d = await claim(ctx, 'node-d', { uuid: randomUUID(), memoryKiB: GiB, vcpus: 1 }, { correlationId: 'j' });
    assert.equal(!d.ok && d.filter, 'ComputeFilter');
  });
});
