import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { projectDomains } from './project-domains.ts';
import { projectHosts } from './project-hosts.ts';
import { decodeEvent } from './validate.ts';
import { caps, log, U1, U2, U3, xml } from './fixtures.ts';
import type { AnyEvent } from './types.ts';
import type { Sequenced } from './transient.ts';

const seqd = (events: readonly AnyEvent[]): Sequenced[] => events.map((event, i) => ({ seq: i + 1, event }));

/** Two hosts, three domains: vm1 running on a, vm2 placed on a, vm3 paused on b, then vm3 migrating to a. */
function cluster() {
  const l = log();
  l.add('HostRegistered', { hostId: 'node-a', capabilities: caps(8, 16777216) });
  l.add('HostRegistered', { hostId: 'node-b', capabilities: caps(4, 8388608) });
  const def = (uuid: string, name: string) => l.add('DomainDefined', { uuid, name, domainType: 'kvm', driver: 'qemu', xml: xml(name, uuid) });
  def(U1, 'vm1');
  def(U2, 'vm2');
  def(U3, 'vm3');
  l.add('DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 4194304, vcpus: 4 });
  l.add('DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' });
  l.add('DomainPlaced', { uuid: U2, hostId: 'node-a', memoryKiB: 2097152, vcpus: 2 });
  l.add('DomainPlaced', { uuid: U3, hostId: 'node-b', memoryKiB: 1048576, vcpus: 1 });
  l.add('DomainStarted', { uuid: U3, hostId: 'node-b', detail: 'BOOTED' });
  l.add('DomainSuspended', { uuid: U3, hostId: 'node-b', detail: 'PAUSED' });
  return l;
}

describe('projectDomains', () => {
  it('indexes domains by uuid, name, host and state', () => {
    const p = projectDomains(seqd(cluster().events));
    assert.equal(p.seq, 11);
    assert.equal(projectDomains.get(p, U1)!.state, 'running');
    assert.equal(projectDomains.byName(p, 'vm2')!.uuid, U2);
    assert.deepEqual(projectDomains.onHost(p, 'node-a').map((r) => r.name), ['vm1', 'vm2']);
    assert.deepEqual(projectDomains.inState(p, 'paused').map((r) => r.name), ['vm3']);
    assert.deepEqual(projectDomains.toJSON(p).byState, { paused: [U3], running: [U1], shutoff: [U2] });
    assert.deepEqual(projectDomains.toJSON(p).byHost, { 'node-a': [U1, U2], 'node-b': [U3] });
  });

  it('rows carry everything but the history', () => {
    const row = projectDomains.get(projectDomains(seqd(cluster().events)), U1)!;
    assert.equal('history' in row, false);
    assert.deepEqual([row.name, row.hostId, row.resources, row.version, row.definitionVersion], ['vm1', 'node-a', { memoryKiB: 4194304, vcpus: 4 }, 3, 1]);
  });

  it('drops an undefined domain from every index, and frees its name', () => {
    const l = cluster();
    l.add('DomainUndefined', { uuid: U2, name: 'vm2' });
    const p = projectDomains(seqd(l.events));
    assert.equal(p.domains.has(U2), false);
    assert.equal(projectDomains.byName(p, 'vm2'), undefined);
    assert.deepEqual(projectDomains.toJSON(p).byHost['node-a'], [U1]);
    assert.equal(projectDomains.toJSON(p).byState.shutoff, undefined);
  });

  it('ignores an event at or below the last applied sequence, returning the same projection', () => {
    const items = seqd(cluster().events);
    const p = projectDomains(items);
    assert.equal(projectDomains.apply(p, items[5]!.event, items[5]!.seq), p);
    assert.equal(projectDomains.apply(p, items[10]!.event, 11), p);
    assert.equal(projectDomains.applyAll(p, items), p);
  });

  it('moves past a poison message without folding anything', () => {
    const p = projectDomains(seqd(cluster().events));
    const poison = decodeEvent('{"type":"DomainExploded"}');
    assert.ok(poison instanceof VirtError);
    const q = projectDomains.apply(p, poison, 12);
    assert.equal(q.seq, 12);
    assert.equal(q.domains, p.domains);
  });

  it('never changes the projection it is given', () => {
    const items = seqd(cluster().events);
    const p = projectDomains(items.slice(0, 6));
    const before = JSON.stringify(projectDomains.toJSON(p));
    const q = projectDomains.applyAll(p, items.slice(6));
    assert.equal(JSON.stringify(projectDomains.toJSON(p)), before);
    assert.notEqual(q, p);
  });

  it('gives the same projection built in one pass, event by event, or resumed from its JSON in the middle', () => {
    const items = seqd(cluster().events);
    const onePass = projectDomains(items);
    let stepwise = projectDomains.empty();
    for (const { seq, event } of items) stepwise = projectDomains.apply(stepwise, event, seq);
    const resumed = projectDomains.applyAll(projectDomains.fromJSON(JSON.parse(JSON.stringify(projectDomains.toJSON(projectDomains(items.slice(0, 7)))))), items.slice(4));
    assert.deepEqual(projectDomains.toJSON(stepwise), projectDomains.toJSON(onePass));
    assert.deepEqual(projectDomains.toJSON(resumed), projectDomains.toJSON(onePass));
  });

  it('refuses a sequence that is not a positive integer', () => {
    assert.throws(() => projectDomains.apply(projectDomains.empty(), undefined, 0), (e: VirtError) => e.code === 'INVALID_ARG');
  });
});

