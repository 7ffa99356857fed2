import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { foldDomain, toRow } from './domain.ts';
import { foldHost } from './host.ts';
import { checkTransition, isLegalTransition, transitionError } from './transitions.ts';
import { caps, log, U1, xml, type Log } from './fixtures.ts';
import type { EventData, EventType } from './types.ts';

const defined = { uuid: U1, name: 'vm1', domainType: 'kvm', driver: 'qemu', xml: xml('vm1', U1) };

/** Checks `type`/`data` as the next event of the log's domain, appends it when legal, and returns the error if not. */
function attempt<T extends EventType>(l: Log, type: T, data: EventData[T]): VirtError | undefined {
  const e = l.next(type, data);
  const state = type.startsWith('Domain') ? foldDomain(l.events, U1) : foldHost(l.events, (data as { hostId: string }).hostId);
  const err = transitionError(state?.version === 0 ? undefined : state, e as never);
  if (!err) l.add(type, data);
  return err;
}

function refuses<T extends EventType>(l: Log, type: T, data: EventData[T], message: string): void {
  const err = attempt(l, type, data);
  assert.ok(err instanceof VirtError, `${type} should be refused`);
  assert.equal(err.code, 'OPERATION_INVALID');
  assert.equal(err.message, `Requested operation is not valid: ${message}`);
}

function accepts<T extends EventType>(l: Log, type: T, data: EventData[T]): void {
  const err = attempt(l, type, data);
  assert.equal(err, undefined, err?.message);
}

