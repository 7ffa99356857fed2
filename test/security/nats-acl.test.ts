/**
 * NATS accounts and permissions, for real: a nats-server started with the
 * configuration natsServerConfig() generates. An agent's credentials work for
 * its own host end to end and cannot read another host's commands, forge
 * another host's events, or touch another host's KV keys; a client reads
 * events and writes nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { makeCommand, subjects } from '@virtflow/model';
import {
  COMMAND_STREAM, EventStore, Projector, connectNats, createNkeyUser, domainRef, ensureCommandStream, hostRef, inboxPrefix, natsServerConfig, openCommandResults, openHeartbeats,
  sendCommand, type NatsUser,
} from '@virtflow/runtime';
import { Agent, createTestHypervisor } from '@virtflow/host-agent';
import { startServers, type Servers } from '../harness/index.ts';
import { TIMEOUT, command, domainXml, spawnAgent } from '../agent/support.ts';

const pw = () => randomUUID().replace(/-/g, '');
/** Agent h2 authenticates with an nkey: the server's file holds only its public key. */
const H2 = createNkeyUser();
const USERS: NatsUser[] = [
  { user: 'admin', password: pw(), role: 'admin' },
  { user: 'scheduler', password: pw(), role: 'scheduler' },
  { user: 'agent-h1', password: pw(), role: 'agent', hostId: 'h1' },
  { user: 'agent-h2', nkey: H2.publicKey, role: 'agent', hostId: 'h2' },
  { user: 'client', password: pw(), role: 'client' },
];

/** The server refused it as a permissions violation (not a timeout, not a missing stream: those would prove nothing). */
async function denied(p: Promise<unknown> | (() => Promise<unknown>)): Promise<void> {
  await assert.rejects(typeof p === 'function' ? p() : p, /Permissions Violation/i);
}

