/** chooseTarget on an inventory folded from events: the destination, the claim's kind, and every refusal's words. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookwormQemuCaps, emptyInventory, foldInventory, makeEvent, type AnyEvent, type EventData, type EventType, type PlacementRequest } from '@virtflow/model';
import { chooseTarget } from './migrate-target.ts';

const GiB = 1024 * 1024;
const UUID = '00000000-0000-4000-8000-000000000001';
let n = 0;
const ev = <T extends EventType>(type: T, data: EventData[T], version = 1): AnyEvent =>
  makeEvent(type, data, { aggregateVersion: version, correlationId: 'test', causationId: 'test', now: () => new Date(0), newId: () => `id-${++n}` }) as AnyEvent;
const host = (hostId: string, memoryKiB: number): AnyEvent =>
  ev('HostRegistered', { hostId, capabilities: { ...bookwormQemuCaps, host: { ...bookwormQemuCaps.host, cpus: 8, memoryKiB } } });

// a and b have 16 GiB, c 2 GiB; the domain (4 GiB) runs on a.
const inv = foldInventory(emptyInventory({ policy: { reservedHostMemoryKiB: 0 } }), [
  host('a', 16 * GiB), host('b', 16 * GiB), host('c', 2 * GiB),
  ev('DomainPlaced', { uuid: UUID, hostId: 'a', memoryKiB: 4 * GiB, vcpus: 2 }, 2),
  ev('DomainStarted', { uuid: UUID, hostId: 'a', detail: 'BOOTED' }, 3),
]);
const req: PlacementRequest = { uuid: UUID, name: 'web', memoryKiB: 4 * GiB, vcpus: 2, domainType: 'kvm', osType: 'hvm', arch: 'x86_64', hints: {} };

describe('chooseTarget', () => {
  it('places a live migration anywhere but the source, as the target half of a DomainMigrating', () => {
    const c = chooseTarget(inv, req, 'a');
    assert.ok(c.ok);
    assert.deepEqual({ hostId: c.claim.hostId, migrateFrom: c.claim.migrateFrom, memoryKiB: c.claim.memoryKiB }, { hostId: 'b', migrateFrom: 'a', memoryKiB: 4 * GiB });
  });

  it('places a cold migration as a new placement, still never on the source', () => {
    const c = chooseTarget(inv, req, 'a', { live: false });
    assert.ok(c.ok);
    assert.equal(c.claim.hostId, 'b');
    assert.equal(c.claim.migrateFrom, undefined);
  });

  it('refuses a requested host that does not fit, with the filter and its reason', () => {
    const c = chooseTarget(inv, req, 'a', { toHost: 'c' });
    assert.ok(!c.ok);
    assert.equal(c.error.code, 'OPERATION_INVALID');
    assert.equal(c.error.path, '/toHost');
    assert.match(c.error.message, /cannot migrate domain 'web' to host 'c': RamFilter: free memory 2 GiB < requested 4 GiB/);
  });

  it('refuses the source itself and an unknown host', () => {
    const same = chooseTarget(inv, req, 'a', { toHost: 'a' });
    assert.ok(!same.ok);
    assert.match(same.error.message, /cannot be migrated to the host it runs on \('a'\)/);
    const none = chooseTarget(inv, req, 'a', { toHost: 'zz' });
    assert.ok(!none.ok);
    assert.deepEqual({ code: none.error.code, path: none.error.path }, { code: 'INVALID_ARG', path: '/toHost' });
  });

  it('says why every host was left out when none fits', () => {
    const c = chooseTarget(inv, req, 'a', { exclude: ['b'] });
    assert.ok(!c.ok);
    assert.match(c.error.message, /away from host 'a': no host fits .*; a: RetryFilter: .*; b: RetryFilter: .*; c: RamFilter: free memory 2 GiB < requested 4 GiB/);
  });
});
