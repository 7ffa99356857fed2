import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldDomain, reduceDomain, toRow, type DomainState } from './domain.ts';
import { log, U1, U2, xml } from './fixtures.ts';
import type { ResumedDetail, ShutdownDetail, StartedDetail, StoppedDetail, SuspendedDetail } from './types.ts';

const defined = { uuid: U1, name: 'vm1', domainType: 'kvm', driver: 'qemu', xml: xml('vm1', U1) };

/** A domain defined and placed on node-a (4 events in), and the log to continue it. */
function placedOnA() {
  const l = log();
  l.add('DomainDefined', defined);
  l.add('DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 2097152, vcpus: 2 });
  return l;
}

function running(detail: StartedDetail = 'BOOTED') {
  const l = placedOnA();
  l.add('DomainStarted', { uuid: U1, hostId: 'node-a', detail });
  return l;
}

const fold = (l: ReturnType<typeof log>): DomainState => foldDomain(l.events)!;

describe('reduceDomain: definitions', () => {
  it('DomainDefined makes a shut-off domain (reason UNKNOWN) with its first definition', () => {
    const l = log();
    l.add('DomainDefined', defined);
    const s = fold(l);
    assert.equal(s.uuid, U1);
    assert.equal(s.name, 'vm1');
    assert.equal(s.defined, true);
    assert.equal(s.state, 'shutoff');
    assert.equal(s.reason, 'UNKNOWN');
    assert.equal(s.migrating, false);
    assert.equal(s.domainType, 'kvm');
    assert.equal(s.driver, 'qemu');
    assert.equal(s.xml, defined.xml);
    assert.equal(s.version, 1);
    assert.equal(s.definitionVersion, 1);
    assert.deepEqual(s.history, [{ version: 1, at: '2024-01-01T00:00:01.000Z', type: 'DomainDefined', xml: defined.xml }]);
    assert.equal(s.hostId, undefined);
  });

  it('DomainRedefined and the device events write new definition versions', () => {
    const l = log();
    l.add('DomainDefined', defined);
    l.add('DomainRedefined', { ...defined, xml: xml('vm1', U1, { memoryKiB: 2097152 }) });
    l.add('DomainDeviceAttached', { uuid: U1, path: '/domain/devices/disk[2]', xml: '<disk/>', definition: xml('vm1', U1, { disks: 2 }) });
    l.add('DomainDeviceUpdated', { uuid: U1, path: '/domain/devices/disk[2]', xml: '<disk/>', definition: xml('vm1', U1, { disks: 2, bus: 'sata' }) });
    l.add('DomainDeviceDetached', { uuid: U1, path: '/domain/devices/disk[2]', xml: '<disk/>', definition: xml('vm1', U1, { bus: 'sata' }) });
    const s = fold(l);
    assert.deepEqual(s.history.map((h) => [h.version, h.type]), [[1, 'DomainDefined'], [2, 'DomainRedefined'], [3, 'DomainDeviceAttached'], [4, 'DomainDeviceUpdated'], [5, 'DomainDeviceDetached']]);
    assert.equal(s.xml, xml('vm1', U1, { bus: 'sata' }));
    assert.equal(s.definitionVersion, 5);
  });

  it('a lifecycle event moves the version but not the definition version', () => {
    const s = fold(running());
    assert.equal(s.version, 3);
    assert.equal(s.definitionVersion, 1);
    assert.equal(s.history.length, 1);
  });

  it('DomainUndefined ends the domain but keeps its history; a new DomainDefined continues it', () => {
    const l = placedOnA();
    l.add('DomainUndefined', { uuid: U1, name: 'vm1' });
    let s = fold(l);
    assert.equal(s.defined, false);
    assert.equal(s.state, 'shutoff');
    assert.equal(s.hostId, undefined, 'an undefined domain claims nothing');
    assert.equal(s.resources, undefined);
    assert.equal(s.history.length, 1);
    l.add('DomainDefined', { ...defined, xml: xml('vm1', U1, { disks: 3 }) });
    s = fold(l);
    assert.equal(s.defined, true);
    assert.deepEqual(s.history.map((h) => h.version), [1, 4]);
  });
});

describe('reduceDomain: lifecycle with libvirt detail codes', () => {
  it('DomainPlaced records the host and the claim', () => {
    const s = fold(placedOnA());
    assert.equal(s.state, 'shutoff');
    assert.equal(s.hostId, 'node-a');
    assert.deepEqual(s.resources, { memoryKiB: 2097152, vcpus: 2 });
  });

  const started: Array<[StartedDetail, string]> = [['BOOTED', 'BOOTED'], ['RESTORED', 'RESTORED'], ['FROM_SNAPSHOT', 'FROM_SNAPSHOT'], ['WAKEUP', 'WAKEUP']];
  for (const [detail, reason] of started) {
    it(`DomainStarted ${detail} → running (${reason})`, () => {
      const s = fold(running(detail));
      assert.deepEqual([s.state, s.reason, s.detail, s.hostId], ['running', reason, detail, 'node-a']);
    });
  }

  const suspended: Array<[SuspendedDetail, string]> = [
    ['PAUSED', 'USER'], ['MIGRATED', 'MIGRATION'], ['IOERROR', 'IOERROR'], ['WATCHDOG', 'WATCHDOG'], ['RESTORED', 'USER'],
    ['FROM_SNAPSHOT', 'FROM_SNAPSHOT'], ['API_ERROR', 'API_ERROR'], ['POSTCOPY', 'POSTCOPY'], ['POSTCOPY_FAILED', 'POSTCOPY_FAILED'],
  ];
  for (const [detail, reason] of suspended) {
    it(`DomainSuspended ${detail} → paused (${reason})`, () => {
      const l = running();
      l.add('DomainSuspended', { uuid: U1, hostId: 'node-a', detail });
      const s = fold(l);
      assert.deepEqual([s.state, s.reason, s.detail], ['paused', reason, detail]);
    });
  }

  const resumed: Array<[ResumedDetail, string]> = [['UNPAUSED', 'UNPAUSED'], ['MIGRATED', 'MIGRATED'], ['FROM_SNAPSHOT', 'FROM_SNAPSHOT'], ['POSTCOPY', 'POSTCOPY']];
  for (const [detail, reason] of resumed) {
    it(`DomainResumed ${detail} → running (${reason})`, () => {
      const l = running();
      l.add('DomainSuspended', { uuid: U1, hostId: 'node-a', detail: 'PAUSED' });
      l.add('DomainResumed', { uuid: U1, hostId: 'node-a', detail });
      const s = fold(l);
      assert.deepEqual([s.state, s.reason, s.detail], ['running', reason, detail]);
    });
  }

  const shutdown: ShutdownDetail[] = ['FINISHED', 'GUEST', 'HOST'];
  for (const detail of shutdown) {
    it(`DomainShutdown ${detail} → shutdown (UNKNOWN, as qemuProcessHandleShutdown sets it)`, () => {
      const l = running();
      l.add('DomainShutdown', { uuid: U1, hostId: 'node-a', detail });
      const s = fold(l);
      assert.deepEqual([s.state, s.reason, s.detail, s.hostId], ['shutdown', 'UNKNOWN', detail, 'node-a']);
    });
  }

  const stopped: StoppedDetail[] = ['SHUTDOWN', 'DESTROYED', 'CRASHED', 'SAVED', 'FAILED', 'FROM_SNAPSHOT'];
  for (const detail of stopped) {
    it(`DomainStopped ${detail} → shutoff (${detail}), releasing the host`, () => {
      const l = running();
      l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail });
      const s = fold(l);
      assert.deepEqual([s.state, s.reason, s.detail], ['shutoff', detail, detail]);
      assert.equal(s.hostId, undefined);
      assert.equal(s.resources, undefined);
    });
  }

  it('DomainStopped with an error keeps it as the last error', () => {
    const l = running();
    const error = { code: 'INTERNAL_ERROR' as const, message: 'internal error: qemu unexpectedly closed the monitor' };
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'FAILED', error });
    assert.deepEqual(fold(l).lastError, error);
  });

  it('a stop reported by a host the domain no longer lives on changes nothing (a stale copy after failover)', () => {
    const l = running();
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'FAILED' });
    l.add('DomainPlaced', { uuid: U1, hostId: 'node-b', memoryKiB: 2097152, vcpus: 2 });
    l.add('DomainStarted', { uuid: U1, hostId: 'node-b', detail: 'BOOTED' });
    const before = fold(l);
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'DESTROYED' });
    const after = fold(l);
    assert.deepEqual(toRow(after), { ...toRow(before), version: after.version, updatedAt: after.updatedAt });
    assert.equal(after.state, 'running');
  });
});

