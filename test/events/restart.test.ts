/**
 * nats-server killed (SIGKILL) mid-write and restarted on the same port and
 * storage folder: no acknowledged event is lost, no version is written twice,
 * and the projector catches up to a picture equal to a fold of the stream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConcurrencyError, aggregateOfEvent } from '@virtflow/runtime';
import { projectDomains, projectHosts, subjects, type AnyEvent, type Sequenced } from '@virtflow/model';
import { World, byAggregate } from '../support/events.ts';
import { startProjectorRig, type ProjectorRig } from './support.ts';

describe('nats-server crash and restart', () => {
  let rig: ProjectorRig;
  const errors: unknown[] = [];
  before(async () => (rig = await startProjectorRig({ store: { timeoutMs: 2_000 }, projector: { flushEveryMs: 20, onError: (e) => errors.push(e) } })));
  after(() => rig?.close());

  it('loses no acknowledged event across a SIGKILL, and the projector catches up', async (t) => {
    const { nats, store, projector } = rig;
    const world = new World({ seed: 5, hosts: 6, domains: 120 });
    const log = world.take(4_000);
    const acked = new Set<string>();
    let retries = 0;
    /** Appends one aggregate's events in order; a failed append is retried as it was (a retry of a stored event is recognised). */
    const writeAggregate = async (events: AnyEvent[]) => {
      for (let i = 0; i < events.length; i += 2) {
        const slice = events.slice(i, i + 2);
        for (;;) {
          try {
            await store.append(aggregateOfEvent(slice[0]!), slice, slice[0]!.version - 1);
            for (const e of slice) acked.add(e.id);
            break;
          } catch (e) {
            if (e instanceof ConcurrencyError) throw e;
            retries++;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    };
    const writing = Promise.all([...byAggregate(log).values()].map(writeAggregate));
    // Kill the server once a third of the log is in.
    while (acked.size < 1_300) await new Promise((r) => setTimeout(r, 5));
    const before = acked.size;
    const projectedAtKill = projector.seq;
    await nats.servers.restartNats({ signal: 'SIGKILL', downMs: 300 });
    await writing;
    t.diagnostic(`killed with ${before} events acknowledged and ${projectedAtKill} projected; ${retries} appends retried; projector recovered from ${errors.length} errors`);
    assert.ok(retries > 0, 'some appends failed while the server was down and were retried');
    assert.ok(before < log.length);

    // Every acknowledged event is in the stream, once, at its version.
    const items: Sequenced[] = [];
    const seen = new Map<string, number>();
    const last = (await store.jsm.streams.info(store.stream)).state.last_seq;
    const s = store.subscribe(subjects.all(), { from: 'all' });
    for await (const d of s) {
      items.push({ seq: d.seq, event: d.event });
      seen.set(d.event.id, (seen.get(d.event.id) ?? 0) + 1);
      if (d.seq >= last) s.stop();
    }
    assert.equal(acked.size, log.length);
    for (const id of acked) assert.equal(seen.get(id), 1, `acknowledged event ${id} is stored exactly once`);
    assert.equal(items.length, log.length);
    const versions = new Map<string, number[]>();
    for (const it of items) {
      const e = it.event as AnyEvent;
      const k = e.subject.split('.').slice(0, 4).join('.');
      versions.set(k, [...(versions.get(k) ?? []), e.version]);
    }
    for (const [k, v] of versions) assert.deepEqual(v, v.map((_, i) => i + 1), `${k}: versions 1..n in order`);

    // The projector rode out the restart and reflects the whole stream.
    await projector.caughtUp(last, 60_000);
    t.diagnostic(`projector re-followed ${projector.resyncCount} times after a gap in deliveries`);
    const dump = await projector.reader().dump();
    assert.equal(dump.seq, last);
    const rows = Object.fromEntries(Object.entries(dump.domains).filter(([k]) => k.startsWith('uuid.')).map(([k, v]) => [k.slice(5), JSON.parse(v)]));
    assert.deepEqual(rows, JSON.parse(JSON.stringify(projectDomains.toJSON(projectDomains(items)).domains)));
    const hosts = Object.fromEntries(Object.entries(dump.hosts).filter(([k]) => k.startsWith('host.')).map(([, v]) => [JSON.parse(v).hostId, JSON.parse(v)]));
    assert.deepEqual(hosts, JSON.parse(JSON.stringify(projectHosts.toJSON(projectHosts(items)).hosts)));
  });
});
