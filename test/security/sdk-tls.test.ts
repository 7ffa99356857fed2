/**
 * Every client of a secured cluster: nats-server with the generated users over
 * TLS (client certificates verified), redis-server with the generated ACL over
 * TLS. The parser and the scheduler run as processes (main.ts) under their own
 * users from VIRTFLOW_*; one agent runs here under its own. The SDK, given its
 * settings as options, and the CLI, given them in the environment, define,
 * start, read and follow a domain as the `client` user — nothing refused on
 * the way — while what a client must not do is refused, and a wrong CA, an
 * unreadable PEM or a user without a password fail naming the variable.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { isVirtError, subjects } from '@virtflow/model';
import { connect, type ConnectOptions, type VirtflowClient } from '@virtflow/client';
import {
  EventStore, connectNats, ensureCommandStream, loadSecurityConfig, natsSecurityOptions, natsServerConfig, openCommandResults, openHeartbeats,
  redisAclFile, redisSecurityOptions, redisUrlFor, type NatsUser, type RedisUser,
} from '@virtflow/runtime';
import { Agent, createTestHypervisor } from '@virtflow/host-agent';
import { startServers, type Servers } from '../harness/index.ts';
import { children } from '../support/children.ts';
import { killAll as killParsers, spawnParser, type ParserProcess } from '../parser/support.ts';
import { killAll as killCli, virtflow } from '../cli/support.ts';
import { makeCerts, redisHasTls, type Certs } from './certs.ts';

const TIMEOUT = 120_000;
const SCHEDULER_MAIN = fileURLToPath(new URL('../../services/scheduler/src/main.ts', import.meta.url));
const pw = () => randomBytes(18).toString('base64url');

const NATS: Record<'admin' | 'parser' | 'scheduler' | 'client' | 'agent', NatsUser> = {
  admin: { user: 'admin', password: pw(), role: 'admin' },
  parser: { user: 'parser', password: pw(), role: 'parser' },
  scheduler: { user: 'scheduler', password: pw(), role: 'scheduler' },
  client: { user: 'client', password: pw(), role: 'client' },
  agent: { user: 'agent-n1', password: pw(), role: 'agent', hostId: 'n1' },
};
const REDIS: Record<'admin' | 'parser' | 'scheduler' | 'client', RedisUser> = {
  admin: { user: 'admin', password: pw(), role: 'admin' },
  parser: { user: 'parser', password: pw(), role: 'parser' },
  scheduler: { user: 'scheduler', password: pw(), role: 'scheduler' },
  client: { user: 'client', password: pw(), role: 'client' },
};

const xml = (name: string) => `<domain type='test'><name>${name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>`;

/** Permission violations nats-server logged for a user. */
function violations(servers: Servers, user: string): string[] {
  return readFileSync(join(servers.dir, 'nats.log'), 'utf8').split('\n').filter((l) => / Violation - User "/.test(l) && l.includes(`User "${user}", Subject`));
}

const spawned = children();

/** The scheduler process (main.ts) with `env`; resolves once it says it is ready. */
async function spawnScheduler(env: Record<string, string>): Promise<{ child: ChildProcess; lines: string[]; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCHEDULER_MAIN], { env: { ...process.env, VIRTFLOW_HTTP_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  spawned.add(child);
  const lines: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => (spawned.delete(child), r(code))));
  for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  return { child, lines, exited };
}