describe('reduceDomain: migration, reported from both ends', () => {
  function migrating() {
    const l = running();
    l.add('DomainMigrating', { uuid: U1, fromHost: 'node-a', toHost: 'node-b' });
    return l;
  }

  it('DomainMigrating sets the flag; the domain still runs on the source', () => {
    const s = fold(migrating());
    assert.equal(s.migrating, true);
    assert.deepEqual(s.migration, { fromHost: 'node-a', toHost: 'node-b', since: '2024-01-01T00:00:04.000Z', sourceStopped: false, targetStarted: false });
    assert.deepEqual([s.state, s.hostId], ['running', 'node-a']);
  });

  it('target first: STARTED MIGRATED moves it, the source STOPPED MIGRATED ends the migration', () => {
    const l = migrating();
    l.add('DomainStarted', { uuid: U1, hostId: 'node-b', detail: 'MIGRATED' });
    let s = fold(l);
    assert.deepEqual([s.state, s.reason, s.hostId, s.migrating, s.migration?.targetStarted], ['running', 'MIGRATED', 'node-b', true, true]);
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'MIGRATED' });
    s = fold(l);
    assert.deepEqual([s.state, s.reason, s.hostId, s.migrating, s.migration], ['running', 'MIGRATED', 'node-b', false, undefined]);
    assert.deepEqual(s.resources, { memoryKiB: 2097152, vcpus: 2 }, 'the claim follows the domain');
  });

  it('source first: STOPPED MIGRATED leaves it paused for migration on the target until RESUMED MIGRATED', () => {
    const l = migrating();
    l.add('DomainSuspended', { uuid: U1, hostId: 'node-a', detail: 'MIGRATED' });
    assert.deepEqual([fold(l).state, fold(l).reason], ['paused', 'MIGRATION']);
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'MIGRATED' });
    let s = fold(l);
    assert.deepEqual([s.state, s.reason, s.hostId, s.migrating], ['paused', 'MIGRATION', 'node-b', true]);
    l.add('DomainResumed', { uuid: U1, hostId: 'node-b', detail: 'MIGRATED' });
    s = fold(l);
    assert.deepEqual([s.state, s.reason, s.hostId, s.migrating], ['running', 'MIGRATED', 'node-b', false]);
  });

  it('reports from the old source after the target took over are about its old copy', () => {
    const l = migrating();
    l.add('DomainStarted', { uuid: U1, hostId: 'node-b', detail: 'MIGRATED' });
    const before = fold(l);
    l.add('DomainSuspended', { uuid: U1, hostId: 'node-a', detail: 'MIGRATED' });
    assert.deepEqual([fold(l).state, fold(l).hostId], [before.state, before.hostId]);
  });

  it('the source failing before the target started leaves the domain shut off', () => {
    const l = migrating();
    l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'FAILED' });
    const s = fold(l);
    assert.deepEqual([s.state, s.reason, s.hostId, s.migrating], ['shutoff', 'FAILED', undefined, false]);
  });

  it('the target failing before it started cancels the migration; the domain runs on', () => {
    const l = migrating();
    l.add('DomainStopped', { uuid: U1, hostId: 'node-b', detail: 'FAILED', error: { code: 'OPERATION_TIMEOUT', message: 'Timed out during operation: migration' } });
    const s = fold(l);
    assert.deepEqual([s.state, s.reason, s.hostId, s.migrating], ['running', 'BOOTED', 'node-a', false]);
    assert.equal(s.lastError?.code, 'OPERATION_TIMEOUT');
  });
});

