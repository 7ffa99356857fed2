/**
 * Subscriptions against a real nats-server -js: durable subscribers resume
 * exactly where the last one stopped; starts by sequence, time or 'new'.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { domainRef, type EventStore, type PoisonReport } from '@virtflow/runtime';
import { subjects } from '@virtflow/model';
import { World } from '../support/events.ts';
import { appendLog } from './append.ts';
import { startNats, type Nats } from './support.ts';

describe('event store: subscriptions', () => {
  let nats: Nats;
  let store: EventStore;
  const world = new World({ seed: 11, hosts: 4, domains: 40 });
  before(async () => {
    nats = await startNats();
    store = await nats.store();
  });
  after(async () => nats?.close());

  it('a durable subscriber that disconnects and resumes gets every event exactly once, in order', async () => {
    const handled: Array<{ seq: number; id: string }> = [];
    const writing = (async () => {
      for (let i = 0; i < 6; i++) {
        await appendLog(store, world.take(150));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // Subscriber 1 stops itself after 200 events (stop(): the current one counts as handled).
    {
      const s = (await nats.store()).subscribe(subjects.all(), { durable: 'audit', from: 'all', batch: 64 });
      for await (const d of s) {
        handled.push({ seq: d.seq, id: d.event.id });
        if (handled.length === 200) s.stop();
      }
    }
    // Subscriber 2, on another connection, acknowledges one explicitly and breaks out of the loop.
    {
      const st = await nats.store();
      const s = st.subscribe(subjects.all(), { durable: 'audit', batch: 64 });
      for await (const d of s) {
        handled.push({ seq: d.seq, id: d.event.id });
        if (handled.length === 450) {
          d.ack();
          break;
        }
      }
      await st.nc.close();
    }
    // Subscriber 3's handler fails on its third event: that event was not handled and must come again.
    {
      const s = (await nats.store()).subscribe(subjects.all(), { durable: 'audit', batch: 64 });
      let n = 0;
      await assert.rejects((async () => {
        for await (const d of s) {
          if (++n === 3) throw new Error('handler failed');
          handled.push({ seq: d.seq, id: d.event.id });
        }
      })(), /handler failed/);
    }
    await writing;
    // Subscriber 4 drains what is left.
    const last = (await store.jsm.streams.info(store.stream)).state.last_seq;
    {
      const s = (await nats.store()).subscribe(subjects.all(), { durable: 'audit', batch: 64 });
      for await (const d of s) {
        handled.push({ seq: d.seq, id: d.event.id });
        if (d.seq === last) s.stop();
      }
    }
    const all = await readAll(store);
    assert.equal(all.length, 900);
    assert.deepEqual(handled.map((h) => h.seq), all.map((e) => e.seq), 'every event once, in stream order');
    assert.deepEqual(handled.map((h) => h.id), all.map((e) => e.id));
  });

  it('starts at a stream sequence, at a time, or with new events only', async () => {
    const info = await store.jsm.streams.info(store.stream);
    const fromSeq = info.state.last_seq - 9;
    const got: number[] = [];
    const bySeq = store.subscribe(subjects.all(), { from: fromSeq });
    for await (const d of bySeq) {
      got.push(d.seq);
      if (d.seq === info.state.last_seq) bySeq.stop();
    }
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => fromSeq + i));

    const t = new Date();
    await new Promise((r) => setTimeout(r, 20));
    const later = world.take(5);
    const fresh = store.subscribe(subjects.all(), { from: 'new' });
    const byTime = store.subscribe(subjects.all(), { from: t });
    const collect = async (s: typeof fresh, n: number) => {
      const ids: string[] = [];
      for await (const d of s) {
        ids.push(d.event.id);
        if (ids.length === n) s.stop();
      }
      return ids;
    };
    const pFresh = collect(fresh, 5);
    const pTime = collect(byTime, 5);
    await new Promise((r) => setTimeout(r, 200));
    await appendLog(store, later);
    assert.deepEqual(new Set(await pTime), new Set(later.map((e) => e.id)));
    assert.deepEqual(new Set(await pFresh), new Set(later.map((e) => e.id)));
  });

  it('a filter follows one aggregate; poison messages on it are reported and skipped', async () => {
    const uuid = world.uuids[0]!;
    const reports: PoisonReport[] = [];
    const st = await nats.store({ onPoison: (p) => reports.push(p) });
    const head = await st.load(domainRef(uuid));
    const s = st.subscribe(subjects.domain(uuid), { from: 'new', durable: 'one-domain' });
    const seen: string[] = [];
    const done = (async () => {
      for await (const d of s) {
        seen.push(d.event.type);
        if (d.event.type === 'DomainUndefined' || seen.length === 3) s.stop();
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await st.js.publish(subjects.domainEvent(uuid, 'DomainExploded'), new TextEncoder().encode('{"type":"DomainExploded"}'));
    const next = world.domains.get(uuid)?.defined ? 'DomainDeviceAttached' : 'DomainDefined';
    const data = next === 'DomainDefined'
      ? { uuid, name: 'vm-0', domainType: 'kvm', driver: 'qemu', xml: '<domain/>' }
      : { uuid, path: '/domain/devices/disk[9]', xml: '<disk/>', definition: '<domain/>' };
    await st.append(domainRef(uuid), st.makeEvents([{ type: next, data } as never], head.version), head.version);
    await new Promise((r) => setTimeout(r, 300));
    s.stop();
    await done;
    assert.deepEqual(seen, [next]);
    assert.equal(reports.length, 1);
    assert.match(reports[0]!.error.message, /unknown event type "DomainExploded"/);
    assert.equal(reports[0]!.where, 'subscription one-domain');
  });
});

async function readAll(store: EventStore): Promise<Array<{ seq: number; id: string }>> {
  const out: Array<{ seq: number; id: string }> = [];
  const s = store.subscribe(subjects.all(), { from: 'all' });
  const last = (await store.jsm.streams.info(store.stream)).state.last_seq;
  for await (const d of s) {
    out.push({ seq: d.seq, id: d.event.id });
    if (d.seq >= last) s.stop();
  }
  return out;
}
