/**
 * The scheduler's live inventory across a nats-server restart: it must keep
 * following the stream (found by the chaos suite: after a restart the
 * scheduler refused starts as "no host fits" on half-empty hosts until the
 * scheduler itself was restarted).
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
