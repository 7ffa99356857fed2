/**
 * Optimistic concurrency and name uniqueness against a real nats-server -js:
 * two writers can never both win, the loser retries, and a name belongs to
 * one domain in the cluster.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConcurrencyError, NameTakenError, defineDomain, domainRef, undefineDomain, type EventStore } from '@virtflow/runtime';
import { VirtError, type DomainDefinedData } from '@virtflow/model';
import { domainXml } from '../support/events.ts';
import { startNats, type Nats } from './support.ts';

const def = (uuid: string, name: string): DomainDefinedData => ({ uuid, name, domainType: 'kvm', driver: 'qemu', xml: domainXml(name, uuid, 1048576) });

describe('event store: concurrency', () => {
  let nats: Nats;
  let a: EventStore;
  let b: EventStore;
  before(async () => {
    nats = await startNats();
    // Two stores on two connections: two writers that share nothing but the server.
    a = await nats.store();
    b = await nats.store();
  });
  after(async () => nats?.close());

  it('detects the server and picks the concurrency check it supports', async () => {
    const version = a.nc.info?.version ?? '';
    const [maj, min] = version.split('.').map(Number);
    assert.equal(a.mode, maj! > 2 || (maj === 2 && min! >= 11) ? 'subject-wildcard' : 'msg-id', `server ${version}`);
    if (a.mode === 'msg-id') {
      await assert.rejects(nats.store({ concurrency: 'subject-wildcard' }), (e: unknown) => e instanceof VirtError && e.code === 'CONFIG_UNSUPPORTED');
      const info = await a.jsm.streams.info(a.stream);
      assert.equal(info.config.duplicate_window, 3600e9, 'the duplicate window is an hour');
    }
  });

  it('two writers on one aggregate: exactly one wins, the loser gets a ConcurrencyError and retries after reloading', async () => {
    for (let round = 0; round < 20; round++) {
      const uuid = randomUUID();
      await a.append(domainRef(uuid), a.makeEvents([{ type: 'DomainDefined', data: def(uuid, `race-${round}`) }], 0), 0);
      const [la, lb] = await Promise.all([a.load(domainRef(uuid)), b.load(domainRef(uuid))]);
      assert.equal(la.version, 1);
      assert.equal(lb.version, 1);
      // Different event types on purpose: different subjects, which only the msg id (or the wildcard check) can arbitrate.
      const ea = a.makeEvents([{ type: 'DomainPlaced', data: { uuid, hostId: 'hostA', memoryKiB: 1048576, vcpus: 1 } }], 1);
      const eb = b.makeEvents([{ type: 'DomainRedefined', data: def(uuid, `race-${round}`) }], 1);
      const results = await Promise.allSettled(round % 2 ? [a.append(domainRef(uuid), ea, 1), b.append(domainRef(uuid), eb, 1)] : [b.append(domainRef(uuid), eb, 1), a.append(domainRef(uuid), ea, 1)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}: exactly one writer wins`);
      assert.ok(lost[0]!.reason instanceof ConcurrencyError, `round ${round}: the loser gets a ConcurrencyError, not ${String(lost[0]!.reason)}`);
      assert.equal(lost[0]!.reason.code, 'OPERATION_INVALID');
      assert.equal(lost[0]!.reason.path, `virt.evt.domain.${uuid}.*`);

      // The loser reloads and appends after the winner.
      const aWon = (round % 2 ? results[0] : results[1])!.status === 'fulfilled';
      const loser = aWon ? b : a;
      const reloaded = await loser.load(domainRef(uuid));
      assert.equal(reloaded.version, 2);
      const retry = aWon ? eb : ea;
      await loser.append(domainRef(uuid), loser.makeEvents([{ type: retry[0]!.type, data: retry[0]!.data } as never], 2), 2);

      const events = await a.events(domainRef(uuid));
      assert.deepEqual(events.map((e) => e.event.version), [1, 2, 3], 'versions 1, 2, 3: no version written twice');
      assert.deepEqual(new Set(events.slice(1).map((e) => e.event.type)), new Set(['DomainPlaced', 'DomainRedefined']));
    }
  });

  it('refuses an append at a version that is no longer the head, and one whose first event is not a creation', async () => {
    const uuid = randomUUID();
    await a.update(domainRef(uuid), () => [{ type: 'DomainDefined', data: def(uuid, 'stale') }]);
    await a.update(domainRef(uuid), () => [{ type: 'DomainPlaced', data: { uuid, hostId: 'h1', memoryKiB: 1024, vcpus: 1 } }]);
    const stale = b.makeEvents([{ type: 'DomainPlaced', data: { uuid, hostId: 'h2', memoryKiB: 1024, vcpus: 1 } }], 1);
    await assert.rejects(b.append(domainRef(uuid), stale, 1), (e: unknown) => e instanceof ConcurrencyError && e.actualVersion === 2);
    // Same type, same version as an event already stored: its own-subject sequence and its msg id both say no.
    const again = b.makeEvents([{ type: 'DomainPlaced', data: { uuid, hostId: 'h3', memoryKiB: 1024, vcpus: 1 } }], 1);
    await assert.rejects(b.append(domainRef(uuid), again, 1), ConcurrencyError);
    const other = randomUUID();
    const notFirst = a.makeEvents([{ type: 'DomainPlaced', data: { uuid: other, hostId: 'h1', memoryKiB: 1024, vcpus: 1 } }], 0);
    await assert.rejects(a.append(domainRef(other), notFirst, 0), (e: unknown) => e instanceof VirtError && e.code === 'OPERATION_INVALID');
    // Defining a uuid that already exists with expectedVersion 0 is a conflict, whichever store tries.
    const dup = b.makeEvents([{ type: 'DomainDefined', data: def(uuid, 'stale') }], 0);
    await assert.rejects(b.append(domainRef(uuid), dup, 0), ConcurrencyError);
    assert.equal((await a.load(domainRef(uuid))).version, 2);
  });

  it('a publish retried after its first attempt landed is not a conflict (the duplicate is our own event)', async () => {
    const uuid = randomUUID();
    const events = a.makeEvents([{ type: 'DomainDefined', data: def(uuid, 'retried') }], 0);
    await a.append(domainRef(uuid), events, 0);
    const r = await b.append(domainRef(uuid), events, 0);
    assert.equal(r.version, 1, 'the same event again is acknowledged as stored');
    assert.equal((await a.events(domainRef(uuid))).length, 1);
  });

  it('update(): 10 concurrent writers all get their event in, each version exactly once', async () => {
    const uuid = randomUUID();
    await a.update(domainRef(uuid), () => [{ type: 'DomainDefined', data: def(uuid, 'crowd') }]);
    const stores = [a, b];
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      stores[i % 2]!.update(domainRef(uuid), () => [{ type: 'DomainDeviceAttached', data: { uuid, path: `/domain/devices/disk[${i}]`, xml: '<disk/>', definition: domainXml('crowd', uuid, 1048576, 0, i) } }], { attempts: 50 })));
    assert.ok(results.some((r) => r.attempts > 1), 'some writers had to retry');
    const events = await a.events(domainRef(uuid));
    assert.deepEqual(events.map((e) => e.event.version), Array.from({ length: 11 }, (_, i) => i + 1));
    assert.deepEqual(new Set(events.slice(1).map((e) => (e.event.data as { path: string }).path)), new Set(Array.from({ length: 10 }, (_, i) => `/domain/devices/disk[${i}]`)));
  });

  it('a batch of events is appended in order with consecutive versions', async () => {
    const uuid = randomUUID();
    const r = await a.append(domainRef(uuid), a.makeEvents([
      { type: 'DomainDefined', data: def(uuid, 'batch') },
      { type: 'DomainPlaced', data: { uuid, hostId: 'h1', memoryKiB: 1048576, vcpus: 2 } },
      { type: 'DomainStarted', data: { uuid, hostId: 'h1', detail: 'BOOTED' } },
      { type: 'DomainSuspended', data: { uuid, hostId: 'h1', detail: 'PAUSED' } },
      { type: 'DomainResumed', data: { uuid, hostId: 'h1', detail: 'UNPAUSED' } },
      { type: 'DomainSuspended', data: { uuid, hostId: 'h1', detail: 'PAUSED' } },
    ], 0), 0);
    assert.equal(r.version, 6);
    assert.equal(r.seqs.length, 6);
    const l = await b.load(domainRef(uuid));
    assert.equal(l.version, 6);
    assert.equal(l.state?.state, 'paused');
    assert.equal(l.state?.hostId, 'h1');
  });
});

describe('event store: domain names', () => {
  let nats: Nats;
  let stores: EventStore[];
  before(async () => {
    nats = await startNats();
    stores = await Promise.all(Array.from({ length: 4 }, () => nats.store()));
  });
  after(async () => nats?.close());

  it('100 concurrent defines of one name leave exactly one domain', async () => {
    const uuids = Array.from({ length: 100 }, () => randomUUID());
    const results = await Promise.allSettled(uuids.map((u, i) => defineDomain(stores[i % stores.length]!, def(u, 'web'))));
    const won = uuids.filter((_, i) => results[i]!.status === 'fulfilled');
    assert.equal(won.length, 1, 'exactly one define succeeds');
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof NameTakenError, String(r.reason));
    const loser = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason as NameTakenError;
    assert.equal(loser.message, `Requested operation is not valid: domain 'web' already exists with uuid ${won[0]}`);
    assert.equal(await stores[0]!.nameOwner('web'), won[0]);
    // Only the winner has any event: the losers wrote nothing.
    const defined = await Promise.all(uuids.map((u) => stores[0]!.load(domainRef(u))));
    assert.deepEqual(defined.filter((l) => l.version > 0).map((l) => l.aggregate.id), won);
    assert.equal(defined.find((l) => l.version > 0)!.state?.name, 'web');
  });

  it('undefine releases the name; the next define of it succeeds, and only one of a new crowd gets it', async () => {
    const owner = (await stores[0]!.nameOwner('web'))!;
    await undefineDomain(stores[1]!, owner);
    assert.equal(await stores[0]!.nameOwner('web'), undefined);
    const uuids = Array.from({ length: 20 }, () => randomUUID());
    const results = await Promise.allSettled(uuids.map((u, i) => defineDomain(stores[i % stores.length]!, def(u, 'web'))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    // The original uuid can no longer take the name back.
    await assert.rejects(defineDomain(stores[2]!, def(owner, 'web')), NameTakenError);
  });

  it('redefining a domain under its own name keeps the claim; renaming by redefinition is refused and frees the new name', async () => {
    const uuid = randomUUID();
    await defineDomain(stores[0]!, def(uuid, 'db'));
    const again = await defineDomain(stores[1]!, def(uuid, 'db'));
    assert.equal(again.redefined, true);
    assert.equal(again.event.type, 'DomainRedefined');
    await assert.rejects(defineDomain(stores[2]!, def(uuid, 'db2')), (e: unknown) => e instanceof VirtError && /cannot rename/.test(e.message));
    assert.equal(await stores[0]!.nameOwner('db2'), undefined);
    assert.equal(await stores[0]!.nameOwner('db'), uuid);
  });

  it('a fresh define appends blind at version 0; one whose uuid holds events after all goes the checked way', async () => {
    const uuid = randomUUID();
    const first = await defineDomain(stores[0]!, def(uuid, 'fresh-1'), { fresh: true });
    assert.equal(first.version, 1);
    assert.equal(first.event.type, 'DomainDefined');
    assert.equal((await stores[1]!.load(domainRef(uuid))).state?.name, 'fresh-1');
    // Told "fresh" wrongly (the uuid is defined): the blind append is refused, and the checked path redefines.
    const again = await defineDomain(stores[1]!, def(uuid, 'fresh-1'), { fresh: true });
    assert.equal(again.redefined, true);
    assert.equal(again.version, 2);
    const events = await stores[2]!.events(domainRef(uuid));
    assert.deepEqual(events.map((e) => e.event.type), ['DomainDefined', 'DomainRedefined']);
    // A name another uuid holds is refused before anything is appended.
    const other = randomUUID();
    await assert.rejects(defineDomain(stores[0]!, def(other, 'fresh-1'), { fresh: true }), NameTakenError);
    assert.equal((await stores[0]!.load(domainRef(other))).version, 0);
  });
});

describe('event store: the msg-id check relies on a recent read', () => {
  let nats: Nats;
  before(async () => {
    nats = await startNats();
  });
  after(async () => nats?.close());

  it('an observation older than half the duplicate window is read again, not trusted', async (t) => {
    // A one-second window, so the race below outlives it.
    const a = await nats.store({ duplicateWindowMs: 1_000 });
    const b = await nats.store({ duplicateWindowMs: 1_000 });
    if (a.mode !== 'msg-id') return t.skip(`this server (${a.nc.info?.version}) checks the aggregate's wildcard itself`);
    const uuid = randomUUID();
    await a.update(domainRef(uuid), () => [{ type: 'DomainDefined', data: def(uuid, 'slow') }]);
    const seen = await a.load(domainRef(uuid));
    await b.update(domainRef(uuid), () => [{ type: 'DomainPlaced', data: { uuid, hostId: 'h1', memoryKiB: 1024, vcpus: 1 } }]);
    // B's msg id '@2' leaves the window; A still believes version 1.
    await new Promise((r) => setTimeout(r, 1_300));
    const late = a.makeEvents([{ type: 'DomainRedefined', data: def(uuid, 'slow') }], seen.version);
    await assert.rejects(a.append(domainRef(uuid), late, seen.version), (e: unknown) => e instanceof ConcurrencyError && e.reason === 'version' && e.actualVersion === 2);
    assert.deepEqual((await a.events(domainRef(uuid))).map((e) => e.event.version), [1, 2]);
  });
});
