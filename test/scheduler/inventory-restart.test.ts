/**
 * The scheduler's live inventory across a nats-server restart: it must keep
 * following the stream (found by the chaos suite: after a restart the
 * scheduler refused starts as "no host fits" on half-empty hosts until the
 * scheduler itself was restarted); and on a stream whose last message was
 * deleted (JetStream's last_seq still names it: open() used to wait for it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { EventStore, connectNats, defineDomain } from '@virtflow/runtime';
import { LiveInventory } from '@virtflow/scheduler';
import { startServers, type Servers } from '../harness/index.ts';

const def = (name: string) => {
  const uuid = randomUUID();
  return { uuid, name, domainType: 'test', driver: 'test', xml: `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid></domain>` };
};

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('live inventory across a nats-server restart', { timeout: 180_000 }, () => {
  let servers: Servers;
  let nc: NatsConnection;
  let store: EventStore;
  before(async () => {
    servers = await startServers({ redis: false });
    nc = await connectNats(servers.natsUrl);
    store = await EventStore.open(nc);
  });
  after(async () => {
    await store?.close();
    await nc?.close();
    await servers?.stop();
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`keeps following after a ${signal} restart, folding each event once`, async () => {
      const seen = new Map<number, number>();
      const inv = await LiveInventory.open(store, { onEvent: (_e, seq) => void seen.set(seq, (seen.get(seq) ?? 0) + 1) });
      try {
        await defineDomain(store, def(`before-${signal}`));
        await servers.restartNats({ signal, downMs: 500 });
        // Appends retry until the restarted server answers.
        for (let i = 0; i < 3; i++) await appendOne(store, `after-${signal}-${i}`);
        const last = (await store.jsm.streams.info(store.stream)).state.last_seq;
        await until(`the inventory to reach sequence ${last} (at ${inv.seq})`, () => inv.seq >= last);
        assert.equal(inv.failure, undefined);
        assert.deepEqual([...seen.values()].filter((n) => n !== 1), [], 'an event folded twice');
      } finally {
        await inv.close();
      }
    });
  }
});

describe('live inventory on a stream whose last message was deleted', { timeout: 60_000 }, () => {
  it('opens and answers caughtUp() (last_seq names the deleted message, which no follower reads)', async () => {
    const servers = await startServers({ redis: false });
    const nc = await connectNats(servers.natsUrl);
    const store = await EventStore.open(nc);
    try {
      await defineDomain(store, def('kept'));
      await defineDomain(store, def('removed'));
      const last = (await store.jsm.streams.info(store.stream)).state.last_seq;
      // An operator removes the message at the tail (a poison message, say).
      await store.jsm.streams.deleteMessage(store.stream, last);
      // Before: open() waited for `last` with no timeout, so the scheduler never started.
      const inv = await Promise.race([LiveInventory.open(store), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('LiveInventory.open did not resolve in 10 s')), 10_000))]);
      try {
        assert.equal(inv.seq, last - 1);
        assert.equal(await inv.caughtUp(5_000), true);
        await defineDomain(store, def('after'));
        assert.equal(await inv.caughtUp(5_000), true);
        assert.ok(inv.seq > last);
      } finally {
        await inv.close();
      }
    } finally {
      await store.close();
      await nc.close();
      await servers.stop();
    }
  });
});

async function appendOne(store: EventStore, name: string): Promise<void> {
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      await defineDomain(store, def(name));
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
