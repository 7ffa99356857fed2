/**
 * A start sent with `known` (the domain as the scheduler wrote it with its
 * DomainPlaced, and its store's observation of that write): the agent starts
 * the domain without loading it, records DomainStarted at the next version,
 * and falls back to a reload when someone wrote the domain meanwhile.
 *
 * "Without loading" is measured on the wire: every JetStream direct get that
 * names the domain's subjects (a load on 2.9 reads each event type's last
 * message) is counted by a plain subscription on the server. The same count
 * for a start without `known` must be above zero, so the measure cannot pass
 * by seeing nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { reduceDomain, type DomainState, type StartKnown } from '@virtflow/model';
import { defineDomain, domainRef, isConcurrencyError, type EventStore } from '@virtflow/runtime';
import { startKnown } from '../../services/scheduler/src/start.ts';
import { KNOWN_MAX_AGE_MS } from '../../services/host-agent/src/execute.ts';
import { command, domainState, domainXml, events, startAgent, startNats, type Nats, type TestAgent } from './support.ts';

const HOST = 'node1';

describe('host agent: a start with the scheduler\'s known domain', { timeout: 120_000 }, () => {
  let nats: Nats;
  let a: TestAgent;
  /** The scheduler's store: its own connection, its own observations. */
  let sched: EventStore;
  let spy: NatsConnection;
  let sub: Subscription;
  const gets = new Map<string, number>();
  /** Direct gets of the domain seen so far (after a flush: everything the server routed before it has arrived). */
  const count = async (uuid: string) => {
    await spy.flush();
    return gets.get(uuid) ?? 0;
  };

  before(async () => {
    nats = await startNats();
    a = await startAgent(nats, HOST);
    sched = await nats.store();
    spy = await nats.connect();
    sub = spy.subscribe('$JS.API.DIRECT.GET.>', {
      callback: (_err, m) => {
        const text = `${m.subject} ${new TextDecoder().decode(m.data)}`;
        const hit = /virt\.evt\.domain\.([0-9a-f-]{36})/.exec(text);
        if (hit) gets.set(hit[1]!, (gets.get(hit[1]!) ?? 0) + 1);
      },
    });
    await spy.flush();
  });
  after(async () => {
    sub?.unsubscribe();
    await a?.agent.stop();
    await nats?.close();
  });

  /** Defined (as the parser would) and placed on HOST (as the scheduler does), by the scheduler's store; the known domain after it. */
  async function placed(name: string): Promise<{ uuid: string; known: StartKnown; state: DomainState }> {
    const uuid = randomUUID();
    await defineDomain(sched, { uuid, name, domainType: 'kvm', driver: 'qemu', xml: domainXml(name, uuid) });
    const loaded = await sched.load(domainRef(uuid));
    const ev = sched.makeEvents([{ type: 'DomainPlaced', data: { uuid, hostId: HOST, memoryKiB: 262_144, vcpus: 2 } }], loaded.version, { correlationId: `job-${name}` });
    await sched.append(domainRef(uuid), ev, loaded.version);
    const state = reduceDomain(loaded.state, ev[0]!)!;
    const known = startKnown(sched, HOST, uuid, { state, version: loaded.version + 1 });
    assert.ok(known, 'the scheduler has a known domain to send');
    assert.equal(known.version, 2);
    assert.equal(known.observation.version, 2);
    assert.ok(!('history' in known), 'no definition history on the wire');
    return { uuid, known, state };
  }

  /** Versions 1..n in order, and the types. */
  async function log(uuid: string): Promise<string[]> {
    const all = await events(sched, uuid);
    assert.deepEqual(all.map((e) => e.version), all.map((_, i) => i + 1), 'versions consecutive');
    return all.map((e) => e.type);
  }

  it('starts without reading the domain and records DomainStarted at the next version', async () => {
    const { uuid, known } = await placed('known-1');
    gets.delete(uuid);
    const r = await command(a.nc, HOST, 'start', uuid, { known });
    assert.equal(r.outcome.status, 'completed', JSON.stringify(r.outcome.error));
    assert.deepEqual(r.outcome.events?.map((e) => e.type), ['DomainStarted']);
    assert.equal(await count(uuid), 0, 'no direct get of the domain for the start');
    assert.deepEqual(await log(uuid), ['DomainDefined', 'DomainPlaced', 'DomainStarted']);
    const started = (await events(sched, uuid)).at(-1)!;
    assert.equal(started.version, 3);
    assert.equal(started.causationId, r.id);
    assert.equal(a.hv.boots(uuid), 1);
    assert.equal((await domainState(sched, uuid))?.state, 'running');

    // The partial state (no history) was not kept for the next command: a destroy reads the domain.
    gets.delete(uuid);
    const d = await command(a.nc, HOST, 'destroy', uuid, {});
    assert.equal(d.outcome.status, 'completed', JSON.stringify(d.outcome.error));
    assert.ok((await count(uuid)) > 0, 'the destroy after a known start loads the domain');
    assert.deepEqual(await log(uuid), ['DomainDefined', 'DomainPlaced', 'DomainStarted', 'DomainStopped']);
  });

  it('the same start without known reads the domain (the count sees loads)', async () => {
    const { uuid } = await placed('known-control');
    gets.delete(uuid);
    const r = await command(a.nc, HOST, 'start', uuid, {});
    assert.equal(r.outcome.status, 'completed', JSON.stringify(r.outcome.error));
    assert.ok((await count(uuid)) > 0, `a start without known reads the domain (${await count(uuid)} direct gets)`);
    assert.deepEqual(await log(uuid), ['DomainDefined', 'DomainPlaced', 'DomainStarted']);
  });

  it('a known domain placed on another host is not used: the start loads, and the log decides', async () => {
    const { uuid, known } = await placed('known-elsewhere');
    gets.delete(uuid);
    const r = await command(a.nc, HOST, 'start', uuid, { known: { ...known, hostId: 'node9' } });
    assert.equal(r.outcome.status, 'completed', JSON.stringify(r.outcome.error));
    assert.ok((await count(uuid)) > 0);
    assert.deepEqual(await log(uuid), ['DomainDefined', 'DomainPlaced', 'DomainStarted']);
  });

  it('a known older than KNOWN_MAX_AGE_MS (a command that waited in the queue) is not decided on: the start loads', async () => {
    const { uuid, known } = await placed('known-old');
    gets.delete(uuid);
    const old = { ...known, observation: { ...known.observation, at: Date.now() - KNOWN_MAX_AGE_MS - 1_000 } };
    const r = await command(a.nc, HOST, 'start', uuid, { known: old });
    assert.equal(r.outcome.status, 'completed', JSON.stringify(r.outcome.error));
    assert.ok((await count(uuid)) > 0, 'an old known is not used');
    assert.deepEqual(await log(uuid), ['DomainDefined', 'DomainPlaced', 'DomainStarted']);
  });

  it('a stale known (the domain written after the scheduler\'s observation): the append is refused, the agent reloads and records after the new event', async () => {
    const { uuid, known } = await placed('known-stale');
    // Another writer (the parser redefining it) between the placement and the start.
    const other = await nats.store();
    await other.update(domainRef(uuid), ({ state }) => [{
      type: 'DomainRedefined', data: { uuid, name: state!.name, domainType: 'kvm', driver: 'qemu', xml: domainXml(state!.name, uuid, 512) },
    }]);
    gets.delete(uuid);
    const r = await command(a.nc, HOST, 'start', uuid, { known });
    assert.equal(r.outcome.status, 'completed', JSON.stringify(r.outcome.error));
    assert.deepEqual(r.outcome.events?.map((e) => e.type), ['DomainStarted']);
    assert.ok((await count(uuid)) > 0, 'the conflict made the agent read the domain');
    assert.deepEqual(await log(uuid), ['DomainDefined', 'DomainPlaced', 'DomainRedefined', 'DomainStarted']);
    assert.equal((await events(sched, uuid)).filter((e) => e.type === 'DomainStarted').length, 1);
    assert.equal(a.hv.boots(uuid), 1);
    assert.equal((await domainState(sched, uuid))?.state, 'running');
  });

  it('a stale known the log no longer allows (stopped as failed meanwhile): the start places the domain here again, once', async () => {
    const { uuid, known } = await placed('known-given-up');
    // The scheduler gave the placement back (DomainStopped FAILED) after sending the command.
    await sched.update(domainRef(uuid), () => [{ type: 'DomainStopped', data: { uuid, hostId: HOST, detail: 'FAILED' } }]);
    const r = await command(a.nc, HOST, 'start', uuid, { known });
    assert.equal(r.outcome.status, 'completed', JSON.stringify(r.outcome.error));
    // As a start sent straight to a host with no placement: placed here, then started (the existing reload path).
    assert.deepEqual(r.outcome.events?.map((e) => e.type), ['DomainPlaced', 'DomainStarted']);
    assert.deepEqual(await log(uuid), ['DomainDefined', 'DomainPlaced', 'DomainStopped', 'DomainPlaced', 'DomainStarted']);
  });
});

