import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { emptyHost, foldHost, reduceHost } from './host.ts';
import { foldDomain } from './domain.ts';
import { checkTransition } from './transitions.ts';
import { decodeEvent } from './validate.ts';
import { caps, log, U1, U2, xml } from './fixtures.ts';

function registered() {
  const l = log();
  l.add('HostRegistered', { hostId: 'node-a', address: '10.0.0.1', labels: { rack: 'r1' }, capabilities: caps(8, 16777216) });
  return l;
}

function defineAndPlace(l: ReturnType<typeof log>, uuid: string, hostId: string) {
  l.add('DomainDefined', { uuid, name: `vm-${uuid[0]}`, domainType: 'kvm', driver: 'qemu', xml: xml(`vm-${uuid[0]}`, uuid) });
  l.add('DomainPlaced', { uuid, hostId, memoryKiB: 1048576, vcpus: 1 });
}

describe('reduceHost: the host\'s own events', () => {
  it('HostRegistered: up, seen, labelled, with totals from capabilities.host', () => {
    const s = foldHost(registered().events)!;
    assert.equal(s.hostId, 'node-a');
    assert.equal(s.registered, true);
    assert.equal(s.version, 1);
    assert.equal(s.address, '10.0.0.1');
    assert.deepEqual(s.labels, { rack: 'r1' });
    assert.equal(s.up, true);
    assert.equal(s.drained, false);
    assert.equal(s.lastSeen, '2024-01-01T00:00:01.000Z');
    assert.deepEqual(s.resources, { memoryKiB: 16777216, cpus: 8 });
    assert.deepEqual(s.capabilities, caps(8, 16777216));
    assert.deepEqual([s.domains, s.transit], [[], []]);
  });

  it('HostCapabilitiesReported replaces capabilities and totals', () => {
    const l = registered();
    l.add('HostCapabilitiesReported', { hostId: 'node-a', capabilities: caps(32, 67108864) });
    const s = foldHost(l.events)!;
    assert.deepEqual(s.resources, { memoryKiB: 67108864, cpus: 32 });
    assert.equal(s.lastSeen, '2024-01-01T00:00:02.000Z');
  });

  it('a host that reports no totals has 0 of each', () => {
    const l = log();
    l.add('HostRegistered', { hostId: 'node-a', capabilities: { host: { arch: 'x86_64' }, guests: [], cpuModels: [], source: 's' } });
    assert.deepEqual(foldHost(l.events)!.resources, { memoryKiB: 0, cpus: 0 });
  });

  it('HostDown keeps the reason and when it was last seen; HostUp brings it back', () => {
    const l = registered();
    l.add('HostDown', { hostId: 'node-a', reason: 'no heartbeat for 30 s', lastSeen: '2024-01-01T00:00:01.500Z' });
    let s = foldHost(l.events)!;
    assert.deepEqual([s.up, s.lastDownReason, s.lastSeen, s.version], [false, 'no heartbeat for 30 s', '2024-01-01T00:00:01.500Z', 2]);
    l.add('HostUp', { hostId: 'node-a' });
    s = foldHost(l.events)!;
    assert.deepEqual([s.up, s.lastDownReason, s.lastSeen], [true, 'no heartbeat for 30 s', '2024-01-01T00:00:03.000Z']);
  });

  it('HostDrained sets and clears the drain', () => {
    const l = registered();
    l.add('HostDrained', { hostId: 'node-a', drained: true });
    assert.equal(foldHost(l.events)!.drained, true);
    l.add('HostDrained', { hostId: 'node-a', drained: false });
    assert.equal(foldHost(l.events)!.drained, false);
  });

  it('ignores other hosts\' events', () => {
    const s = foldHost(registered().events)!;
    assert.equal(reduceHost(s, log().add('HostDown', { hostId: 'node-b', reason: 'x' })), s);
  });
});

describe('reduceHost: the domains on the host', () => {
  it('counts a domain from its placement to its stop', () => {
    const l = registered();
    defineAndPlace(l, U1, 'node-a');
    defineAndPlace(l, U2, 'node-b');
    assert.deepEqual(foldHost(l.events, 'node-a')!.domains, [U1]);
    l.add('DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' });
    assert.deepEqual(foldHost(l.events, 'node-a')!.domains, [U1]);
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'SHUTDOWN' });
    const s = foldHost(l.events, 'node-a')!;
    assert.deepEqual(s.domains, []);
    assert.deepEqual(s.occupants, {});
    assert.equal(s.version, 1, 'domain events do not move the host aggregate\'s version');
  });

  it('follows a migration: in transit on the target, then living there, then gone from the source', () => {
    const l = registered();
    defineAndPlace(l, U1, 'node-a');
    l.add('DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' });
    l.add('DomainMigrating', { uuid: U1, fromHost: 'node-a', toHost: 'node-b' });
    const ab = () => [foldHost(l.events, 'node-a')!, foldHost(l.events, 'node-b')!].map((s) => [s.domains, s.transit]);
    assert.deepEqual(ab(), [[[U1], []], [[], [U1]]]);
    l.add('DomainStarted', { uuid: U1, hostId: 'node-b', detail: 'MIGRATED' });
    assert.deepEqual(ab(), [[[], [U1]], [[U1], []]]);
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'MIGRATED' });
    assert.deepEqual(ab(), [[[], []], [[U1], []]]);
  });

  it('starts from domain events alone when handed an empty host', () => {
    const l = log();
    defineAndPlace(l, U1, 'node-c');
    let s = emptyHost('node-c');
    for (const e of l.events) s = reduceHost(s, e)!;
    assert.deepEqual([s.registered, s.up, s.domains], [false, false, [U1]]);
    assert.equal(foldHost(l.events), undefined, 'without a host id and no host event there is no host to fold');
  });
});

