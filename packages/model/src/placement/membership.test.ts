import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtError } from '../errors.ts';
import { emptyHostFacts, type HostFacts } from '../events/host.ts';
import { SHUTOFF, lifecycle, type DomainLifecycle } from '../events/lifecycle.ts';
import {
  decideMembership, fencedError, haCandidates, haPolicyOfXml, leaseExpiresAt, observeHeartbeats, presentedState, staleCopy, startMembership, type DomainOnHost,
} from './membership.ts';

const config = { downAfterMs: 3_000, fenceDelayMs: 2_000 };
const host = (hostId: string, up = true): HostFacts => ({ ...emptyHostFacts(hostId), registered: true, up });
const running = (uuid: string, hostId: string, extra: Partial<DomainLifecycle> = {}): DomainOnHost => ({ uuid, defined: true, ...lifecycle({ state: 'running', reason: 'BOOTED', hostId }), ...extra });

const xml = (ha?: string) => `<domain type='kvm'><name>a</name><memory>1024</memory>${ha === undefined ? '' : `<metadata>
  <vf:scheduling xmlns:vf="https://virtflow.dev/xmlns/scheduling/1.0"><vf:group name="g" policy="anti-affinity"/><vf:ha policy="${ha}"/></vf:scheduling>
</metadata>`}</domain>`;

test('a host silent for longer than T is declared down with its last sighting; one that beats is not', () => {
  let s = startMembership(0);
  s = observeHeartbeats(s, [['a', 't0'], ['b', 't0']], 0);
  s = observeHeartbeats(s, [['a', 't1'], ['b', 't0']], 2_000);
  assert.deepEqual(decideMembership(s, [host('a'), host('b')], 3_000, config), []);
  const acts = decideMembership(s, [host('a'), host('b')], 3_500, config);
  assert.deepEqual(acts, [{ kind: 'down', hostId: 'b', lastSeen: new Date(0).toISOString(), reason: 'no heartbeat for 3.5 s (limit 3.0 s)' }]);
});

test('judges by when the observer saw a beat change, not by the agent clock', () => {
  // The agent's `at` is a day off: irrelevant, only its changes count.
  let s = startMembership(10_000);
  s = observeHeartbeats(s, [['a', '1999-01-01T00:00:00.000Z']], 10_000);
  assert.deepEqual(decideMembership(s, [host('a')], 12_000, config), []);
  s = observeHeartbeats(s, [['a', '1999-01-01T00:00:01.000Z']], 12_500);
  assert.deepEqual(decideMembership(s, [host('a')], 15_000, config), []);
  assert.equal(decideMembership(s, [host('a')], 15_600, config)[0]?.kind, 'down');
});

test('a host never seen counts from the observer start, so a restarted scheduler waits T before calling anyone down', () => {
  const s = startMembership(5_000);
  assert.deepEqual(decideMembership(s, [host('a')], 7_000, config), []);
  assert.equal(decideMembership(s, [host('a')], 8_001, config)[0]?.kind, 'down');
  // Unregistered hosts are nobody's business.
  assert.deepEqual(decideMembership(s, [{ ...host('x'), registered: false }], 100_000, config), []);
});

test('a down host is fenced only once T + the fence delay have passed since its last beat', () => {
  let s = startMembership(0);
  s = observeHeartbeats(s, [['a', 't0']], 0);
  s = observeHeartbeats(s, [['a', 't1']], 1_000);
  assert.equal(leaseExpiresAt(s, 'a', config), 6_000);
  assert.deepEqual(decideMembership(s, [host('a', false)], 5_999, config), []);
  assert.deepEqual(decideMembership(s, [host('a', false)], 6_000, config), [{ kind: 'fence', hostId: 'a' }]);
});

test('a down host whose beat changes again is up; a stale key left in the bucket is not a beat', () => {
  let s = startMembership(0);
  s = observeHeartbeats(s, [['a', 't0']], 0);
  // The same `at` read again and again (the key outlived its agent): still silent.
  s = observeHeartbeats(s, [['a', 't0']], 4_000);
  assert.deepEqual(decideMembership(s, [host('a', false)], 4_000, config), []);
  s = observeHeartbeats(s, [['a', 't9']], 9_000);
  assert.deepEqual(decideMembership(s, [host('a', false)], 9_100, config), [{ kind: 'up', hostId: 'a' }]);
});

