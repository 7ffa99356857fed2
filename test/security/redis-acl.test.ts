/**
 * Redis with AUTH, for real: a redis-server loading the ACL file
 * redisAclFile() generates. Nobody gets in without a user; each service's user
 * reaches BullMQ's keys under the prefix only and no dangerous command; and
 * the parser and a client run a define job end to end under their own users
 * with nothing refused on the way (Redis's ACL LOG stays empty; the parser is
 * also its own NATS user, and nats-server logs no refusal either).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { bookwormQemuCaps, defaultRegistry, type JobResult } from '@virtflow/model';
import { EventStore, connectNats, inboxPrefix, natsServerConfig, redisAclFile, redisUrlFor, type NatsUser, type RedisUser } from '@virtflow/runtime';
import { ParserClient, startParser } from '@virtflow/parser';
import { startServers, type Servers } from '../harness/index.ts';
import { validXml } from '../parser/support.ts';

const pw = () => randomBytes(18).toString('base64url');
const USERS: RedisUser[] = [
  { user: 'admin', password: pw(), role: 'admin' },
  { user: 'parser', password: pw(), role: 'parser' },
  { user: 'scheduler', password: pw(), role: 'scheduler' },
  { user: 'client', password: pw(), role: 'client' },
];
/** Sends RESP commands on a fresh socket and returns what came back within a moment. */
async function raw(servers: Servers, commands: string): Promise<string> {
  const port = Number(new URL(servers.redisUrl).port);
  return new Promise((resolve, reject) => {
    const s = createConnection(port, '127.0.0.1', () => s.write(commands));
    let out = '';
    s.on('data', (d) => {
      out += d;
      if (out.split('\r\n').length > commands.split('\r\n').length - 1) (s.destroy(), resolve(out));
    });
    s.on('error', reject);
    setTimeout(() => (s.destroy(), resolve(out)), 5_000);
  });
}

const NATS_USERS: NatsUser[] = [
  { user: 'admin', password: pw(), role: 'admin' },
  { user: 'parser', password: pw(), role: 'parser' },
];
const url = (servers: Servers, user: string) => redisUrlFor(servers.redisUrl, USERS.find((u) => u.user === user)!);

describe('Redis ACL users per service (redis-server with the generated ACL file)', { timeout: 180_000 }, () => {
  let servers: Servers;
  const redis: Redis[] = [];
  const conn = (u: string) => {
    const r = new Redis(u, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    r.on('error', () => undefined);
    redis.push(r);
    return r;
  };

  before(async () => {
    // NATS with users too: the parser runs as its own NATS user (role `parser`), the operator provisions the stream.
    servers = await startServers({ redisAcl: redisAclFile({ users: USERS }), natsConfig: natsServerConfig({ users: NATS_USERS }) });
    const admin = await connectNats(servers.natsUrl, { user: 'admin', pass: NATS_USERS[0]!.password, inboxPrefix: inboxPrefix('admin') });
    await (await EventStore.open(admin)).close();
    await admin.close();
  });
  after(async () => {
    for (const r of redis) r.disconnect();
    await servers?.stop();
  });

  it('refuses a connection without a user or with a wrong password', async () => {
    // Raw RESP, so the server's own answers are what is checked.
    assert.match(await raw(servers, 'PING\r\nGET bull:x\r\n'), /^-NOAUTH.*\r\n-NOAUTH/s);
    assert.match(await raw(servers, `AUTH parser not-the-password\r\nPING\r\n`), /^-WRONGPASS.*\r\n-NOAUTH/s);
    assert.match(await raw(servers, `AUTH parser ${USERS[1]!.password}\r\nPING\r\n`), /^\+OK\r\n\+PONG/);
  });

  it("a service's user reaches BullMQ's keys only, and no dangerous command", async () => {
    const c = conn(url(servers, 'client'));
    await c.connect();
    assert.equal(await c.set('bull:virtflow.jobs:probe', '1'), 'OK');
    await assert.rejects(c.set('other:probe', '1'), /NOPERM/);
    // A client reaches the jobs queue, not the stages' or the scheduler's, and reads the dead letters only.
    await assert.rejects(c.set('bull:virtflow.schedule:probe', '1'), /NOPERM/);
    await assert.rejects(c.del('bull:virtflow.dead:1'), /NOPERM/);
    assert.equal(await c.get('bull:virtflow.dead:1'), null);
    const p = conn(url(servers, 'parser'));
    await p.connect();
    assert.equal(await p.set('bull:virtflow.schedule:probe', '1'), 'OK', 'a service reaches every queue under the prefix');
    await assert.rejects(c.get('virtflow:secret'), /NOPERM/);
    await assert.rejects(c.flushall(), /NOPERM/);
    await assert.rejects(c.config('GET', 'dir'), /NOPERM/);
    await assert.rejects(c.keys('*'), /NOPERM/);
    await assert.rejects(c.call('ACL', 'LIST'), /NOPERM/);
    // A script may not reach outside the prefix either.
    await assert.rejects(c.eval("return redis.call('GET', KEYS[1])", 1, 'other:probe'), /NOPERM|permission/i);
    assert.match(await c.info('server'), /redis_version/, 'INFO is granted: BullMQ reads the version from it');
  });

  it('the parser and a client run a define job end to end under their own users, nothing refused', async () => {
    const admin = conn(url(servers, 'admin'));
    await admin.connect();
    await admin.call('ACL', 'LOG', 'RESET');
    const nc = await connectNats(servers.natsUrl, { user: 'parser', pass: NATS_USERS[1]!.password, inboxPrefix: inboxPrefix('parser') });
    const store = await EventStore.open(nc);
    const parser = await startParser({ redisUrl: url(servers, 'parser'), store, caps: bookwormQemuCaps, registry: defaultRegistry(), concurrency: 4, attempts: 2, backoffMs: 50 });
    const client = new ParserClient(url(servers, 'client'), { attempts: 2, backoffMs: 50 });
    try {
      await client.ready();
      const outcomes = await Promise.all([0, 1, 2, 3].map((i) => client.run({ op: 'define', xml: validXml(1000 + i) }, 120_000)));
      for (const o of outcomes) assert.equal(o.ok, true, o.ok ? '' : o.error.message);
      assert.match((outcomes[0]!.ok && (outcomes[0]!.value as JobResult).xml) || '', /<name>vm-1000<\/name>/);
      // Not one command or key was refused on the way.
      assert.deepEqual(await admin.call('ACL', 'LOG'), []);
      // Nor by nats-server.
      assert.deepEqual(readFileSync(join(servers.dir, 'nats.log'), 'utf8').split('\n').filter((l) => / Violation - User "parser"/.test(l)), []);
    } finally {
      await client.close();
      await parser.close();
      await store.close();
      await nc.close();
    }
  });
});
