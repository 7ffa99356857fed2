/**
 * Projections in KV against a real nats-server -js: the live projector, a
 * rebuild from zero, a pure fold of the stream and snapshot + tail loads all
 * agree after 10,000 mixed events; poison messages are reported and skipped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Projector, domainRef, hostRef, readBucket, type EventStore, type PoisonReport, type ProjectionDump } from '@virtflow/runtime';
import { decodeEvent, encodeEvent, foldDomain, projectDomains, projectHosts, reduceHost, subjects, VirtError, type AnyEvent, type HostState, type Sequenced } from '@virtflow/model';
import { World } from '../support/events.ts';
import { appendLog } from './append.ts';
import { startNats, type Nats } from './support.ts';

const withoutGeneration = ({ generation: _g, ...rest }: ProjectionDump) => rest;

/** The projections folded in memory from every message on the stream: the oracle for what KV must hold. */
async function foldStream(store: EventStore) {
  const items: Sequenced[] = [];
  const s = store.subscribe(subjects.all(), { from: 'all', onPoison: () => undefined });
  const last = (await store.jsm.streams.info(store.stream)).state.last_seq;
  for await (const d of s) {
    items.push({ seq: d.seq, event: d.event });
    if (d.seq >= last) s.stop();
  }
  return { domains: projectDomains(items), hosts: projectHosts(items), last, items };
}