async function untilReady(p: { child: ChildProcess; lines: string[] }, timeoutMs = TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!p.lines.some((l) => l.includes('virtflow-scheduler ready'))) {
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`scheduler not ready: ${p.lines.slice(-5).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the SDK, the CLI and the scheduler on a cluster with users and TLS', { timeout: 8 * TIMEOUT }, () => {
  const redisTls = redisHasTls();
  let certs: Certs;
  let servers: Servers;
  let admin: NatsConnection;
  let agentNc: NatsConnection | undefined;
  let agent: Agent | undefined;
  let parser: ParserProcess | undefined;
  let scheduler: Awaited<ReturnType<typeof spawnScheduler>> | undefined;
  let vf: VirtflowClient | undefined;

  const redisUrl = (u: keyof typeof REDIS) => redisUrlFor(servers.redisUrl, REDIS[u]);
  /** A service's or the CLI's environment: its users, the CA, and the client certificate NATS asks for. */
  const envOf = (nats: keyof typeof NATS, redis: keyof typeof REDIS): Record<string, string> => ({
    VIRTFLOW_NATS_URL: servers.natsUrl, VIRTFLOW_REDIS_URL: redisUrl(redis),
    VIRTFLOW_NATS_USER: NATS[nats].user, VIRTFLOW_NATS_PASSWORD: NATS[nats].password!,
    VIRTFLOW_NATS_TLS_CA: certs.ca, VIRTFLOW_NATS_TLS_CERT: certs.clientCert, VIRTFLOW_NATS_TLS_KEY: certs.clientKey,
    ...(redisTls ? { VIRTFLOW_REDIS_TLS_CA: certs.ca } : {}),
  });
  /** The SDK's settings as explicit options (no environment at all). */
  const sdkOptions = (): ConnectOptions => ({
    env: {}, redis: redisUrl('client'), nats: servers.natsUrl, timeoutMs: 90_000, connectTimeoutMs: 10_000,
    natsUser: { user: NATS.client.user, password: NATS.client.password! },
    natsTls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    ...(redisTls ? { redisTls: { ca: certs.ca } } : {}),
  });
  const redisAdmin = async () => {
    const r = new Redis(redisUrl('admin'), { ...redisSecurityOptions(loadSecurityConfig(redisTls ? { VIRTFLOW_REDIS_TLS_CA: certs.ca } : {})), lazyConnect: true, maxRetriesPerRequest: 1 });
    await r.connect();
    return r;
  };

  before(async () => {
    certs = makeCerts();
    servers = await startServers({
      natsConfig: natsServerConfig({ users: Object.values(NATS), tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.ca, verifyClients: true } }),
      redisAcl: redisAclFile({ users: Object.values(REDIS) }),
      ...(redisTls ? { redisTls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.ca } } : {}),
    });
    // The operator provisions streams and buckets; the services and clients only look them up.
    admin = await connectNats(servers.natsUrl, natsSecurityOptions(loadSecurityConfig(envOf('admin', 'admin'))));
    await (await EventStore.open(admin, { onPoison: () => undefined })).close();
    await ensureCommandStream(await jetstreamManager(admin));
    await openCommandResults(admin);
    await openHeartbeats(admin, { ttlMs: 1_500 });
    // One agent, in this process, under its own user.
    agentNc = await connectNats(servers.natsUrl, natsSecurityOptions(loadSecurityConfig(envOf('agent', 'client'))));
    const astore = await EventStore.open(agentNc, { onPoison: () => undefined });
    agent = await Agent.start({ hostId: 'n1', nc: agentNc, store: astore, hypervisor: createTestHypervisor({ cpus: 8, memoryKiB: 16 * 1024 * 1024, guestShutdownMs: 50 }), heartbeatMs: 500 });
    // The parser and the scheduler as processes, from VIRTFLOW_* alone.
    const [p, s] = await Promise.all([
      spawnParser(servers, envOf('parser', 'parser')),
      spawnScheduler({ ...envOf('scheduler', 'scheduler'), VIRTFLOW_HOST_ID: 'sched' }),
    ]);
    parser = p;
    scheduler = s;
    await untilReady(scheduler);
  }, { timeout: 4 * TIMEOUT });

  after(async () => {
    await vf?.close().catch(() => undefined);
    await killCli();
    await killParsers();
    await spawned.killAll();
    await agent?.stop().catch(() => undefined);
    await agentNc?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await servers?.stop();
    certs?.remove();
  });

  it('the SDK as the client user: define, read, start through the scheduler, follow with a durable subscription — nothing refused', async () => {
    const r0 = await redisAdmin();
    try {
      await r0.call('ACL', 'LOG', 'RESET');
    } finally {
      await r0.quit();
    }
    vf = await connect(sdkOptions());
    const defined = await vf.define(xml('tls-1'), { key: 'tls-define-1' });
    assert.equal(defined.version, 1);
    assert.match(defined.xml, /<name>tls-1<\/name>/);
    const d = await vf.get('tls-1');
    assert.deepEqual([d.uuid, d.state], [defined.uuid, 'shutoff']);

    // A durable subscription (its own consumer `sub-tls-app`, acked as the loop goes on).
    const first = await vf.events.subscribe({ domain: 'tls-1', name: 'tls-app', from: 'all', types: ['DomainDefined', 'DomainStarted', 'DomainStopped'] });
    const started = await vf.start('tls-1');
    assert.equal(started.hostId, 'n1');
    const seen: string[] = [];
    for await (const { event } of first) {
      seen.push(event.type);
      if (event.type === 'DomainStarted') first.stop();
    }
    assert.deepEqual(seen, ['DomainDefined', 'DomainStarted']);
    assert.deepEqual([(await vf.get('tls-1')).state, (await vf.get('tls-1')).hostId], ['running', 'n1']);
    await vf.destroy('tls-1');
    // The same name resumes after the last event handled.
    const again = await vf.events.subscribe({ domain: 'tls-1', name: 'tls-app', types: ['DomainDefined', 'DomainStarted', 'DomainStopped'] });
    for await (const { event } of again) {
      assert.equal(event.type, 'DomainStopped');
      again.stop();
    }
    assert.deepEqual((await vf.list({ state: 'all' })).map((x) => x.name), ['tls-1']);
    assert.deepEqual((await vf.hosts.list()).map((h) => [h.hostId, h.up]), [['n1', true]]);
    assert.deepEqual((await vf.jobs.list()).map((j) => `${j.queue}:${j.op}:${j.state}`).sort(), [
      'virtflow.jobs:define:completed', 'virtflow.jobs:destroy:completed', 'virtflow.jobs:start:completed',
      'virtflow.schedule:destroy:completed', 'virtflow.schedule:start:completed',
    ]);

    // Not one refusal: by nats-server for the client, the parser or the scheduler; by Redis for anyone.
    for (const u of ['client', 'parser', 'scheduler']) assert.deepEqual(violations(servers, u), [], `nats-server refused ${u}`);
    const r = await redisAdmin();
    try {
      assert.deepEqual(await r.call('ACL', 'LOG'), []);
      // The job carries the client's Redis user: the parser's per-client rate limit counts it.
      assert.equal(JSON.parse((await r.hget('bull:virtflow.jobs:tls-define-1', 'data'))!).client, 'client');
    } finally {
      await r.quit();
    }
  });

  it('the CLI reads the same settings from the environment', async () => {
    const env = envOf('client', 'client');
    const list = await virtflow(undefined, ['list', '--all', '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as Array<{ name: string; state: string }>).map((x) => [x.name, x.state]), [['tls-1', 'shutoff']]);
    const info = await virtflow(undefined, ['dominfo', 'tls-1'], { env });
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /Name:\s+tls-1/);
    const start = await virtflow(undefined, ['start', 'tls-1'], { env });
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /Domain 'tls-1' started/);
    for (const u of ['client', 'parser', 'scheduler']) assert.deepEqual(violations(servers, u), [], `nats-server refused ${u}`);
  });

  it('the client user is refused what a client must not do', async () => {
    assert.ok(vf, 'connected (first test)');
    const body = JSON.stringify({ forged: true });
    await assert.rejects(vf.store.js.publish(subjects.hostEvent('n1', 'HostRegistered'), body), /Permissions Violation/i);
    await assert.rejects(vf.store.js.publish(subjects.domainEvent(randomUUID(), 'DomainStarted'), body), /Permissions Violation/i);
    await assert.rejects(vf.store.js.publish(subjects.hostCommands('n1'), body), /Permissions Violation/i);
    await assert.rejects(vf.store.jsm.streams.delete('VIRT_EVENTS'), /Permissions Violation/i);
    // Redis: it reads the scheduler's queue (a lifecycle job's result) but writes none of it.
    const c = new Redis(redisUrl('client'), { ...redisSecurityOptions(loadSecurityConfig(redisTls ? { VIRTFLOW_REDIS_TLS_CA: certs.ca } : {})), lazyConnect: true, maxRetriesPerRequest: 0 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      assert.ok(Number(await c.zcard('bull:virtflow.schedule:completed')) >= 1);
      await assert.rejects(c.zadd('bull:virtflow.schedule:completed', 0, 'forged'), /NOPERM/);
      await assert.rejects(c.hset('bull:virtflow.schedule:meta', 'paused', '1'), /NOPERM/);
      await assert.rejects(c.set('bull:virtflow.policy:x', '1'), /NOPERM/);
    } finally {
      // QUIT, not a cut socket: a TLS socket cut right after a reply may report the server's alert with nobody listening.
      await c.quit();
    }
  });

  it('a wrong CA, an unreadable PEM, a refused or incomplete user: errors that name the variable', async () => {
    const wrongNatsCa = connect({ ...sdkOptions(), natsTls: { ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey } });
    await assert.rejects(wrongNatsCa, (e: unknown) => isVirtError(e) && e.path === 'VIRTFLOW_NATS_TLS_CA' && /TLS: .*not signed by the CA in VIRTFLOW_NATS_TLS_CA/.test(e.message));
    if (redisTls) {
      await assert.rejects(connect({ ...sdkOptions(), redisTls: { ca: certs.otherCa } }), (e: unknown) => isVirtError(e) && e.path === 'VIRTFLOW_REDIS_TLS_CA' && /certificate/.test(e.message));
    }
    await assert.rejects(connect({ ...sdkOptions(), natsTls: { ca: '/nonexistent/ca.pem' } }), (e: unknown) => isVirtError(e) && e.code === 'INVALID_ARG' && e.path === 'VIRTFLOW_NATS_TLS_CA' && /cannot read '\/nonexistent\/ca.pem'/.test(e.message));
    await assert.rejects(connect({ ...sdkOptions(), natsUser: { user: 'client', password: 'not-the-password' } }), (e: unknown) => isVirtError(e) && e.path === 'VIRTFLOW_NATS_USER');
    // From the environment, as the CLI gives it: a user without a password.
    const { natsUser: _, ...noUser } = sdkOptions();
    await assert.rejects(connect({ ...noUser, env: { VIRTFLOW_NATS_USER: 'client' } }), (e: unknown) => isVirtError(e) && e.code === 'INVALID_ARG' && e.path === 'VIRTFLOW_NATS_PASSWORD');
    // No password in any message.
    await assert.rejects(connect({ ...sdkOptions(), redis: redisUrlFor(servers.redisUrl, { ...REDIS.client, password: 'wrong-password-123' }) }), (e: unknown) => isVirtError(e) && e.path === 'VIRTFLOW_REDIS_URL' && !e.message.includes('wrong-password-123'));

    const cli = await virtflow(undefined, ['list', '--all'], { env: { ...envOf('client', 'client'), VIRTFLOW_NATS_TLS_CA: certs.otherCa } });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /VIRTFLOW_NATS_TLS_CA/);
    const noKey = await virtflow(undefined, ['list'], { env: { ...envOf('client', 'client'), VIRTFLOW_NATS_TLS_KEY: '' } });
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /error: .*VIRTFLOW_NATS_TLS_KEY/);
  });

  it('the scheduler process stops at once on an unreadable PEM, naming the variable', async () => {
    const p = await spawnScheduler({ ...envOf('scheduler', 'scheduler'), VIRTFLOW_NATS_TLS_CA: '/nonexistent/ca.pem' });
    assert.equal(await p.exited, 2);
    assert.ok(p.lines.some((l) => /VIRTFLOW_NATS_TLS_CA: cannot read '\/nonexistent\/ca.pem'/.test(l)), p.lines.join(' | '));
  });
});
