import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { makeEvent } from './make.ts';
import { decodeEvent, decodeEventOrThrow, encodeEvent } from './validate.ts';
import { EVENT_TYPES, type AnyEvent } from './types.ts';
import { U1, caps, xml } from './fixtures.ts';

const meta = { aggregateVersion: 1, correlationId: 'job-7', causationId: 'cmd-7', now: () => new Date('2024-03-01T10:00:00.000Z'), newId: () => 'evt-1' };

const placed = () => makeEvent('DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1048576, vcpus: 2 }, meta);

describe('makeEvent', () => {
  it('builds the envelope on the domain subject with the clock and id it is handed', () => {
    const e = makeEvent('DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' }, { ...meta, aggregateVersion: 4 });
    assert.deepEqual(e, {
      id: 'evt-1',
      type: 'DomainStarted',
      subject: `virt.evt.domain.${U1}.DomainStarted`,
      version: 4,
      at: '2024-03-01T10:00:00.000Z',
      correlationId: 'job-7',
      causationId: 'cmd-7',
      data: { uuid: U1, hostId: 'node-a', detail: 'BOOTED' },
      v: 1,
    });
  });

  it('puts host events on the host subject', () => {
    const e = makeEvent('HostUp', { hostId: 'node-a' }, meta);
    assert.equal(e.subject, 'virt.evt.host.node-a.HostUp');
  });

  it('freezes the envelope and its data all the way down', () => {
    const e = makeEvent('HostRegistered', { hostId: 'node-a', labels: { rack: 'r1' }, capabilities: caps() }, meta);
    assert.ok(Object.isFrozen(e) && Object.isFrozen(e.data) && Object.isFrozen(e.data.labels) && Object.isFrozen(e.data.capabilities.host));
    assert.throws(() => {
      (e as { version: number }).version = 9;
    }, TypeError);
  });

  it('refuses data decodeEvent would reject, naming the field', () => {
    assert.throws(
      () => makeEvent('DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: -1, vcpus: 2 }, meta),
      (e: VirtError) => e.code === 'INVALID_ARG' && e.path === '/data/memoryKiB' && e.message === 'invalid argument: event DomainPlaced: /data/memoryKiB must be a non-negative integer, not -1',
    );
    assert.throws(
      () => makeEvent('DomainUndefined', { uuid: 'ABCDEF00-1111-4111-8111-111111111111', name: 'vm1' }, meta),
      (e: VirtError) => e.path === '/data/uuid' && /must be a UUID in lowercase/.test(e.message),
    );
    assert.throws(() => makeEvent('HostUp', { hostId: 'node.a' }, meta), (e: VirtError) => e.path === '/data/hostId' && /subject token/.test(e.message));
  });

  it('refuses an aggregate version below 1, saying what the version means', () => {
    assert.throws(
      () => makeEvent('HostUp', { hostId: 'node-a' }, { ...meta, aggregateVersion: 0 }),
      (e: VirtError) => e.code === 'INVALID_ARG' && /the version after this event, 1 for an aggregate's first/.test(e.message),
    );
  });
});

describe('decodeEvent', () => {
  it('reads back what makeEvent built, from bytes or text, frozen', () => {
    const e = makeEvent('DomainDefined', { uuid: U1, name: 'vm1', domainType: 'kvm', driver: 'qemu', xml: xml('vm1', U1), provenance: [] }, meta);
    const fromBytes = decodeEvent(encodeEvent(e as AnyEvent));
    assert.deepEqual(fromBytes, e);
    assert.ok(Object.isFrozen(fromBytes));
    assert.deepEqual(decodeEvent(JSON.stringify(e), e.subject), e);
    assert.deepEqual(decodeEventOrThrow(JSON.stringify(e)), e);
  });

  it('accepts every detail of every lifecycle event', () => {
    const details: Record<string, readonly string[]> = {
      DomainStarted: ['BOOTED', 'MIGRATED', 'RESTORED', 'FROM_SNAPSHOT', 'WAKEUP'],
      DomainSuspended: ['PAUSED', 'MIGRATED', 'IOERROR', 'WATCHDOG', 'RESTORED', 'FROM_SNAPSHOT', 'API_ERROR', 'POSTCOPY', 'POSTCOPY_FAILED'],
      DomainResumed: ['UNPAUSED', 'MIGRATED', 'FROM_SNAPSHOT', 'POSTCOPY'],
      DomainShutdown: ['FINISHED', 'GUEST', 'HOST'],
      DomainStopped: ['SHUTDOWN', 'DESTROYED', 'CRASHED', 'MIGRATED', 'SAVED', 'FAILED', 'FROM_SNAPSHOT'],
    };
    for (const [type, list] of Object.entries(details)) {
      for (const detail of list) {
        const e = { ...placed(), type, subject: `virt.evt.domain.${U1}.${type}`, data: { uuid: U1, hostId: 'node-a', detail } };
        assert.ok(!(decodeEvent(JSON.stringify(e)) instanceof VirtError), `${type} ${detail}`);
      }
    }
  });

  it('covers every event type with a data check', () => {
    for (const t of EVENT_TYPES) {
      const r = decodeEvent(JSON.stringify({ ...placed(), type: t, data: {} }));
      assert.ok(r instanceof VirtError && r.path?.startsWith('/data/'), `${t}: ${String(r)}`);
    }
  });

  describe('rejects poison messages with a clear error, and never throws', () => {
    const good = JSON.parse(JSON.stringify(placed())) as Record<string, unknown>;
    const cases: Array<[string, string | Uint8Array, string, string]> = [
      ['not JSON', '{"id": "x", ', '/', 'invalid argument: event is not JSON: '],
      ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), '/', 'invalid argument: event is not valid UTF-8'],
      ['not an object', '[1,2]', '/', 'invalid argument: event must be a JSON object, not [1,2]'],
      ['an unknown type', JSON.stringify({ ...good, type: 'DomainExploded' }), '/type', `invalid argument: event evt-1: unknown event type "DomainExploded"`],
      ['a missing type', JSON.stringify({ ...good, type: undefined }), '/type', 'invalid argument: event evt-1: unknown event type undefined'],
      ['a missing field', JSON.stringify({ ...good, correlationId: undefined }), '/correlationId', 'invalid argument: event evt-1 (DomainPlaced): /correlationId is missing'],
      ['a version of 0', JSON.stringify({ ...good, version: 0 }), '/version', 'invalid argument: event evt-1 (DomainPlaced): /version must be a positive integer, not 0'],
      ['a local time', JSON.stringify({ ...good, at: '2024-03-01 10:00' }), '/at', 'invalid argument: event evt-1 (DomainPlaced): /at must be an ISO 8601 UTC time (2024-01-31T12:00:00.000Z), not "2024-03-01 10:00"'],
      ['an envelope from the future', JSON.stringify({ ...good, v: 2 }), '/v', 'invalid argument: event evt-1 (DomainPlaced): envelope version 2 is not supported (this build reads 1)'],
      ['no data', JSON.stringify({ ...good, data: undefined }), '/data', 'invalid argument: event evt-1 (DomainPlaced): /data is missing'],
      ['data that is not an object', JSON.stringify({ ...good, data: 'x' }), '/data', 'invalid argument: event evt-1 (DomainPlaced): /data must be an object, not "x"'],
      ['a field of the wrong type', JSON.stringify({ ...good, data: { uuid: U1, hostId: 'node-a', memoryKiB: '1024', vcpus: 2 } }), '/data/memoryKiB', 'invalid argument: event evt-1 (DomainPlaced): /data/memoryKiB must be a non-negative integer, not "1024"'],
      ['a missing data field', JSON.stringify({ ...good, data: { uuid: U1, memoryKiB: 1024, vcpus: 2 } }), '/data/hostId', 'invalid argument: event evt-1 (DomainPlaced): /data/hostId is missing'],
      ['a detail outside the vocabulary', JSON.stringify({ ...good, type: 'DomainStopped', subject: `virt.evt.domain.${U1}.DomainStopped`, data: { uuid: U1, hostId: 'node-a', detail: 'EXPLODED' } }), '/data/detail', `invalid argument: event evt-1 (DomainStopped): /data/detail must be one of 'SHUTDOWN', 'DESTROYED', 'CRASHED', 'MIGRATED', 'SAVED', 'FAILED', 'FROM_SNAPSHOT', not "EXPLODED"`],
      ['an error with an unknown code', JSON.stringify({ ...good, type: 'DomainStopped', subject: `virt.evt.domain.${U1}.DomainStopped`, data: { uuid: U1, hostId: 'node-a', detail: 'FAILED', error: { code: 'OOPS', message: 'x' } } }), '/data/error/code', 'invalid argument: event evt-1 (DomainStopped): /data/error/code must be one of'],
      ['labels that are not strings', JSON.stringify({ ...good, type: 'HostRegistered', subject: 'virt.evt.host.node-a.HostRegistered', data: { hostId: 'node-a', labels: { rack: 3 }, capabilities: caps() } }), '/data/labels/rack', 'invalid argument: event evt-1 (HostRegistered): /data/labels/rack must be a string, not 3'],
      ['capabilities without a host', JSON.stringify({ ...good, type: 'HostCapabilitiesReported', subject: 'virt.evt.host.node-a.HostCapabilitiesReported', data: { hostId: 'node-a', capabilities: { guests: [], cpuModels: [], source: 's' } } }), '/data/capabilities/host', 'invalid argument: event evt-1 (HostCapabilitiesReported): /data/capabilities/host is missing'],
      ['a subject of another aggregate', JSON.stringify({ ...good, subject: `virt.evt.domain.${U1.replace('1', '2')}.DomainPlaced` }), '/subject', `invalid argument: event evt-1 (DomainPlaced): subject 'virt.evt.domain.21111111-1111-4111-8111-111111111111.DomainPlaced' does not match its type and aggregate (expected 'virt.evt.domain.${U1}.DomainPlaced')`],
      ['a subject of another type', JSON.stringify({ ...good, subject: `virt.evt.domain.${U1}.DomainStarted` }), '/subject', 'does not match its type and aggregate'],
    ];
    for (const [what, input, path, message] of cases) {
      it(`rejects ${what}`, () => {
        const r = decodeEvent(input);
        assert.ok(r instanceof VirtError, `expected a VirtError, got ${JSON.stringify(r)}`);
        assert.equal(r.code, 'INVALID_ARG');
        assert.equal(r.path, path);
        assert.ok(r.message.startsWith(message) || r.message.includes(message), r.message);
      });
    }

    it('rejects an event that arrived on a subject it does not belong to', () => {
      const r = decodeEvent(JSON.stringify(good), 'virt.evt.domain.other.DomainPlaced');
      assert.ok(r instanceof VirtError);
      assert.equal(r.message, `invalid argument: event evt-1 (DomainPlaced): arrived on subject 'virt.evt.domain.other.DomainPlaced' but belongs on 'virt.evt.domain.${U1}.DomainPlaced'`);
    });

    it('never throws on arbitrary bytes', () => {
      let seed = 42;
      const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
      const text = JSON.stringify(good);
      for (let i = 0; i < 2000; i++) {
        const bytes = new TextEncoder().encode(text);
        for (let k = 0; k < 1 + (next() % 4); k++) bytes[next() % bytes.length] = next() % 256;
        const r = decodeEvent(bytes.subarray(0, next() % (bytes.length + 1)));
        assert.ok(r instanceof VirtError || typeof r.type === 'string');
      }
    });
  });
});
