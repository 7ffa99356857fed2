/**
 * Poison on an aggregate's own subjects (anyone allowed to publish domain
 * events can put junk on `virt.evt.domain.<uuid>.<type>`) must not block that
 * aggregate: appends are checked against the subjects' real last sequences,
 * poison included, while the version counts only valid events; the poison is
 * reported, never folded, and two writers still never both win a version.
 * Run with both read strategies (literal subjects: 2.9's; a consumer on the
 * wildcard: 2.10+'s), in whichever concurrency mode this server supports.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { after, before, describe, it } from 'node:test';
import { ConcurrencyError, defineDomain, domainRef, versionMsgId, type EventStore, type EventDraft } from '@virtflow/runtime';
import { makeEvent, subjects, type DomainDefinedData, type EventType } from '@virtflow/model';
import { domainXml } from '../support/events.ts';
import { startNats, type Nats } from './support.ts';

const def = (uuid: string, name: string): DomainDefinedData => ({ uuid, name, domainType: 'kvm', driver: 'qemu', xml: domainXml(name, uuid, 1048576) });
const placed = (uuid: string, hostId = 'h1'): EventDraft => ({ type: 'DomainPlaced', data: { uuid, hostId, memoryKiB: 1048576, vcpus: 1 } });

/** Junk of several shapes on one of the domain's subjects: not JSON, a foreign envelope, a well-formed event that cannot be version 1. */
async function poison(js: JetStreamClient, uuid: string, type: string, i = 0): Promise<void> {
  const subject = subjects.domainEvent(uuid, type);
  const shapes = [
    'not json at all {',
    JSON.stringify({ id: `x-${i}`, type: 'DomainStarted', subject, version: -1, at: 'now', data: null }),
    JSON.stringify(makeEvent('DomainStarted', { uuid, hostId: 'h1', detail: 'BOOTED' } as never, { aggregateVersion: 1, correlationId: 'c', causationId: 'c', now: () => new Date(), newId: randomUUID })),
  ];
  const data = shapes[i % shapes.length]!;
  // A forged event is only well-formed on its own subject.
  await js.publish(i % shapes.length === 2 ? subjects.domainEvent(uuid, 'DomainStarted') : subject, data);
}