describe('checkTransition: domains', () => {
  it('walks a whole legal life: define, place, start, pause, resume, migrate, shut down, stop, undefine', () => {
    const l = log();
    accepts(l, 'DomainDefined', defined);
    accepts(l, 'DomainDeviceAttached', { uuid: U1, path: '/domain/devices/disk[2]', xml: '<disk/>', definition: xml('vm1', U1, { disks: 2 }) });
    accepts(l, 'DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1048576, vcpus: 1 });
    accepts(l, 'DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' });
    accepts(l, 'DomainSuspended', { uuid: U1, hostId: 'node-a', detail: 'PAUSED' });
    accepts(l, 'DomainResumed', { uuid: U1, hostId: 'node-a', detail: 'UNPAUSED' });
    accepts(l, 'DomainMigrating', { uuid: U1, fromHost: 'node-a', toHost: 'node-b' });
    accepts(l, 'DomainStarted', { uuid: U1, hostId: 'node-b', detail: 'MIGRATED' });
    accepts(l, 'DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'MIGRATED' });
    accepts(l, 'DomainShutdown', { uuid: U1, hostId: 'node-b', detail: 'GUEST' });
    accepts(l, 'DomainStopped', { uuid: U1, hostId: 'node-b', detail: 'SHUTDOWN' });
    accepts(l, 'DomainRedefined', { ...defined, xml: xml('vm1', U1, { memoryKiB: 4194304 }) });
    accepts(l, 'DomainUndefined', { uuid: U1, name: 'vm1' });
    accepts(l, 'DomainDefined', defined);
    assert.equal(l.events.length, 14);
  });

  it('refuses DomainStarted on an undefined domain', () => {
    refuses(log(), 'DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' }, `domain ${U1} is not defined`);
    const l = log();
    accepts(l, 'DomainDefined', defined);
    accepts(l, 'DomainUndefined', { uuid: U1, name: 'vm1' });
    refuses(l, 'DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1, vcpus: 1 }, `domain ${U1} is not defined (it was 'vm1' until undefined)`);
  });

  it('refuses defining a domain twice, and renaming by redefinition', () => {
    const l = log();
    accepts(l, 'DomainDefined', defined);
    refuses(l, 'DomainDefined', defined, `domain 'vm1' is already defined with uuid ${U1}: redefine it instead`);
    refuses(l, 'DomainRedefined', { ...defined, name: 'vm2' }, "cannot rename domain 'vm1' to 'vm2' by redefining it");
  });

  it('refuses an event whose version does not follow the aggregate\'s', () => {
    const l = log();
    accepts(l, 'DomainDefined', defined);
    const e = { ...l.next('DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1, vcpus: 1 }), version: 5 };
    assert.throws(() => checkTransition(foldDomain(l.events), e), (err: VirtError) => err.code === 'OPERATION_INVALID' && err.path === '/version' && /carries version 5 but the aggregate is at version 1: expected 2/.test(err.message));
  });

  it('refuses starting without a placement, on another host, or twice', () => {
    const l = log();
    accepts(l, 'DomainDefined', defined);
    refuses(l, 'DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' }, "domain 'vm1' has no placement: place it before starting it");
    accepts(l, 'DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1, vcpus: 1 });
    refuses(l, 'DomainStarted', { uuid: U1, hostId: 'node-b', detail: 'BOOTED' }, "domain 'vm1' is placed on host 'node-a', not 'node-b'");
    refuses(l, 'DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'WAKEUP' }, "domain 'vm1' is not suspended to memory on host 'node-a'");
    accepts(l, 'DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' });
    refuses(l, 'DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' }, 'domain is already running');
  });

  it('speaks libvirt\'s words for pause, resume, shutdown and stop in the wrong state', () => {
    const l = log();
    accepts(l, 'DomainDefined', defined);
    refuses(l, 'DomainSuspended', { uuid: U1, hostId: 'node-a', detail: 'PAUSED' }, 'domain is not running');
    refuses(l, 'DomainResumed', { uuid: U1, hostId: 'node-a', detail: 'UNPAUSED' }, 'domain is not paused');
    refuses(l, 'DomainShutdown', { uuid: U1, hostId: 'node-a', detail: 'GUEST' }, 'domain is not running');
    refuses(l, 'DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'DESTROYED' }, 'domain is not running');
  });

  it('refuses lifecycle reports from a host the domain is not on', () => {
    const l = log();
    accepts(l, 'DomainDefined', defined);
    accepts(l, 'DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1, vcpus: 1 });
    accepts(l, 'DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' });
    refuses(l, 'DomainStopped', { uuid: U1, hostId: 'node-b', detail: 'DESTROYED' }, "domain 'vm1' is on host 'node-a', not 'node-b'");
    refuses(l, 'DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'MIGRATED' }, "domain 'vm1' is not being migrated");
  });

  it('refuses placing, undefining or migrating a running domain the wrong way', () => {
    const l = log();
    accepts(l, 'DomainDefined', defined);
    accepts(l, 'DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1, vcpus: 1 });
    refuses(l, 'DomainMigrating', { uuid: U1, fromHost: 'node-a', toHost: 'node-b' }, "domain 'vm1' is not running");
    accepts(l, 'DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' });
    refuses(l, 'DomainPlaced', { uuid: U1, hostId: 'node-b', memoryKiB: 1, vcpus: 1 }, "domain 'vm1' is running on host 'node-a': migrate it to move it");
    refuses(l, 'DomainUndefined', { uuid: U1, name: 'vm1' }, "cannot undefine domain 'vm1' while it is running: stop it first");
    refuses(l, 'DomainMigrating', { uuid: U1, fromHost: 'node-b', toHost: 'node-c' }, "domain 'vm1' runs on host 'node-a', not 'node-b'");
    refuses(l, 'DomainMigrating', { uuid: U1, fromHost: 'node-a', toHost: 'node-a' }, "domain 'vm1' cannot be migrated to the host it runs on ('node-a')");
  });

  it('during a migration, accepts each end once and refuses the rest', () => {
    const l = log();
    accepts(l, 'DomainDefined', defined);
    accepts(l, 'DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1, vcpus: 1 });
    accepts(l, 'DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' });
    accepts(l, 'DomainMigrating', { uuid: U1, fromHost: 'node-a', toHost: 'node-b' });
    refuses(l, 'DomainMigrating', { uuid: U1, fromHost: 'node-a', toHost: 'node-c' }, "domain 'vm1' is already being migrated to host 'node-b'");
    refuses(l, 'DomainStarted', { uuid: U1, hostId: 'node-c', detail: 'MIGRATED' }, "domain 'vm1' is not being migrated to host 'node-c'");
    refuses(l, 'DomainStopped', { uuid: U1, hostId: 'node-b', detail: 'MIGRATED' }, "domain 'vm1' is being migrated to host 'node-b', not from it");
    refuses(l, 'DomainUndefined', { uuid: U1, name: 'vm1' }, "domain 'vm1' is being migrated");
    accepts(l, 'DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'MIGRATED' });
    refuses(l, 'DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'MIGRATED' }, "domain 'vm1' is being migrated from 'node-a' to 'node-b', not on host 'node-a'");
    refuses(l, 'DomainResumed', { uuid: U1, hostId: 'node-b', detail: 'UNPAUSED' }, "domain 'vm1' is arriving on host 'node-b': only a MIGRATED resume completes it");
    accepts(l, 'DomainResumed', { uuid: U1, hostId: 'node-b', detail: 'MIGRATED' });
    refuses(l, 'DomainResumed', { uuid: U1, hostId: 'node-b', detail: 'MIGRATED' }, 'domain is not paused');
    assert.equal(foldDomain(l.events)!.migrating, false);
  });

  it('works on a projection row as well as on a full state', () => {
    const l = log();
    accepts(l, 'DomainDefined', defined);
    const row = toRow(foldDomain(l.events)!);
    assert.ok(isLegalTransition(row, l.next('DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1, vcpus: 1 })));
    assert.ok(!isLegalTransition(row, l.next('DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' })));
  });

  it('reports a state of the wrong aggregate as an internal error', () => {
    const l = log();
    l.add('HostRegistered', { hostId: 'node-a', capabilities: caps() });
    const err = transitionError(foldHost(l.events), l.next('DomainDefined', defined));
    assert.equal(err?.code, 'INTERNAL_ERROR');
  });
});

describe('checkTransition: hosts', () => {
  it('refuses events for a host never registered', () => {
    refuses(log(), 'HostDown', { hostId: 'node-a', reason: 'heartbeat lost' }, "host 'node-a' is not registered");
  });

  it('refuses going down twice, up twice, or draining a drained host', () => {
    const l = log();
    accepts(l, 'HostRegistered', { hostId: 'node-a', capabilities: caps() });
    refuses(l, 'HostUp', { hostId: 'node-a' }, "host 'node-a' is already up");
    accepts(l, 'HostDown', { hostId: 'node-a', reason: 'heartbeat lost' });
    refuses(l, 'HostDown', { hostId: 'node-a', reason: 'heartbeat lost' }, "host 'node-a' is already down");
    accepts(l, 'HostUp', { hostId: 'node-a' });
    accepts(l, 'HostDrained', { hostId: 'node-a', drained: true });
    refuses(l, 'HostDrained', { hostId: 'node-a', drained: true }, "host 'node-a' is already drained");
    accepts(l, 'HostDrained', { hostId: 'node-a', drained: false });
  });

  it('lets an agent register again after a restart', () => {
    const l = log();
    accepts(l, 'HostRegistered', { hostId: 'node-a', capabilities: caps() });
    accepts(l, 'HostRegistered', { hostId: 'node-a', capabilities: caps(16) });
    accepts(l, 'HostCapabilitiesReported', { hostId: 'node-a', capabilities: caps(32) });
  });
});
