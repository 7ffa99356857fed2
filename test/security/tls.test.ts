/**
 * TLS for NATS and Redis by configuration (VIRTFLOW_NATS_TLS_*, VIRTFLOW_REDIS_TLS_*),
 * with certificates made at test time: without the CA a connection fails, with
 * it (and, where the server asks, a client certificate) it succeeds.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Redis, type RedisOptions } from 'ioredis';
import { bookwormQemuCaps, defaultRegistry } from '@virtflow/model';
import { ParserClient, startParser } from '@virtflow/parser';
import { ConfigError, EventStore, connectNats, loadSecurityConfig, natsSecurityOptions, natsServerConfig, redisSecurityOptions, type NatsUser } from '@virtflow/runtime';
import { startServers, type Servers } from '../harness/index.ts';
import { makeCerts, type Certs } from './certs.ts';

const AGENT: NatsUser = { user: 'agent-t1', password: randomUUID(), role: 'agent', hostId: 't1' };

describe('TLS by configuration', { timeout: 120_000 }, () => {
  let certs: Certs;
  before(() => {
    certs = makeCerts();
  });
  after(() => certs?.remove());

  it('reads VIRTFLOW_*_TLS_* and names a bad variable', () => {
    const sec = loadSecurityConfig({ VIRTFLOW_NATS_TLS_CA: certs.ca, VIRTFLOW_REDIS_TLS_CA: certs.ca, VIRTFLOW_REDIS_TLS_CERT: certs.clientCert, VIRTFLOW_REDIS_TLS_KEY: certs.clientKey });
    assert.deepEqual(sec.natsTls, { ca: certs.ca });
    assert.equal(sec.redisTls?.cert, certs.clientCert);
    assert.throws(() => loadSecurityConfig({ VIRTFLOW_NATS_TLS_CERT: certs.clientCert }), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_NATS_TLS_KEY');
    assert.throws(() => loadSecurityConfig({ VIRTFLOW_REDIS_TLS_CA: 'ca.pem' }), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_REDIS_TLS_CA');
    assert.throws(() => natsSecurityOptions(loadSecurityConfig({ VIRTFLOW_NATS_TLS_CA: '/nonexistent/ca.pem' })), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_NATS_TLS_CA');
    assert.throws(() => loadSecurityConfig({ VIRTFLOW_NATS_USER: 'x' }), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_NATS_PASSWORD');
  });

  describe('NATS (client certificates verified)', () => {
    let servers: Servers;
    before(async () => {
      servers = await startServers({
        redis: false,
        natsConfig: natsServerConfig({ users: [AGENT], tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.ca, verifyClients: true } }),
      });
    });
    after(async () => servers?.stop());

    const env = (extra: Record<string, string>) => ({ VIRTFLOW_NATS_USER: AGENT.user, VIRTFLOW_NATS_PASSWORD: AGENT.password, ...extra });
    const tryConnect = (e: Record<string, string>) => connectNats(servers.natsUrl, { ...natsSecurityOptions(loadSecurityConfig(env(e))), maxReconnectAttempts: 0, timeout: 5_000 });

    it('connects with the CA and a client certificate, and works', async () => {
      const nc = await tryConnect({ VIRTFLOW_NATS_TLS_CA: certs.ca, VIRTFLOW_NATS_TLS_CERT: certs.clientCert, VIRTFLOW_NATS_TLS_KEY: certs.clientKey });
      try {
        assert.ok(nc.info?.tls_required, 'the server requires TLS');
        await nc.flush();
      } finally {
        await nc.close();
      }
    });

    it('fails without the CA (the server certificate is not trusted), with another CA, without TLS, or without a client certificate', async () => {
      await assert.rejects(tryConnect({ VIRTFLOW_NATS_TLS_CERT: certs.clientCert, VIRTFLOW_NATS_TLS_KEY: certs.clientKey }), /verify the first certificate/);
      await assert.rejects(tryConnect({ VIRTFLOW_NATS_TLS_CA: certs.otherCa, VIRTFLOW_NATS_TLS_CERT: certs.clientCert, VIRTFLOW_NATS_TLS_KEY: certs.clientKey }), /verify the first certificate/);
      // nats.js upgrades to TLS when the server requires it: with no configuration it cannot trust the server either.
      await assert.rejects(tryConnect({}), /certificate/);
      // The server drops a client that shows no certificate.
      await assert.rejects(tryConnect({ VIRTFLOW_NATS_TLS_CA: certs.ca }), /timeout|certificate|closed|reset/i);
    });
  });

  describe('Redis', () => {
    const builtIn = redisHasTls();
    let servers: Servers | undefined;
    before(async () => {
      if (builtIn) servers = await startServers({ redisTls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.ca } });
    });
    after(async () => servers?.stop());

    const ping = async (url: string, opts: RedisOptions) => {
      const r = new Redis(url, { ...opts, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 5_000 });
      let cause: Error | undefined;
      r.on('error', (e: Error) => (cause ??= e));
      try {
        await r.connect();
        return await r.ping();
      } catch (e) {
        // ioredis reports the TLS failure as an error event, then "Connection is closed".
        throw cause ?? e;
      } finally {
        r.disconnect();
      }
    };

    it('connects over TLS with the CA', { skip: !builtIn && "Debian's redis-server was built without TLS" }, async () => {
      const sec = loadSecurityConfig({ VIRTFLOW_REDIS_TLS_CA: certs.ca });
      assert.equal(await ping(servers!.redisUrl, redisSecurityOptions(sec)), 'PONG');
      assert.match(servers!.redisUrl, /^rediss:/);
    });

    it('the parser and a client run a define job over TLS (their redisOptions)', { skip: !builtIn && "Debian's redis-server was built without TLS" }, async () => {
      const redisOptions = redisSecurityOptions(loadSecurityConfig({ VIRTFLOW_REDIS_TLS_CA: certs.ca, VIRTFLOW_REDIS_TLS_CERT: certs.clientCert, VIRTFLOW_REDIS_TLS_KEY: certs.clientKey }));
      const nc = await connectNats(servers!.natsUrl);
      const store = await EventStore.open(nc);
      const parser = await startParser({ redisUrl: servers!.redisUrl, redisOptions, store, caps: bookwormQemuCaps, registry: defaultRegistry(), concurrency: 2, attempts: 2, backoffMs: 50 });
      const client = new ParserClient(servers!.redisUrl, { redisOptions, attempts: 2, backoffMs: 50 });
      try {
        await client.ready();
        const o = await client.run({ op: 'define', xml: "<domain type='test'><name>tls-vm</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>" }, 60_000);
        assert.equal(o.ok, true, o.ok ? '' : o.error.message);
      } finally {
        await client.close();
        await parser.close();
        await store.close();
        await nc.close();
      }
    });

    it('fails without the CA, with another CA, or without TLS', { skip: !builtIn && "Debian's redis-server was built without TLS" }, async () => {
      await assert.rejects(ping(servers!.redisUrl, {}), /self-signed certificate/);
      await assert.rejects(ping(servers!.redisUrl, redisSecurityOptions(loadSecurityConfig({ VIRTFLOW_REDIS_TLS_CA: certs.otherCa }))), /self-signed certificate/);
      // Plain RESP on the TLS port: the server hangs up.
      await assert.rejects(ping(servers!.redisUrl.replace(/^rediss:/, 'redis:'), {}), /ECONNRESET|closed/);
    });
  });
});

/**
 * Whether redis-server has TLS compiled in: one that has asks for the CA when
 * given --tls-port alone; one that has not calls the option a bad directive.
 */
function redisHasTls(): boolean {
  const r = spawnSync('redis-server', ['--port', '0', '--tls-port', '1'], { encoding: 'utf8', timeout: 10_000 });
  return /tls-ca-cert|Failed to configure TLS/i.test(`${r.stdout}${r.stderr}`);
}
