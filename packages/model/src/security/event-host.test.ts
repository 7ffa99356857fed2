import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldDomain } from '../events/domain.ts';
import { U1, log, xml } from '../events/fixtures.ts';
import { lifecycleHostError } from './event-host.ts';

function placedOn(host: string) {
  const l = log();
  l.add('DomainDefined', { uuid: U1, name: 'vm1', domainType: 'kvm', driver: 'qemu', xml: xml('vm1', U1), provenance: [] } as never);
  l.add('DomainPlaced', { uuid: U1, hostId: host, memoryKiB: 1048576, vcpus: 1 });
  l.add('DomainStarted', { uuid: U1, hostId: host, detail: 'BOOTED' });
  return { l, state: foldDomain(l.events) };
}

describe('who may report a domain lifecycle (what NATS permissions cannot hold)', () => {
  it("flags a stop reported by a host the domain does not live on", () => {
    const { l, state } = placedOn('h2');
    const e = lifecycleHostError(state, l.next('DomainStopped', { uuid: U1, hostId: 'h1', detail: 'DESTROYED' }));
    assert.equal(e?.code, 'OPERATION_DENIED');
    assert.equal(e?.path, '/data/hostId');
    assert.match(e!.message, /reported by host 'h1': it lives on 'h2'/);
  });

  it("accepts the domain's own host, and both ends of a migration", () => {
    const { l, state } = placedOn('h2');
    assert.equal(lifecycleHostError(state, l.next('DomainSuspended', { uuid: U1, hostId: 'h2', detail: 'PAUSED' })), undefined);
    l.add('DomainMigrating', { uuid: U1, fromHost: 'h2', toHost: 'h3' });
    const migrating = foldDomain(l.events);
    assert.equal(lifecycleHostError(migrating, l.next('DomainResumed', { uuid: U1, hostId: 'h3', detail: 'MIGRATED' })), undefined);
    assert.equal(lifecycleHostError(migrating, l.next('DomainStopped', { uuid: U1, hostId: 'h2', detail: 'MIGRATED' })), undefined);
    assert.ok(lifecycleHostError(migrating, l.next('DomainStopped', { uuid: U1, hostId: 'h1', detail: 'MIGRATED' })));
  });

  it('flags a lifecycle event of a domain placed nowhere, but not its placement', () => {
    const l = log();
    l.add('DomainDefined', { uuid: U1, name: 'vm1', domainType: 'kvm', driver: 'qemu', xml: xml('vm1', U1), provenance: [] } as never);
    const state = foldDomain(l.events);
    assert.match(lifecycleHostError(state, l.next('DomainStarted', { uuid: U1, hostId: 'h1', detail: 'BOOTED' }))!.message, /placed on no host/);
    assert.equal(lifecycleHostError(state, l.next('DomainPlaced', { uuid: U1, hostId: 'h1', memoryKiB: 1, vcpus: 1 })), undefined);
  });

  it('checks the publisher when it is known out of band', () => {
    const { l, state } = placedOn('h2');
    const e = lifecycleHostError(state, l.next('DomainStopped', { uuid: U1, hostId: 'h2', detail: 'DESTROYED' }), { publisherHost: 'h1' });
    assert.match(e!.message, /names host 'h2' but was published by host 'h1'/);
  });
});