describe('EventStore.observe / observation', { timeout: 60_000 }, () => {
  let nats: Nats;
  let s1: EventStore;
  let s2: EventStore;
  before(async () => {
    nats = await startNats();
    s1 = await nats.store();
    s2 = await nats.store();
  });
  after(async () => nats?.close());

  it('hands over an observation that lets an append skip its read; refuses malformed, future and older ones', async () => {
    const uuid = randomUUID();
    const ref = domainRef(uuid);
    assert.equal(s1.observation(ref), undefined);
    await defineDomain(s1, { uuid, name: 'obs-1', domainType: 'kvm', driver: 'qemu', xml: domainXml('obs-1', uuid) });
    const o = s1.observation(ref)!;
    assert.equal(o.version, 1);
    assert.ok(o.seq > 0 && o.at <= Date.now());
    // A copy: changing it does not change the store's.
    (o.typeSeqs as Record<string, number>).DomainDefined = 999_999;
    assert.notEqual(s1.observation(ref)!.typeSeqs.DomainDefined, 999_999);
    const good = s1.observation(ref)!;

    assert.equal(s2.observe(ref, { ...good, version: -1 }), false);
    assert.equal(s2.observe(ref, { ...good, seq: 1.5 }), false);
    assert.equal(s2.observe(ref, { ...good, at: Date.now() + 60_000 }), false, 'an observation from the future');
    assert.equal(s2.observe(ref, { ...good, typeSeqs: { DomainDefined: good.seq + 1 } }), false);
    assert.equal(s2.observe(ref, { ...good, typeSeqs: { 'a.b': 1 } }), false);
    assert.equal(s2.observation(ref), undefined);
    assert.equal(s2.observe(ref, good), true);
    assert.deepEqual(s2.observation(ref), good);
    // A lower version never replaces a higher one.
    assert.equal(s2.observe(ref, { version: 0, seq: 0, typeSeqs: {}, at: Date.now(), complete: true }), false);
    assert.equal(s2.observation(ref)!.version, 1);

    // s2 appends on the handed observation; then s1's (now stale) append at the same version is refused.
    const ev = s2.makeEvents([{ type: 'DomainPlaced', data: { uuid, hostId: 'h1', memoryKiB: 1024, vcpus: 1 } }], 1);
    const r = await s2.append(ref, ev, 1);
    assert.equal(r.version, 2);
    await assert.rejects(s1.append(ref, s1.makeEvents([{ type: 'DomainPlaced', data: { uuid, hostId: 'h2', memoryKiB: 1024, vcpus: 1 } }], 1), 1), (e: unknown) => isConcurrencyError(e));
    const all = await s1.events(ref);
    assert.deepEqual(all.map((e) => [e.event.version, e.event.type]), [[1, 'DomainDefined'], [2, 'DomainPlaced']]);
    assert.equal((all[1]!.event.data as { hostId: string }).hostId, 'h1');
  });

  it('a stale handed observation (someone wrote since) makes the append a ConcurrencyError, not a second event at the version', async () => {
    const uuid = randomUUID();
    const ref = domainRef(uuid);
    await defineDomain(s1, { uuid, name: 'obs-2', domainType: 'kvm', driver: 'qemu', xml: domainXml('obs-2', uuid) });
    const stale = s1.observation(ref)!;
    await s1.append(ref, s1.makeEvents([{ type: 'DomainPlaced', data: { uuid, hostId: 'h1', memoryKiB: 1024, vcpus: 1 } }], 1), 1);
    const s3 = await nats.store();
    assert.equal(s3.observe(ref, stale), true);
    await assert.rejects(s3.append(ref, s3.makeEvents([{ type: 'DomainPlaced', data: { uuid, hostId: 'h2', memoryKiB: 1024, vcpus: 1 } }], 1), 1), (e: unknown) => isConcurrencyError(e));
    assert.deepEqual((await s1.events(ref)).map((e) => e.event.version), [1, 2]);
  });
});