for (const read of ['subjects', 'consumer'] as const) {
  describe(`event store: poison on a domain's own subjects (read: ${read})`, () => {
    let nats: Nats;
    let a: EventStore;
    let b: EventStore;
    let js: JetStreamClient;
    const reported: Array<{ seq: number; subject: string }> = [];
    before(async () => {
      nats = await startNats();
      a = await nats.store({ read, onPoison: (p) => void reported.push({ seq: p.seq, subject: p.subject }) });
      b = await nats.store({ read, onPoison: () => undefined });
      js = jetstream(await nats.connect());
    });
    after(async () => nats?.close());

    it('defines and updates a domain whose subjects hold junk; reads it back without the junk, which is reported', async () => {
      const uuid = randomUUID();
      for (const [i, t] of (['DomainDefined', 'DomainPlaced', 'DomainStarted', 'Nonsense'] as const).entries()) await poison(js, uuid, t, i);
      const d = await defineDomain(a, def(uuid, `p-${read}-1`));
      assert.equal(d.version, 1);
      await a.update(domainRef(uuid), () => [placed(uuid)]);
      await a.update(domainRef(uuid), () => [{ type: 'DomainStarted', data: { uuid, hostId: 'h1', detail: 'BOOTED' } }]);
      const events = await b.events(domainRef(uuid));
      assert.deepEqual(events.map((e) => `${e.event.version} ${e.event.type}`), ['1 DomainDefined', '2 DomainPlaced', '3 DomainStarted']);
      const loaded = await b.load(domainRef(uuid), { snapshot: false });
      assert.equal(loaded.version, 3);
      assert.equal(loaded.state?.state, 'running');
      const mine = reported.filter((r) => r.subject.includes(uuid));
      assert.ok(mine.length >= 3, `each junk message on a known type is reported (${JSON.stringify(mine)})`);
    });

    it('a fresh store creates blind over junk (append at version 0 without a load)', async () => {
      const uuid = randomUUID();
      await poison(js, uuid, 'DomainDefined', 0);
      const fresh = await nats.store({ read });
      const r = await fresh.append(domainRef(uuid), fresh.makeEvents([{ type: 'DomainDefined', data: def(uuid, `p-${read}-2`) }], 0), 0);
      assert.equal(r.version, 1);
      // ... and a second creation is still refused.
      await assert.rejects(b.append(domainRef(uuid), b.makeEvents([{ type: 'DomainDefined', data: def(uuid, `p-${read}-2b`) }], 0), 0), ConcurrencyError);
      assert.deepEqual((await b.events(domainRef(uuid))).map((e) => e.event.type), ['DomainDefined']);
    });

    it('junk that lands between a load and its append costs a retry, not the domain', async () => {
      const uuid = randomUUID();
      await defineDomain(a, def(uuid, `p-${read}-3`));
      let calls = 0;
      const r = await a.update(domainRef(uuid), async () => {
        if (calls++ === 0) await poison(js, uuid, 'DomainPlaced', 0);
        return [placed(uuid)];
      });
      assert.equal(r.version, 2);
      assert.deepEqual((await b.events(domainRef(uuid))).map((e) => e.event.type), ['DomainDefined', 'DomainPlaced']);
    });

    it('junk holding the msg id of the next versions does not take those versions', async () => {
      const uuid = randomUUID();
      await defineDomain(a, def(uuid, `p-${read}-5`));
      // Anyone may set Nats-Msg-Id: junk claims the ids of versions 2 and 3 for the stream's duplicate window.
      await js.publish(subjects.domainEvent(uuid, 'DomainPlaced'), 'not json {', { msgID: versionMsgId(domainRef(uuid), 2) });
      const forged = makeEvent('DomainDefined', def(randomUUID(), 'elsewhere') as never, { aggregateVersion: 1, correlationId: 'c', causationId: 'c', now: () => new Date(), newId: randomUUID });
      await js.publish(forged.subject, JSON.stringify(forged), { msgID: versionMsgId(domainRef(uuid), 3) });
      await a.update(domainRef(uuid), () => [placed(uuid)]);
      // Two writers racing for version 3: still exactly one wins.
      const [la, lb] = await Promise.all([a.load(domainRef(uuid)), b.load(domainRef(uuid))]);
      assert.equal(la.version, 2);
      const results = await Promise.allSettled([
        a.append(domainRef(uuid), a.makeEvents([placed(uuid, 'ha')], 2), 2),
        b.append(domainRef(uuid), b.makeEvents([{ type: 'DomainRedefined', data: def(uuid, `p-${read}-5`) }], lb.version), lb.version),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results.map((r) => r.status === 'rejected' ? String(r.reason) : 'ok')));
      assert.ok(results.some((r) => r.status === 'rejected' && r.reason instanceof ConcurrencyError));
      assert.deepEqual((await b.events(domainRef(uuid))).map((e) => e.event.version), [1, 2, 3]);
      assert.ok(reported.some((r) => r.subject === subjects.domainEvent(uuid, 'DomainPlaced')), 'the msg-id squatter is reported');
    });

    it('two writers racing after junk: exactly one wins each version', async () => {
      const uuid = randomUUID();
      await poison(js, uuid, 'DomainDefined', 0);
      await poison(js, uuid, 'DomainPlaced', 1);
      // Creation: both saw version 0 (over junk), both try.
      await Promise.all([a.load(domainRef(uuid)), b.load(domainRef(uuid))]);
      const created = await Promise.allSettled([
        a.append(domainRef(uuid), a.makeEvents([{ type: 'DomainDefined', data: def(uuid, `p-${read}-4a`) }], 0), 0),
        b.append(domainRef(uuid), b.makeEvents([{ type: 'DomainDefined', data: def(uuid, `p-${read}-4b`) }], 0), 0),
      ]);
      assert.equal(created.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(created.map((r) => r.status)));
      assert.ok(created.some((r) => r.status === 'rejected' && r.reason instanceof ConcurrencyError));
      // Then version after version, with fresh junk on the contested subjects before each round.
      const types: readonly EventType[] = ['DomainPlaced', 'DomainStarted'];
      for (let round = 0; round < 6; round++) {
        await poison(js, uuid, types[round % 2]!, round);
        const [la, lb] = await Promise.all([a.load(domainRef(uuid)), b.load(domainRef(uuid))]);
        assert.equal(la.version, lb.version);
        const v = la.version;
        // Different types on purpose: the msg-id check, not the own-subject one, must catch these.
        const ea = a.makeEvents([placed(uuid, `a${round}`)], v);
        const eb = b.makeEvents([{ type: 'DomainRedefined', data: def(uuid, `p-${read}-4a`) }], v);
        const results = await Promise.allSettled(round % 2 ? [a.append(domainRef(uuid), ea, v), b.append(domainRef(uuid), eb, v)] : [b.append(domainRef(uuid), eb, v), a.append(domainRef(uuid), ea, v)]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: ${JSON.stringify(results.map((r) => r.status))}`);
        assert.ok(results.some((r) => r.status === 'rejected' && r.reason instanceof ConcurrencyError), `round ${round}: the loser gets a ConcurrencyError`);
      }
      const versions = (await a.events(domainRef(uuid))).map((e) => e.event.version);
      assert.deepEqual(versions, [1, 2, 3, 4, 5, 6, 7]);
    });
  });
}
