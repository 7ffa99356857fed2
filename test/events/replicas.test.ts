/**
 * VIRTFLOW_NATS_REPLICAS on a three-node JetStream cluster (the compose
 * file's): the event stream, the commands stream and every bucket are created
 * on three nodes, an existing one-copy stream is raised to three, a process
 * left at the default never lowers them, and with the stream leader's node
 * SIGKILLed the log still takes appends and loses nothing it acknowledged.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { EventStore, connectNats, defineDomain, domainRef, ensureCommandStream, loadConfig, openCommandResults, openHeartbeats } from '@virtflow/runtime';
import { startNatsCluster, type NatsCluster } from '../harness/nats-cluster.ts';

const xml = (name: string, uuid: string) => `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory unit='KiB'>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
const define = (store: EventStore, name: string) => {
  const uuid = randomUUID();
  return defineDomain(store, { uuid, name, domainType: 'test', driver: 'test', xml: xml(name, uuid) }, { correlationId: `t-${name}` }).then(() => uuid);
};

/** Retries while the cluster elects a new leader for the stream (a few seconds after a node is lost). */
async function eventually<T>(f: () => Promise<T>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe('replicas on a three-node JetStream cluster', { timeout: 180_000 }, () => {
  let cluster: NatsCluster;
  const conns: NatsConnection[] = [];
  const open = async (replicas?: number) => {
    const nc = await connectNats([...cluster.urls], replicas ? { replicas } : {});
    conns.push(nc);
    return nc;
  };
  before(async () => {
    cluster = await startNatsCluster(3);
  });
  after(async () => {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await cluster?.stop();
  });

  it('VIRTFLOW_NATS_REPLICAS is read, 1 to 5', () => {
    assert.equal(loadConfig({}).natsReplicas, 1);
    assert.equal(loadConfig({ VIRTFLOW_NATS_REPLICAS: '3' }).natsReplicas, 3);
    assert.throws(() => loadConfig({ VIRTFLOW_NATS_REPLICAS: '0' }), /VIRTFLOW_NATS_REPLICAS/);
  });

  it('creates every stream and bucket on three nodes, raises a one-copy stream, and a default client lowers nothing', async () => {
    // A stream made with one copy (a cluster grown later, or a first process left at the default) ...
    const one = await open();
    await EventStore.open(one, { onPoison: () => undefined });
    const jsm = await jetstreamManager(one);
    assert.equal((await jsm.streams.info('VIRT_EVENTS')).config.num_replicas, 1);
    // ... is raised when a process configured for three opens it; what is missing is created with three.
    const three = await open(3);
    await EventStore.open(three, { onPoison: () => undefined });
    await ensureCommandStream(await jetstreamManager(three));
    await openHeartbeats(three);
    await openCommandResults(three);
    for (const s of ['VIRT_EVENTS', 'KV_VIRT_SNAPSHOTS', 'VIRT_COMMANDS', 'KV_VIRT_HEARTBEATS', 'KV_VIRT_COMMAND_RESULTS']) {
      assert.equal((await jsm.streams.info(s)).config.num_replicas, 3, s);
    }
    // A client at the default opening them again leaves three.
    await EventStore.open(await open(), { onPoison: () => undefined });
    assert.equal((await jsm.streams.info('VIRT_EVENTS')).config.num_replicas, 3);
  });

  it("keeps taking appends and loses nothing acknowledged when the stream leader's node is killed", async () => {
    const nc = await open(3);
    const store = await EventStore.open(nc, { onPoison: () => undefined });
    const before = await Promise.all(Array.from({ length: 20 }, (_, i) => define(store, `before-${i}`)));
    const jsm = await jetstreamManager(nc);
    const leader = (await jsm.streams.info('VIRT_EVENTS')).cluster?.leader;
    assert.ok(leader && cluster.names.includes(leader), `a leader among ${cluster.names.join(', ')}: ${leader}`);
    await cluster.kill(leader);
    const afterKill = [];
    for (let i = 0; i < 20; i++) afterKill.push(await eventually(() => define(store, `after-${i}`)));
    const newLeader = (await eventually(() => jsm.streams.info('VIRT_EVENTS'))).cluster?.leader;
    assert.notEqual(newLeader, leader);
    for (const uuid of [...before, ...afterKill]) {
      const l = await eventually(() => store.load(domainRef(uuid)));
      assert.equal(l.state?.defined, true, uuid);
    }
  });
});
