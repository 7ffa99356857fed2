/**
 * A fresh cluster whose services all start at once: every process creates the
 * event stream's snapshot bucket, the heartbeats and the command results on
 * its first connection. Crossing creations must not fail any of them (nats.js
 * lets the server's "subjects overlap" through; runtime/kv-create.ts retries).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { EventStore, ensureCommandStream, openCommandResults, openHeartbeats } from '@virtflow/runtime';
import { startNats, type Nats } from './support.ts';

describe('opening buckets from many processes at once', { timeout: 120_000 }, () => {
  let nats: Nats;
  before(async () => {
    nats = await startNats();
  });
  after(async () => nats?.close());

  it('30 connections opening the store, the commands, heartbeats and results as agents do, together on a fresh server, all succeed', async () => {
    const conns = await Promise.all(Array.from({ length: 30 }, () => nats.connect()));
    const opened = await Promise.allSettled(conns.map(async (nc, i) => {
      // An agent's order (host-agent agent.ts #start), with the store opened beside it.
      const store = EventStore.open(nc, { onPoison: () => undefined });
      await ensureCommandStream(await jetstreamManager(nc));
      await openCommandResults(nc);
      // Agents and schedulers open the heartbeats with different max ages (the agent's 3 beats, the scheduler's default).
      await openHeartbeats(nc, i % 2 ? { ttlMs: 3_000 } : {});
      return Boolean(await store);
    }));
    const failed = opened.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason));
    assert.deepEqual(failed, []);
  });
});