describe('reduceHost: claims on the host (HostResourcesClaimed / HostResourcesReleased)', () => {
  it('a claim is held from HostResourcesClaimed to HostResourcesReleased, with the event that made it', () => {
    const l = registered();
    const c = l.add('HostResourcesClaimed', { hostId: 'node-a', uuid: U1, memoryKiB: 1048576, vcpus: 2, group: 'web', reason: 'start job j1' });
    let s = foldHost(l.events)!;
    assert.deepEqual(s.claims, { [U1]: { memoryKiB: 1048576, vcpus: 2, group: 'web', reason: 'start job j1', id: c.id, correlationId: 'job-1' } });
    assert.equal(s.version, 2, 'claims move the host aggregate\'s version: what two schedulers race on');
    l.add('HostResourcesClaimed', { hostId: 'node-a', uuid: U2, memoryKiB: 2097152, vcpus: 1 });
    l.add('HostResourcesReleased', { hostId: 'node-a', uuid: U1, reason: 'domain stopped' });
    s = foldHost(l.events)!;
    assert.deepEqual(Object.keys(s.claims!), [U2]);
    l.add('HostResourcesReleased', { hostId: 'node-a', uuid: U2, reason: 'domain stopped' });
    assert.equal('claims' in foldHost(l.events)!, false, 'no claims: the key is gone, so the facts fold as they did before claims');
  });

  it('claiming again replaces the claim; re-registering keeps the claims', () => {
    const l = registered();
    l.add('HostResourcesClaimed', { hostId: 'node-a', uuid: U1, memoryKiB: 1048576, vcpus: 1 });
    const again = l.add('HostResourcesClaimed', { hostId: 'node-a', uuid: U1, memoryKiB: 2097152, vcpus: 2 });
    l.add('HostRegistered', { hostId: 'node-a', capabilities: caps(8, 16777216) });
    const s = foldHost(l.events)!;
    assert.deepEqual([s.claims?.[U1]?.memoryKiB, s.claims?.[U1]?.id], [2097152, again.id]);
  });

  it('checkTransition: a release needs the claim; a claim needs a registered host', () => {
    const l = registered();
    assert.throws(() => checkTransition(foldHost(l.events), l.next('HostResourcesReleased', { hostId: 'node-a', uuid: U1, reason: 'x' })), /host 'node-a' holds no claim for domain/);
    assert.throws(() => checkTransition(undefined, log().next('HostResourcesClaimed', { hostId: 'node-z', uuid: U1, memoryKiB: 1, vcpus: 1 })), /host 'node-z' is not registered/);
    l.add('HostResourcesClaimed', { hostId: 'node-a', uuid: U1, memoryKiB: 1, vcpus: 1 });
    assert.doesNotThrow(() => checkTransition(foldHost(l.events), l.next('HostResourcesReleased', { hostId: 'node-a', uuid: U1, reason: 'x' })));
  });

  it('decodeEvent checks a claim\'s fields and names the one at fault', () => {
    const e = log().next('HostResourcesClaimed', { hostId: 'node-a', uuid: U1, memoryKiB: 1, vcpus: 1, numa: [{ guestCell: 0, hostCell: 1, memoryKiB: 1, vcpus: 1 }] });
    assert.equal(decodeEvent(JSON.stringify(e)) instanceof VirtError, false);
    const bad = decodeEvent(JSON.stringify({ ...e, data: { ...e.data, numa: [{ guestCell: 0, hostCell: -1, memoryKiB: 1, vcpus: 1 }] } }));
    assert.ok(bad instanceof VirtError);
    assert.equal(bad.path, '/data/numa/0/hostCell');
    const zero = decodeEvent(JSON.stringify({ ...e, data: { ...e.data, vcpus: 0 } }));
    assert.ok(zero instanceof VirtError && zero.path === '/data/vcpus');
  });

  it('DomainStopped FAILED gives back the placement of a domain that never started (and only there)', () => {
    const l = registered();
    defineAndPlace(l, U1, 'node-a');
    const dom = () => foldDomain(l.events, U1)!;
    assert.throws(() => checkTransition(dom(), l.next('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'DESTROYED' })), /domain is not running/);
    assert.throws(() => checkTransition(dom(), l.next('DomainStopped', { uuid: U1, hostId: 'node-b', detail: 'FAILED' })), /is on host 'node-a', not 'node-b'/);
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'FAILED' });
    assert.deepEqual([dom().state, dom().reason, dom().hostId], ['shutoff', 'FAILED', undefined]);
    assert.deepEqual(foldHost(l.events, 'node-a')!.domains, []);
    assert.throws(() => checkTransition(dom(), l.next('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'FAILED' })), /domain is not running/, 'not placed any more');
  });
});