describe('projectHosts', () => {
  it('gives each host its free resources: total less what running, paused and placed domains claim', () => {
    const p = projectHosts(seqd(cluster().events));
    const [a, b] = projectHosts.views(p);
    assert.deepEqual([a!.hostId, a!.domains, a!.used, a!.free], ['node-a', [U1, U2], { memoryKiB: 6291456, vcpus: 6 }, { memoryKiB: 10485760, cpus: 2 }]);
    assert.deepEqual([b!.hostId, b!.domains, b!.used, b!.free], ['node-b', [U3], { memoryKiB: 1048576, vcpus: 1 }, { memoryKiB: 7340032, cpus: 3 }]);
  });

  it('releases the claim when a domain stops', () => {
    const l = cluster();
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'SHUTDOWN' });
    const a = projectHosts.view(projectHosts(seqd(l.events)), 'node-a')!;
    assert.deepEqual([a.domains, a.used, a.free], [[U2], { memoryKiB: 2097152, vcpus: 2 }, { memoryKiB: 14680064, cpus: 6 }]);
  });

  it('counts a migrating domain on both ends until the source lets go', () => {
    const l = cluster();
    l.add('DomainMigrating', { uuid: U3, fromHost: 'node-b', toHost: 'node-a' });
    let p = projectHosts(seqd(l.events));
    assert.deepEqual(projectHosts.view(p, 'node-a')!.transit, [U3]);
    assert.deepEqual(projectHosts.view(p, 'node-a')!.used, { memoryKiB: 7340032, vcpus: 7 });
    assert.deepEqual(projectHosts.view(p, 'node-b')!.used, { memoryKiB: 1048576, vcpus: 1 });
    l.add('DomainResumed', { uuid: U3, hostId: 'node-a', detail: 'MIGRATED' });
    l.add('DomainStopped', { uuid: U3, hostId: 'node-b', detail: 'MIGRATED' });
    p = projectHosts(seqd(l.events));
    assert.deepEqual(projectHosts.view(p, 'node-a')!.domains, [U1, U2, U3]);
    assert.deepEqual(projectHosts.view(p, 'node-b')!.used, { memoryKiB: 0, vcpus: 0 });
    assert.deepEqual(projectHosts.view(p, 'node-b')!.domains, []);
  });

  it('keeps the facts of each host: up, drained, labels', () => {
    const l = cluster();
    l.add('HostDown', { hostId: 'node-b', reason: 'heartbeat lost' });
    l.add('HostDrained', { hostId: 'node-a', drained: true });
    const [a, b] = projectHosts.views(projectHosts(seqd(l.events)));
    assert.deepEqual([a!.up, a!.drained, b!.up, b!.lastDownReason], [true, true, false, 'heartbeat lost']);
  });

  it('lists a host it knows only from a placement, unregistered and with nothing free', () => {
    const l = log();
    l.add('DomainDefined', { uuid: U1, name: 'vm1', domainType: 'kvm', driver: 'qemu', xml: xml('vm1', U1) });
    l.add('DomainPlaced', { uuid: U1, hostId: 'node-z', memoryKiB: 1024, vcpus: 1 });
    const z = projectHosts.view(projectHosts(seqd(l.events)), 'node-z')!;
    assert.deepEqual([z.registered, z.domains, z.free], [false, [U1], { memoryKiB: -1024, cpus: -1 }]);
  });

  it('gives the same projection built in one pass or resumed from its JSON in the middle, with redeliveries', () => {
    const l = cluster();
    l.add('DomainMigrating', { uuid: U3, fromHost: 'node-b', toHost: 'node-a' });
    l.add('DomainStarted', { uuid: U3, hostId: 'node-a', detail: 'MIGRATED' });
    const items = seqd(l.events);
    const onePass = projectHosts(items);
    const half = JSON.parse(JSON.stringify(projectHosts.toJSON(projectHosts(items.slice(0, 12)))));
    const resumed = projectHosts.applyAll(projectHosts.fromJSON(half), items.slice(3));
    assert.deepEqual(projectHosts.toJSON(resumed), projectHosts.toJSON(onePass));
  });
});