/** Permission violations the server logged for a user (its name, or an nkey's public key), beyond those expected. */
function violations(servers: Servers, user: string, expected: RegExp): string[] {
  return readFileSync(join(servers.dir, 'nats.log'), 'utf8').split('\n').filter((l) => / Violation - (User|Nkey) "/.test(l) && l.includes(` "${user}", Subject`) && !expected.test(l));
}

describe('NATS accounts and permissions (nats-server with the generated configuration)', { timeout: TIMEOUT * 6 }, () => {
  let servers: Servers;
  const conns: NatsConnection[] = [];
  const as = async (user: string) => {
    const u = USERS.find((x) => x.user === user)!;
    const auth = u.nkey ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(H2.seed)) } : { user: u.user, pass: u.password! };
    const nc = await connectNats(servers.natsUrl, { ...auth, inboxPrefix: inboxPrefix(u.user), timeout: 10_000 });
    conns.push(nc);
    return nc;
  };
  let admin: NatsConnection;
  let onH2 = '';
  let agent: Agent | undefined;

  before(async () => {
    servers = await startServers({ redis: false, natsConfig: natsServerConfig({ users: USERS }) });
    admin = await as('admin');
    // The operator provisions streams and buckets; services then only look them up.
    await EventStore.open(admin, { onPoison: () => undefined });
    await ensureCommandStream(await jetstreamManager(admin));
    await openCommandResults(admin);
    await openHeartbeats(admin, { ttlMs: 1_500 });
  });

  after(async () => {
    await agent?.stop().catch(() => undefined);
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await servers?.stop();
  });

  it('refuses a connection without credentials or with a wrong password', async () => {
    await assert.rejects(connectNats(servers.natsUrl, { timeout: 5_000, maxReconnectAttempts: 0 }), /authorization|auth/i);
    await assert.rejects(connectNats(servers.natsUrl, { user: 'agent-h1', pass: 'wrong-password-123', timeout: 5_000, maxReconnectAttempts: 0 }), /authorization|auth/i);
    // An nkey the server does not list.
    const stranger = new TextEncoder().encode(createNkeyUser().seed);
    await assert.rejects(connectNats(servers.natsUrl, { authenticator: nkeyAuthenticator(stranger), timeout: 5_000, maxReconnectAttempts: 0 }), /authorization|auth/i);
  });

  it('an agent works end to end with its own credentials: define, start, destroy', async () => {
    const nc = await as('agent-h1');
    const store = await EventStore.open(nc, { onPoison: () => undefined });
    agent = await Agent.start({ hostId: 'h1', nc, store, hypervisor: createTestHypervisor({}), heartbeatMs: 500 });
    const sched = await as('scheduler');
    const uuid = randomUUID();
    const d = await command(sched, 'h1', 'define', uuid, { xml: domainXml('acl-vm', uuid) });
    assert.equal(d.outcome.status, 'completed', JSON.stringify(d.outcome.error));
    const s = await command(sched, 'h1', 'start', uuid, {});
    assert.equal(s.outcome.status, 'completed', JSON.stringify(s.outcome.error));
    const x = await command(sched, 'h1', 'destroy', uuid, {});
    assert.equal(x.outcome.status, 'completed', JSON.stringify(x.outcome.error));
    const events = await (await EventStore.open(admin, { onPoison: () => undefined })).events(domainRef(uuid));
    assert.deepEqual(events.map((e) => e.event.type), ['DomainDefined', 'DomainPlaced', 'DomainStarted', 'DomainStopped']);
    const hb = await (await openHeartbeats(admin)).get('h1');
    assert.equal(hb?.operation, 'PUT');
    // The grants are exact: the agent never hit a refusal, but for the backlog read it does without.
    assert.deepEqual(violations(servers, 'agent-h1', /Subject "\$JS\.API\.DIRECT\.GET\.VIRT_COMMANDS"/), []);
    assert.equal(violations(servers, 'agent-h1', /^$/).length, 1, 'the one refusal: the backlog read by sequence at start');
  });

  it("an agent cannot read another host's commands: no subscription, no consumer, no pull, no direct get", async () => {
    const jsmAdmin = await jetstreamManager(admin);
    // A command waiting for h2 (no agent runs there).
    const uuid = randomUUID();
    await sendCommand(admin, makeCommand('start', { hostId: 'h2', uuid }, {}, { correlationId: 'c', now: () => new Date(), newId: randomUUID }));
    // h2's durable, as its agent would leave it.
    await jsmAdmin.consumers.add(COMMAND_STREAM, { durable_name: 'agent-h2', filter_subject: subjects.hostCommands('h2'), ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });

    const nc = await as('agent-h1');
    const jsm = await jetstreamManager(nc, { timeout: 3_000 });
    const js = jetstream(nc, { timeout: 3_000 });

    // Core subscription to h2's command subject: the server refuses it.
    const sub = nc.subscribe(subjects.hostCommands('h2'));
    const closed = await Promise.race([sub.closed.then((e) => e ?? 'closed'), new Promise((r) => setTimeout(() => r('open'), 5_000))]);
    assert.match(String(closed), /permission/i, 'the subscription to virt.cmd.h2 is closed by a permissions violation');

    // A consumer of its own name but h2's filter, or h2's durable's name.
    await denied(jsm.consumers.add(COMMAND_STREAM, { durable_name: 'agent-h1', filter_subject: subjects.hostCommands('h2'), ack_policy: AckPolicy.Explicit }));
    await denied(jsm.consumers.add(COMMAND_STREAM, { durable_name: 'agent-h2', filter_subject: subjects.hostCommands('h2'), ack_policy: AckPolicy.Explicit }));
    // Pulling from h2's durable.
    await denied((async () => {
      const c = await js.consumers.get(COMMAND_STREAM, 'agent-h2');
      await c.next({ expires: 2_000 });
    })());
    // Direct get by sequence of h2's subject (the body cannot be checked, so the API is not granted).
    await denied(jsm.direct.getMessage(COMMAND_STREAM, { seq: 1, next_by_subj: subjects.hostCommands('h2') }));
    // h2's command outcomes.
    await denied((async () => (await openCommandResults(nc)).get('h2.some-command'))());
    // The command is still there for h2's agent.
    assert.ok((await jsmAdmin.consumers.info(COMMAND_STREAM, 'agent-h2')).num_pending >= 1);
    // Control: its own outcome keys are readable (the refusals above are about the host, not the API).
    assert.equal(await (await openCommandResults(nc)).get('h1.never-sent'), null);
  });

  it("an agent cannot forge another host's events, heartbeat or commands", async () => {
    const nc = await as('agent-h1');
    const js = jetstream(nc, { timeout: 3_000 });
    const jsmAdmin = await jetstreamManager(admin);
    const body = JSON.stringify({ forged: true });
    await denied(js.publish(subjects.hostEvent('h2', 'HostRegistered'), body));
    await denied(js.publish(subjects.hostCommands('h2'), body));
    await denied(js.publish(subjects.hostCommands('h1'), body));
    await denied((async () => (await openHeartbeats(nc)).put('h2', body))());
    await denied((async () => (await openCommandResults(nc)).put('h2.x', body))());
    // A plain publish is dropped by the server, not stored.
    nc.publish(subjects.hostEvent('h2', 'HostRegistered'), body);
    await nc.flush().catch(() => undefined);
    const info = await jsmAdmin.streams.info('VIRT_EVENTS', { subjects_filter: subjects.host('h2') });
    assert.equal(Object.keys(info.state.subjects ?? {}).length, 0, 'nothing stored on virt.evt.host.h2.*');
    // Control: its own host's subject is writable.
    const ack = await js.publish(subjects.hostEvent('h1', 'AclProbe'), body);
    assert.ok(ack.seq > 0);
    // The projection of host h2 saw nothing.
    const store = await EventStore.open(admin, { onPoison: () => undefined });
    assert.equal((await store.events(hostRef('h2'))).length, 0);
  });

  it('the agent process (main.ts) runs under VIRTFLOW_NATS_USER / VIRTFLOW_NATS_NKEY_SEED_FILE (an nkey)', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'virtflow-acl-agent-'));
    const seedFile = join(runDir, 'agent-h2.nk');
    writeFileSync(seedFile, `${H2.seed}\n`, { mode: 0o600 });
    const p = await spawnAgent({
      VIRTFLOW_HOST_ID: 'h2', VIRTFLOW_HYPERVISOR: 'test', VIRTFLOW_NATS_URL: servers.natsUrl, VIRTFLOW_NATS_USER: 'agent-h2', VIRTFLOW_NATS_NKEY_SEED_FILE: seedFile,
      VIRTFLOW_HTTP_PORT: '0', VIRTFLOW_RUN_DIR: runDir, VIRTFLOW_HEARTBEAT_MS: '500',
    });
    try {
      const uuid = randomUUID();
      const d = await command(await as('scheduler'), 'h2', 'define', uuid, { xml: domainXml('acl-vm-2', uuid) });
      assert.equal(d.outcome.status, 'completed', JSON.stringify(d.outcome.error));
      const s = await command(await as('scheduler'), 'h2', 'start', uuid, {});
      assert.equal(s.outcome.status, 'completed', JSON.stringify(s.outcome.error));
      onH2 = uuid;
      // nats-server names an nkey user by its public key (`Nkey "U..."`).
      assert.deepEqual(violations(servers, H2.publicKey, /Subject "\$JS\.API\.DIRECT\.GET\.VIRT_COMMANDS"/), []);
      assert.equal(violations(servers, H2.publicKey, /^$/).length, 1, 'the one refusal: the backlog read by sequence at start');
    } finally {
      p.proc.kill('SIGTERM');
      await p.exited;
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it("an agent may still publish another host's domain's lifecycle (the subject names no host): the projector flags it", async () => {
    assert.ok(onH2, 'a domain runs on h2 (previous test)');
    const flagged: Array<{ seq: number; uuid: string; error: { path?: string; message: string } }> = [];
    const projector = await Projector.open(admin, { onPoison: () => undefined, onHostMismatch: (r) => flagged.push(r), flushEveryMs: 20 });
    await projector.start();
    try {
      const store = await EventStore.open(await as('agent-h1'), { onPoison: () => undefined });
      const { version } = await store.load(domainRef(onH2));
      const [forged] = store.makeEvents([{ type: 'DomainStopped', data: { uuid: onH2, hostId: 'h1', detail: 'DESTROYED' } }], version, { correlationId: 'forged' });
      const r = await store.append(domainRef(onH2), [forged!], version);
      await projector.caughtUp(r.seqs[0], TIMEOUT);
      assert.equal(flagged.length, 1, JSON.stringify(flagged));
      assert.equal(flagged[0]!.uuid, onH2);
      assert.equal(flagged[0]!.seq, r.seqs[0]);
      assert.equal(flagged[0]!.error.path, '/data/hostId');
      assert.match(flagged[0]!.error.message, /reported by host 'h1': it lives on 'h2'/);
    } finally {
      await projector.stop();
    }
  });

  it('a client reads events but cannot publish events or commands', async () => {
    const nc = await as('client');
    const js = jetstream(nc, { timeout: 3_000 });
    const jsm = await jetstreamManager(nc, { timeout: 3_000 });
    const h1 = await jsm.direct.getMessage('VIRT_EVENTS', { last_by_subj: subjects.hostEvent('h1', 'HostRegistered') });
    assert.ok(h1, "the client reads h1's registration");
    await denied(js.publish(subjects.hostEvent('h1', 'HostRegistered'), '{}'));
    await denied(js.publish(subjects.domainEvent(randomUUID(), 'DomainStarted'), '{}'));
    await denied(js.publish(subjects.hostCommands('h1'), '{}'));
    await denied(jsm.streams.delete('VIRT_EVENTS'));
    // Its own consumers on the events, yes; the projector's durable (pull, ack, delete), no.
    await denied(jsm.consumers.delete('VIRT_EVENTS', 'projector'));
    // A pull request gets no answer when refused: the client gives up, the server logs why.
    await assert.rejects((async () => (await js.consumers.get('VIRT_EVENTS', 'projector')).next({ expires: 2_000 }))());
    assert.ok(violations(servers, 'client', /^$/).some((l) => l.includes('Subject "$JS.API.CONSUMER.MSG.NEXT.VIRT_EVENTS.projector"')), 'the pull was refused');
    const own = await js.consumers.get('VIRT_EVENTS', { filter_subjects: subjects.allHosts() });
    assert.ok(await own.next({ expires: 5_000 }), 'an ordered consumer of its own reads host events');
  });
});