test('refuses a configuration that cannot mean anything, naming the field', () => {
  assert.throws(() => decideMembership(startMembership(0), [], 0, { downAfterMs: 0, fenceDelayMs: 0 }), (e: unknown) => e instanceof VirtError && e.path === '/membership/downAfterMs');
  assert.throws(() => decideMembership(startMembership(0), [], 0, { downAfterMs: 1, fenceDelayMs: -1 }), (e: unknown) => e instanceof VirtError && e.path === '/membership/fenceDelayMs');
});

test('reads the HA policy from the scheduling metadata; none by default; a wrong one names its path', () => {
  assert.equal(haPolicyOfXml(xml('restart')), 'restart');
  assert.equal(haPolicyOfXml(xml('none')), 'none');
  assert.equal(haPolicyOfXml(xml()), 'none');
  assert.equal(haPolicyOfXml(''), 'none');
  // The element in another namespace is someone else's.
  assert.equal(haPolicyOfXml(xml('restart').replace('https://virtflow.dev/xmlns/scheduling/1.0', 'urn:other')), 'none');
  assert.throws(() => haPolicyOfXml(xml('sometimes')), (e: unknown) => e instanceof VirtError && e.code === 'INVALID_ARG' && e.path === '/domain/metadata/scheduling/ha/@policy' && /sometimes/.test(e.message));
});

test('restarts only active domains of the host with policy restart, never one being migrated', () => {
  const policies: Record<string, 'restart' | 'none'> = { d1: 'restart', d2: 'none', d3: 'restart', d4: 'restart', d5: 'restart', d6: 'restart' };
  const domains: DomainOnHost[] = [
    running('d1', 'c'),
    running('d2', 'c'),
    running('d3', 'c', { migration: { fromHost: 'c', toHost: 'a', since: '', sourceStopped: false, targetStarted: false }, migrating: true }),
    running('d4', 'a'),
    { uuid: 'd5', defined: true, ...lifecycle({ state: 'shutoff', reason: 'UNKNOWN', hostId: 'c' }) },
    running('d6', 'c', { state: 'paused', reason: 'USER' }),
  ];
  assert.deepEqual(haCandidates('c', domains, (u) => policies[u]!), ['d1', 'd6']);
});

test('a domain on a down host is shown unknown; elsewhere, or shut off, as it is', () => {
  const hosts: Record<string, HostFacts> = { a: host('a'), c: host('c', false) };
  assert.equal(presentedState(running('d', 'c'), (h) => hosts[h]), 'unknown');
  assert.equal(presentedState(running('d', 'a'), (h) => hosts[h]), 'running');
  assert.equal(presentedState(SHUTOFF, (h) => hosts[h]), 'shutoff');
});

test('a local copy is stale when the log places the domain elsewhere or fenced it here; never during its migration or when unknown', () => {
  assert.deepEqual(staleCopy(running('d', 'b'), 'c'), { movedTo: 'b', why: "it lives on host 'b' now" });
  assert.equal(staleCopy(running('d', 'c'), 'c'), undefined);
  assert.equal(staleCopy(undefined, 'c'), undefined);
  const fenced: DomainOnHost = { uuid: 'd', defined: true, ...lifecycle({ state: 'shutoff', reason: 'FAILED', lastError: fencedError('c', 'web-1', 'then') }) };
  assert.ok(staleCopy(fenced, 'c'));
  assert.equal(staleCopy(fenced, 'a'), undefined);
  const stoppedByUser: DomainOnHost = { uuid: 'd', defined: true, ...SHUTOFF };
  assert.equal(staleCopy(stoppedByUser, 'c'), undefined);
  const migrating = running('d', 'b', { migration: { fromHost: 'c', toHost: 'b', since: '', sourceStopped: false, targetStarted: true }, migrating: true });
  assert.equal(staleCopy(migrating, 'c'), undefined);
});