describe('reduceDomain: folding what happened', () => {
  it('never throws on events that should not have been written, and folds them', () => {
    const l = log();
    l.add('DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' });
    const s = fold(l);
    assert.deepEqual([s.defined, s.state, s.hostId], [false, 'running', 'node-a']);
  });

  it('leaves the state alone for another domain\'s events and for host events', () => {
    const s = fold(running());
    const other = log().add('DomainStarted', { uuid: U2, hostId: 'node-a', detail: 'BOOTED' });
    const host = log().add('HostUp', { hostId: 'node-a' });
    assert.equal(reduceDomain(s, other), s);
    assert.equal(reduceDomain(s, host), s);
    assert.equal(reduceDomain(undefined, host), undefined);
  });

  it('returns frozen states', () => {
    const s = fold(running());
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.history) && Object.isFrozen(s.history[0]));
  });

  it('foldDomain picks one domain out of a mixed log', () => {
    const l = running();
    l.add('DomainDefined', { ...defined, uuid: U2, name: 'vm2', xml: xml('vm2', U2) });
    l.add('HostUp', { hostId: 'node-a' });
    assert.equal(foldDomain(l.events)!.uuid, U1);
    assert.equal(foldDomain(l.events, U2)!.name, 'vm2');
    assert.equal(foldDomain([]), undefined);
  });
});
