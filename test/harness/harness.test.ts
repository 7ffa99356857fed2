import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { existsSync } from 'node:fs';
import { startServers, type Servers } from './index.ts';

describe('test harness', () => {
  let servers: Servers;
  before(async () => {
    servers = await startServers();
  });
  after(async () => {
    const dir = servers.dir;
    await servers.stop();
    assert.equal(existsSync(dir), false, 'the temporary folder is removed');
  });

  it('starts a private redis-server that answers PING', async () => {
    assert.match(servers.redisUrl, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(servers.redisUrl, 'redis://127.0.0.1:6379', 'never the machine-wide server');
    const redis = new Redis(servers.redisUrl, { lazyConnect: true });
    await redis.connect();
    assert.equal(await redis.ping(), 'PONG');
    await redis.quit();
  });

  it('starts a private nats-server with JetStream: publish and read back', async () => {
    assert.doesNotMatch(servers.natsUrl, /:4222$/);
    const nc = await connect({ servers: servers.natsUrl });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HARNESS', subjects: ['harness.>'] });
    const js = jetstream(nc);
    const ack = await js.publish('harness.hello', new TextEncoder().encode('hi'));
    assert.equal(ack.seq, 1);
    const msg = await jsm.streams.getMessage('HARNESS', { seq: 1 });
    assert.equal(msg?.subject, 'harness.hello');
    assert.equal(new TextDecoder().decode(msg?.data), 'hi');
    await nc.close();
  });
});
