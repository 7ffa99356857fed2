import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { checkTransition, decodeEvent, emptyHostFacts, encodeEvent, makeEvent, reduceHostFacts, subjects } from '../events/index.ts';
import { COMMAND_TYPES, decodeCommand, encodeCommand, makeCommand, validateCommand } from './index.ts';

const UUID = '4dea22b3-1d52-d8f3-2516-782e98a23fa0';
const meta = { correlationId: 'job-1', now: () => new Date('2024-05-01T10:00:00.000Z'), newId: () => 'cmd-1' };
const base = { id: 'c1', type: 'start', hostId: 'node1', uuid: UUID, correlationId: 'job', at: '2024-05-01T10:00:00.000Z', args: {}, v: 1 };

function err(v: unknown): VirtError {
  assert.ok(v instanceof VirtError, `expected a VirtError, got ${JSON.stringify(v)}`);
  return v;
}

describe('commands', () => {
  it('builds a frozen command with the ids it was handed', () => {
    const c = makeCommand('start', { hostId: 'node1', uuid: UUID }, { paused: true }, meta);
    assert.deepEqual(c, { id: 'cmd-1', type: 'start', hostId: 'node1', uuid: UUID, correlationId: 'job-1', at: '2024-05-01T10:00:00.000Z', args: { paused: true }, v: 1 });
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.args));
    assert.deepEqual(decodeCommand(encodeCommand(c)), c);
  });

  it('knows the thirteen commands of issue 6', () => {
    assert.deepEqual([...COMMAND_TYPES].sort(), ['attach-device', 'define', 'destroy', 'detach-device', 'migrate-in', 'migrate-out', 'reboot', 'reset', 'resume', 'shutdown', 'start', 'suspend', 'undefine']);
  });

  it('rejects an unknown type with the path of the field', () => {
    const e = err(validateCommand({ ...base, type: 'explode' }));
    assert.equal(e.code, 'INVALID_ARG');
    assert.equal(e.path, '/type');
  });

  it('rejects a missing or uppercase uuid, a bad time, a bad id', () => {
    assert.equal(err(validateCommand({ ...base, uuid: undefined })).path, '/uuid');
    assert.equal(err(validateCommand({ ...base, uuid: UUID.toUpperCase() })).path, '/uuid');
    assert.equal(err(validateCommand({ ...base, at: 'yesterday' })).path, '/at');
    assert.equal(err(validateCommand({ ...base, id: 'a.b' })).path, '/id');
    assert.equal(err(validateCommand({ ...base, v: 2 })).path, '/v');
  });

  it('checks each type\'s arguments', () => {
    assert.equal(err(validateCommand({ ...base, type: 'define', args: {} })).message, "invalid argument: command 'define' needs args.xml");
    assert.equal(err(validateCommand({ ...base, type: 'start', args: { paused: 'yes' } })).path, '/args/paused');
    assert.equal(err(validateCommand({ ...base, type: 'migrate-out', args: { toHost: 'h2', host: '127.0.0.1', port: 70000 } })).path, '/args/port');
    assert.equal(err(validateCommand({ ...base, type: 'migrate-in', args: { fromHost: 'h.1', host: '127.0.0.1', port: 4000 } })).path, '/args/fromHost');
    assert.equal(err(validateCommand({ ...base, type: 'detach-device', args: { alias: '' } })).path, '/args/alias');
    assert.ok(!(validateCommand({ ...base, type: 'migrate-out', args: { toHost: 'h2', host: '127.0.0.1', port: 4000 } }) instanceof VirtError));
  });

  it('refuses a command addressed to another host', () => {
    const e = err(validateCommand(base, 'node2'));
    assert.equal(e.path, '/hostId');
    assert.match(e.message, /is for host 'node1', not 'node2'/);
  });

  it('refuses what is not JSON or not an object', () => {
    assert.equal(err(decodeCommand('{')).path, '/');
    assert.equal(err(decodeCommand('[]')).path, '/');
    assert.equal(err(decodeCommand(new Uint8Array([0xff, 0xfe]))).message, 'invalid argument: command is not valid UTF-8');
  });

  describe('start with known (the domain as the scheduler placed it)', () => {
    const observation = { version: 2, seq: 40, typeSeqs: { DomainDefined: 12, DomainPlaced: 40, DomainStarted: 0 }, at: 1_714_557_600_000, headId: 'e-2', complete: true };
    const known = {
      name: 'web', defined: true, xml: `<domain type='kvm'><name>web</name><uuid>${UUID}</uuid></domain>`, domainType: 'kvm', driver: 'qemu',
      definitionVersion: 1, version: 2, updatedAt: '2024-05-01T10:00:00.000Z', state: 'shutoff', reason: 'UNKNOWN', hostId: 'node1',
      resources: { memoryKiB: 262_144, vcpus: 2 }, observation,
    };
    const start = (k: unknown) => validateCommand({ ...base, args: { known: k } });
    const pathOf = (k: unknown) => err(start(k)).path;

    it('accepts it, and a start without it as before', () => {
      const c = start(known);
      assert.ok(!(c instanceof VirtError), JSON.stringify(c));
      assert.deepEqual((c as { args: unknown }).args, { known });
      assert.ok(Object.isFrozen((c as { args: { known: { observation: object } } }).args.known.observation));
      assert.ok(!(validateCommand(base) instanceof VirtError));
      assert.ok(!(validateCommand({ ...base, args: { paused: true } }) instanceof VirtError));
      const { domainType: _t, driver: _d, updatedAt: _u, reason: _r, resources: _res, ...minimal } = known;
      assert.ok(!(start({ ...minimal, observation: { version: 2, seq: 40, typeSeqs: {}, at: 0, complete: false } }) instanceof VirtError));
      const built = makeCommand('start', { hostId: 'node1', uuid: UUID }, { known: known as never }, meta);
      assert.deepEqual(decodeCommand(encodeCommand(built)), built);
    });

    it('refuses a malformed known with the path of the field', () => {
      const e = err(start({ ...known, version: -1 }));
      assert.equal(e.code, 'INVALID_ARG');
      assert.equal(e.path, '/args/known/version');
      assert.match(e.message, /args\.known\.version must be a non-negative integer/);
      assert.equal(pathOf('yes'), '/args/known');
      assert.equal(pathOf([known]), '/args/known');
      assert.equal(pathOf({ ...known, version: 2.5 }), '/args/known/version');
      assert.equal(pathOf({ ...known, version: '2' }), '/args/known/version');
      assert.equal(pathOf({ ...known, definitionVersion: 3 }), '/args/known/definitionVersion');
      assert.equal(pathOf({ ...known, name: '' }), '/args/known/name');
      assert.equal(pathOf({ ...known, name: 'x'.repeat(257) }), '/args/known/name');
      assert.equal(pathOf({ ...known, xml: 42 }), '/args/known/xml');
      assert.equal(pathOf({ ...known, xml: 'x'.repeat(1024 * 1024 + 1) }), '/args/known/xml');
      assert.equal(pathOf({ ...known, defined: 'true' }), '/args/known/defined');
      assert.equal(pathOf({ ...known, state: 'flying' }), '/args/known/state');
      assert.equal(pathOf({ ...known, reason: 'because' }), '/args/known/reason');
      assert.equal(pathOf({ ...known, hostId: undefined }), '/args/known/hostId');
      assert.equal(pathOf({ ...known, hostId: 'a.b' }), '/args/known/hostId');
      assert.equal(pathOf({ ...known, resources: { memoryKiB: -1, vcpus: 2 } }), '/args/known/resources/memoryKiB');
      assert.equal(pathOf({ ...known, resources: { memoryKiB: 1, vcpus: 2, gpus: 1 } }), '/args/known/resources');
      assert.equal(pathOf({ ...known, history: [] }), '/args/known/history');
      assert.equal(pathOf({ ...known, observation: undefined }), '/args/known/observation');
      assert.equal(pathOf({ ...known, observation: { ...observation, version: 1 } }), '/args/known/observation/version');
      assert.equal(pathOf({ ...known, observation: { ...observation, seq: -3 } }), '/args/known/observation/seq');
      assert.equal(pathOf({ ...known, observation: { ...observation, at: 'now' } }), '/args/known/observation/at');
      assert.equal(pathOf({ ...known, observation: { ...observation, complete: 1 } }), '/args/known/observation/complete');
      assert.equal(pathOf({ ...known, observation: { ...observation, headId: 7 } }), '/args/known/observation/headId');
      assert.equal(pathOf({ ...known, observation: { ...observation, extra: 1 } }), '/args/known/observation/extra');
      assert.equal(pathOf({ ...known, observation: { ...observation, typeSeqs: [1] } }), '/args/known/observation/typeSeqs');
      assert.equal(pathOf({ ...known, observation: { ...observation, typeSeqs: { DomainPlaced: 41 } } }), '/args/known/observation/typeSeqs/DomainPlaced');
      assert.equal(pathOf({ ...known, observation: { ...observation, typeSeqs: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`T${i}`, 1])) } }), '/args/known/observation/typeSeqs');
    });
  });

  it('the hostCommands subject is per host', () => {
    assert.equal(subjects.hostCommands('node1'), 'virt.cmd.node1');
    assert.equal(subjects.allHostCommands(), 'virt.cmd.*');
    assert.throws(() => subjects.hostCommands('a.b'), /cannot be used in a subject/);
  });
});