describe('projector', () => {
  let nats: Nats;
  let store: EventStore;
  let projector: Projector;
  const poison: PoisonReport[] = [];
  const world = new World({ seed: 3, hosts: 8, domains: 120 });

  before(async () => {
    nats = await startNats();
    store = await nats.store({ snapshotEvery: 10 });
    projector = await Projector.open(await nats.connect(), { onPoison: (p) => poison.push(p), flushEveryMs: 20 });
    await projector.start();
  });
  after(async () => {
    await projector?.stop();
    await nats?.close();
  });

  it('after 10,000 mixed events the live projection equals one rebuilt from zero, and a fold of the stream', async (t) => {
    const log = world.take(10_000);
    let t0 = performance.now();
    const lap = (what: string) => {
      t.diagnostic(`${what}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      t0 = performance.now();
    };
    await appendLog(store, log.slice(0, 5_000), { batch: 3 });
    // Load every aggregate halfway: those with 10+ events get a snapshot, so the end state is snapshot + tail.
    const aggregates = [...world.uuids.map(domainRef), ...world.hostIds.map(hostRef)];
    await Promise.all(aggregates.map((a) => store.load(a)));
    await store.settle();
    await appendLog(store, log.slice(5_000), { batch: 1 });
    lap('10,000 appends and 128 loads');

    const last = await projector.caughtUp();
    assert.equal(last, 10_000);
    const reader = projector.reader();
    const live = await reader.dump();
    assert.equal(live.seq, 10_000);

    const oracle = await foldStream(store);
    const rowsLive = Object.fromEntries(Object.entries(live.domains).filter(([k]) => k.startsWith('uuid.')).map(([k, v]) => [k.slice(5), JSON.parse(v)]));
    assert.deepEqual(rowsLive, JSON.parse(JSON.stringify(projectDomains.toJSON(oracle.domains).domains)), 'KV rows = the pure fold');
    const hostsLive = Object.fromEntries(Object.entries(live.hosts).filter(([k]) => k.startsWith('host.')).map(([, v]) => [JSON.parse(v).hostId, JSON.parse(v)]));
    assert.deepEqual(hostsLive, JSON.parse(JSON.stringify(projectHosts.toJSON(oracle.hosts).hosts)), 'KV hosts = the pure fold');
    // The indexes say what the fold's indexes say.
    for (const [name, uuid] of oracle.domains.byName) assert.equal((await reader.domainByName(name))?.uuid, uuid);
    for (const [host, set] of oracle.domains.byHost) assert.deepEqual(await reader.domainsOnHost(host), [...set].sort());
    for (const [state, set] of oracle.domains.byState) assert.deepEqual(await reader.domainsInState(state), [...set].sort());
    const h1 = await reader.host('host1');
    assert.ok(h1 && h1.free.memoryKiB === h1.resources.memoryKiB - h1.used.memoryKiB);
    assert.deepEqual(await reader.hosts(), projectHosts.views(oracle.hosts).map((v) => JSON.parse(JSON.stringify(v))));
    const someUuid = [...oracle.hosts.lifecycles.keys()][0]!;
    assert.deepEqual(await reader.lifecycle(someUuid), JSON.parse(JSON.stringify(oracle.hosts.lifecycles.get(someUuid))));

    lap('live projection checked');
    const stats = await projector.rebuild();
    lap(`rebuild (${stats.keys} keys)`);
    assert.equal(stats.events, 10_000);
    assert.equal(stats.generation, 2);
    const rebuilt = await reader.dump();
    assert.equal(rebuilt.generation, 2);
    assert.deepEqual(withoutGeneration(rebuilt), withoutGeneration(live), 'rebuilt from zero = live');
    const old = await store.jsm.streams.info('KV_VIRT_DOMAINS_1').then(() => true, () => false);
    assert.equal(old, false, 'the old generation is dropped');
    // The same rebuild folded by two worker threads, each with its share of the aggregates.
    const split = await Projector.open(await nats.connect(), { prefix: 'SPLIT', durable: 'split', rebuildWorkers: 2 });
    const splitStats = await split.rebuild();
    assert.equal(splitStats.events, 10_000);
    assert.deepEqual(withoutGeneration(await split.reader().dump()), withoutGeneration(live), 'rebuilt by two workers = live');
    lap('rebuild with two worker threads');

    // Snapshot + tail = a full replay, for every aggregate: the replay folded here from the stream read above.
    const own = new Map<string, AnyEvent[]>();
    for (const it of oracle.items) {
      const e = it.event as AnyEvent;
      const k = e.subject.split('.').slice(2, 4).join('.');
      own.set(k, [...(own.get(k) ?? []), e]);
    }
    let fromSnapshot = 0;
    for (const a of aggregates) {
      const withSnap = await store.load(a);
      if (withSnap.fromSnapshot) fromSnapshot++;
      const events = own.get(`${a.kind}.${a.id}`) ?? [];
      const full = a.kind === 'domain' ? foldDomain(events, a.id) : events.reduce<HostState | undefined>((s, e) => reduceHost(s, e), undefined);
      assert.deepEqual(withSnap.state, full, `${a.kind} ${a.id}`);
      assert.equal(withSnap.version, events.at(-1)?.version ?? 0);
    }
    lap('128 snapshot + tail loads');
    assert.ok(fromSnapshot > aggregates.length / 2, `${fromSnapshot} of ${aggregates.length} loads started from a snapshot`);
    // And the store's own full replays agree, on a sample: through the literal subjects and through a wildcard consumer.
    const byConsumer = await nats.store({ read: 'consumer' });
    const bySubjects = await nats.store({ read: 'subjects' });
    for (const a of aggregates.slice(0, 12)) {
      const expected = (await store.load(a)).state;
      assert.deepEqual((await bySubjects.load(a, { snapshot: false })).state, expected);
      assert.deepEqual((await byConsumer.load(a, { snapshot: false })).state, expected);
      assert.deepEqual((await byConsumer.load(a)).state, expected);
    }
  });

  it('follows new events after a rebuild, and a new projector resumes from the buckets', async () => {
    await appendLog(store, world.take(500));
    await projector.caughtUp();
    await projector.stop();
    await appendLog(store, world.take(500));
    const second = await Projector.open(await nats.connect(), { onPoison: (p) => poison.push(p), flushEveryMs: 20 });
    await second.start();
    assert.equal(second.generation, 2, 'resumed the existing generation rather than rebuilding');
    await second.caughtUp();
    const resumed = await second.reader().dump();
    const oracle = await foldStream(store);
    assert.equal(resumed.seq, oracle.last);
    const rows = Object.fromEntries(Object.entries(resumed.domains).filter(([k]) => k.startsWith('uuid.')).map(([k, v]) => [k.slice(5), JSON.parse(v)]));
    assert.deepEqual(rows, JSON.parse(JSON.stringify(projectDomains.toJSON(oracle.domains).domains)));
    await second.stop();
    projector = second;
  });

  it('reports and skips poison messages without stopping', async () => {
    await projector.start();
    poison.length = 0;
    const reports: PoisonReport[] = [];
    const p = await Projector.open(await nats.connect(), { durable: 'poison-test', prefix: 'POISON', onPoison: (r) => reports.push(r), flushEveryMs: 10 });
    await p.start();
    const uuid = world.uuids[1]!;
    const enc = new TextEncoder();
    const good = world.take(1)[0]!;
    await appendLog(store, [good]);
    // An unknown type, a payload that is not JSON, a valid event on the wrong subject, a known type with bad data.
    await store.js.publish(subjects.domainEvent(uuid, 'DomainExploded'), enc.encode(JSON.stringify({ ...good, type: 'DomainExploded' })));
    await store.js.publish(subjects.domainEvent(uuid, 'DomainStarted'), enc.encode('{"id": "truncated'));
    await store.js.publish(subjects.domainEvent(uuid, good.subject.endsWith('.DomainStarted') ? 'DomainStopped' : 'DomainStarted'), encodeEvent(good));
    await store.js.publish(subjects.hostEvent('host1', 'HostUp'), enc.encode(JSON.stringify({ ...good, type: 'HostUp', data: { hostId: 42 } })));
    await appendLog(store, world.take(20));
    const last = await p.caughtUp();
    await projector.caughtUp(last);
    assert.equal(reports.length, 4, reports.map((r) => r.error.message).join('\n'));
    assert.deepEqual(reports.map((r) => r.where), ['projector', 'projector', 'projector', 'projector']);
    assert.match(reports[0]!.error.message, /unknown event type "DomainExploded"/);
    assert.match(reports[1]!.error.message, /not JSON/);
    assert.match(reports[2]!.error.message, /arrived on subject/);
    assert.ok(reports.every((r) => r.error instanceof VirtError));
    assert.equal(poison.length, 4, 'the main projector skipped them too');
    // Both went on past them to the same picture.
    const a = await projector.reader().dump();
    const b = await p.reader().dump();
    assert.equal(a.seq, last);
    assert.deepEqual(withoutGeneration(b), withoutGeneration(a));
    // The store's own reads skip them as well.
    const events = await store.events(domainRef(uuid));
    assert.ok(events.every((e) => !(e.event instanceof VirtError)));
    assert.equal(decodeEvent(enc.encode('{"id": "truncated'), 'x') instanceof VirtError, true);
    // A rebuild meets them again, reports them again, and ends where the live fold is.
    reports.length = 0;
    const again = await p.rebuild();
    assert.equal(again.poison, 4);
    assert.equal(reports.length, 4);
    assert.deepEqual(withoutGeneration(await p.reader().dump()), withoutGeneration(a));
    await p.stop();
    const poisonBuckets = await readBucket(store.nc, store.jsm, 'POISON_DOMAINS_2');
    assert.ok(poisonBuckets.size > 0);
  });
  // Last in this suite: it deletes the stream's last message.
  it('catches up when the stream\'s last message was deleted (its last_seq still names it)', async () => {
    await appendLog(store, world.take(10));
    const before = (await store.jsm.streams.info(store.stream)).state.last_seq;
    await projector.caughtUp(before);
    // An operator removes a poison message at the tail, then more is appended and removed again.
    await store.jsm.streams.deleteMessage(store.stream, before);
    const p = await Projector.open(await nats.connect(), { prefix: 'TAILGONE', onPoison: () => undefined, flushEveryMs: 20 });
    try {
      await p.start();
      // A new follower would wait for `before` until the timeout (5 s here, 60 s by default): it never comes.
      const reached = await p.caughtUp(undefined, 5_000);
      assert.equal(reached, before - 1);
      assert.equal(await projector.caughtUp(undefined, 5_000), before, 'the running projector had read it before it went');
    } finally {
      await p.stop();
    }
  });
});
