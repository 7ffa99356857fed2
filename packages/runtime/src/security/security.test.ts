import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadIntakeConfig, loadSecurityConfig } from '../config.ts';
import { NatsAuthError, createNkeyUser, inboxPrefix, natsServerConfig, permissionsFor } from './nats-auth.ts';
import { RedisAclError, redisAclFile, redisUrlFor } from './redis-acl.ts';

describe('security configuration', () => {
  it('reads VIRTFLOW_STORAGE_PATHS (colon-separated; unset: no restriction) and names a bad one', () => {
    assert.deepEqual(loadSecurityConfig({ VIRTFLOW_STORAGE_PATHS: '/srv/images:/var/lib/virtflow' }).storagePaths, ['/srv/images', '/var/lib/virtflow']);
    assert.equal(loadSecurityConfig({}).storagePaths, undefined);
    for (const bad of ['images', '/srv/../etc', ':']) {
      assert.throws(() => loadSecurityConfig({ VIRTFLOW_STORAGE_PATHS: bad }), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_STORAGE_PATHS', bad);
    }
  });

  it('reads the intake rate limit', () => {
    assert.deepEqual(loadIntakeConfig({}), { rate: 0, windowMs: 1000 });
    assert.deepEqual(loadIntakeConfig({ VIRTFLOW_INTAKE_RATE: '50', VIRTFLOW_INTAKE_WINDOW_MS: '2000' }), { rate: 50, windowMs: 2000 });
    assert.throws(() => loadIntakeConfig({ VIRTFLOW_INTAKE_RATE: 'lots' }), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_INTAKE_RATE');
  });
});

describe('nats-server configuration generator', () => {
  const users = [
    { user: 'agent-h1', password: 'a-long-password-1', role: 'agent', hostId: 'h1' },
    { user: 'client', password: 'a-long-password-2', role: 'client' },
  ] as const;

  it("holds an agent to its own host's command consumer, events and KV keys", () => {
    const p = permissionsFor(users[0]);
    assert.ok(p.publish.includes('$JS.API.CONSUMER.CREATE.VIRT_COMMANDS.agent-h1.virt.cmd.h1'));
    assert.ok(p.publish.includes('virt.evt.host.h1.*'));
    assert.ok(p.publish.includes('$KV.VIRT_COMMAND_RESULTS.h1.>'));
    assert.ok(p.publish.includes('$KV.VIRT_HEARTBEATS.h1'));
    assert.ok(!p.publish.some((s) => s.startsWith('virt.cmd')), 'an agent sends no command');
    assert.ok(!p.publish.includes('$JS.API.DIRECT.GET.VIRT_COMMANDS'), 'no read of the commands stream by sequence unless asked for');
    assert.ok(permissionsFor(users[0], { agentBacklogDirectGet: true }).publish.includes('$JS.API.DIRECT.GET.VIRT_COMMANDS'));
    assert.deepEqual(p.subscribe, [`${inboxPrefix('agent-h1')}.>`]);
  });

  it('gives a client no event or command subject to publish on', () => {
    const p = permissionsFor(users[1]);
    assert.ok(!p.publish.some((s) => s.startsWith('virt.') || s.startsWith('$KV.')));
  });

  it("grants every bucket's reads by `$KV.` subjects (a `KV_*` token is a name, not a wildcard) and no consumer of the commands", () => {
    for (const role of ['client', 'scheduler'] as const) {
      const p = permissionsFor({ user: 'u', password: 'a-long-password-3', role });
      assert.deepEqual(p.publish.filter((s) => /KV_\*/.test(s)), [], role);
      assert.ok(p.publish.includes('$JS.API.DIRECT.GET.*.$KV.>'), role);
      assert.ok(p.publish.includes('$JS.API.CONSUMER.CREATE.*.*.$KV.>'), role);
    }
    const deny = permissionsFor(users[1]).publishDeny ?? [];
    for (const s of ['$JS.API.CONSUMER.MSG.NEXT.VIRT_COMMANDS.*', '$JS.API.CONSUMER.DELETE.VIRT_COMMANDS.*', '$JS.ACK.VIRT_COMMANDS.>']) assert.ok(deny.includes(s), s);
  });

  it('writes one account with JetStream and each user', () => {
    const conf = natsServerConfig({ users });
    assert.match(conf, /VIRTFLOW \{\n\s+jetstream: enabled/);
    assert.match(conf, /user: "agent-h1", password: "a-long-password-1"/);
  });

  it('writes an nkey user with its public key only', () => {
    const k = createNkeyUser();
    assert.match(k.seed, /^SU/);
    const conf = natsServerConfig({ users: [{ user: 'agent-h9', nkey: k.publicKey, role: 'agent', hostId: 'h9' }] });
    assert.match(conf, new RegExp(`\\{ nkey: "${k.publicKey}", permissions`));
    assert.ok(!conf.includes(k.seed), 'the seed stays with the service');
    assert.ok(conf.includes('_INBOX_agent-h9.>'), "the label names the user's inbox");
  });

  it('reads the nkey seed file setting', () => {
    assert.deepEqual(loadSecurityConfig({ VIRTFLOW_NATS_USER: 'agent-h1', VIRTFLOW_NATS_NKEY_SEED_FILE: '/etc/virtflow/agent.nk' }).natsUser, { user: 'agent-h1', nkeySeedFile: '/etc/virtflow/agent.nk' });
    assert.throws(() => loadSecurityConfig({ VIRTFLOW_NATS_USER: 'a', VIRTFLOW_NATS_PASSWORD: 'p', VIRTFLOW_NATS_NKEY_SEED_FILE: '/x' }), (e: unknown) => e instanceof ConfigError && e.variable === 'VIRTFLOW_NATS_NKEY_SEED_FILE');
  });

  it('refuses bad users, naming where', () => {
    const bad = (u: object, path: string) => assert.throws(() => natsServerConfig({ users: [u as never] }), (e: unknown) => e instanceof NatsAuthError && e.path === path);
    bad({ user: 'a b', password: 'a-long-password', role: 'client' }, '/users[1]/user');
    bad({ user: 'x', password: 'short', role: 'client' }, '/users[1]/password');
    bad({ user: 'x', role: 'client' }, '/users[1]/password');
    bad({ user: 'x', nkey: 'UNOTAKEY', role: 'client' }, '/users[1]/nkey');
    bad({ user: 'x', password: 'a-long-password', role: 'agent' }, '/users[1]/hostId');
    bad({ user: 'x', password: 'a-long-password', role: 'client', hostId: 'h1' }, '/users[1]/hostId');
    assert.throws(() => natsServerConfig({ users: [users[1], users[1]] }), (e: unknown) => e instanceof NatsAuthError && e.path === '/users[2]/user');
  });
});

describe('Redis ACL file generator', () => {
  it('switches the default user off and holds services to the queue prefix', () => {
    const acl = redisAclFile({ users: [{ user: 'parser', password: 'p-long-password', role: 'parser' }], prefix: 'vf' });
    assert.equal(acl.split('\n')[0], 'user default off resetkeys -@all');
    assert.match(acl, /^user parser on >p-long-password resetchannels ~vf:\* -@all \+@all -@dangerous \+info$/m);
    assert.match(redisAclFile({ users: [{ user: 'c', password: 'c-long-password', role: 'client' }] }), /^user c on >c-long-password resetchannels ~bull:virtflow\.jobs:\* ~bull:virtflow\.dead:meta %R~bull:virtflow\.dead:\* /m);
  });

  it('refuses a password that cannot go into a URL, naming where', () => {
    assert.throws(() => redisAclFile({ users: [{ user: 'p', password: 'has space in it', role: 'parser' }] }), (e: unknown) => e instanceof RedisAclError && e.path === '/users[1]/password');
  });

  it('puts the user into the URL', () => {
    assert.equal(redisUrlFor('redis://127.0.0.1:6379', { user: 'parser', password: 'p-long-password', role: 'parser' }), 'redis://parser:p-long-password@127.0.0.1:6379');
  });
});