describe('DomainCommandFailed', () => {
  const ids = { correlationId: 'job-1', causationId: 'cmd-1', now: () => new Date('2024-05-01T10:00:00.000Z'), newId: () => 'e1' };
  const error = new VirtError('OPERATION_INVALID', 'domain is not paused').toJSON();

  it('is a host event on the host\'s subject that round-trips through decodeEvent', () => {
    const e = makeEvent('DomainCommandFailed', { hostId: 'node1', uuid: UUID, command: 'resume', error }, { ...ids, aggregateVersion: 2 });
    assert.equal(e.subject, 'virt.evt.host.node1.DomainCommandFailed');
    assert.deepEqual(decodeEvent(encodeEvent(e), e.subject), e);
    const bad = decodeEvent(JSON.stringify({ ...e, data: { ...e.data, error: { code: 'NOPE', message: 'x' } } }));
    assert.equal(err(bad).path, '/data/error/code');
  });

  it('needs a registered host, and changes nothing but the version', () => {
    const reg = makeEvent('HostRegistered', { hostId: 'node1', capabilities: { host: { arch: 'x86_64' }, guests: [], cpuModels: [], source: 't' } }, { ...ids, aggregateVersion: 1 });
    const failed = makeEvent('DomainCommandFailed', { hostId: 'node1', command: 'start', error }, { ...ids, aggregateVersion: 2 });
    assert.throws(() => checkTransition(emptyHostFacts('node1'), makeEvent('DomainCommandFailed', failed.data, { ...ids, aggregateVersion: 1 })), /not registered/);
    const facts = reduceHostFacts(emptyHostFacts('node1'), reg);
    checkTransition(facts, failed);
    const next = reduceHostFacts(facts, failed);
    assert.deepEqual({ ...next, version: 1 }, facts);
  });
});
