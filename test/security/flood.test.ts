/**
 * A flood of malformed messages on NATS subjects (a host's command subject,
 * domain and host event subjects) stops neither the agent nor the projector:
 * each poison message is acked or skipped and reported, and real work
 * submitted after the flood goes through both. Private nats-server, real
 * Agent on the test hypervisor, real Projector.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { makeCommand, subjects } from '@virtflow/model';
import { COMMAND_STREAM, Projector, awaitCommandResult, domainRef, hostRef, sendCommand, versionMsgId } from '@virtflow/runtime';
import { TIMEOUT, domainXml, startAgent, startNats, waitFor, type Nats, type TestAgent } from '../agent/support.ts';

// Each malformed command costs the agent a DomainCommandFailed on its host's aggregate and an outcome
// record (~30 a second on the shared 2-core machine): a few hundred keep the test short.
const COMMANDS = Number(process.env.VIRTFLOW_FLOOD_COMMANDS ?? 300);
const EVENTS = Number(process.env.VIRTFLOW_FLOOD_EVENTS ?? 5_000);

/** Garbage of many shapes: not JSON, JSON of the wrong kind, envelopes with bad fields, binary, big. */
function junk(i: number, uuid: string): Uint8Array | string {
  switch (i % 8) {
    case 0: return 'not json at all {';
    case 1: return JSON.stringify([1, 2, 3]);
    case 2: return JSON.stringify({ id: `x-${i}`, type: 'start', v: 1 });
    case 3: return JSON.stringify({ id: `x-${i}`, type: 'define', hostId: 'hf', uuid, correlationId: 'c', at: 'yesterday', args: { xml: 42 }, v: 1 });
    case 4: return randomBytes(256);
    case 5: return JSON.stringify({ id: `e-${i}`, type: 'DomainStarted', subject: 'virt.evt.domain.x.DomainStarted', version: -1, at: 'now', data: null });
    case 6: return 'x'.repeat(64 * 1024);
    default: return JSON.stringify({ type: 'HostRegistered', version: 1, data: { hostId: 'hf', capabilities: 'none' } });
  }
}

async function publishAll(js: ReturnType<typeof jetstream>, items: ReadonlyArray<{ subject: string; data: Uint8Array | string }>): Promise<void> {
  for (let i = 0; i < items.length; i += 250) await Promise.all(items.slice(i, i + 250).map((m) => js.publish(m.subject, m.data)));
}

describe('a flood of malformed NATS messages', { timeout: TIMEOUT * 10 }, () => {
  let nats: Nats;
  let a: TestAgent;
  let projector: Projector;
  let poison = 0;

  before(async () => {
    nats = await startNats();
    projector = await Projector.open(await nats.connect(), { onPoison: () => void poison++, flushEveryMs: 20 });
    await projector.start();
    a = await startAgent(nats, 'hf');
  });

  after(async () => {
    await a?.agent.stop().catch(() => undefined);
    await projector?.stop().catch(() => undefined);
    await nats?.close();
  });

  it(`stops neither the agent nor the projector: ${COMMANDS} bad commands, ${EVENTS} bad events, then real work goes through`, async () => {
    const nc = await nats.connect();
    const js = jetstream(nc, { timeout: 30_000 });
    const uuid = randomUUID();
    const t0 = performance.now();
    await publishAll(js, Array.from({ length: COMMANDS }, (_, i) => ({ subject: subjects.hostCommands('hf'), data: junk(i, uuid) })));
    await publishAll(js, Array.from({ length: EVENTS }, (_, i) => ({
      subject: [subjects.domainEvent(randomUUID(), 'DomainStarted'), subjects.hostEvent('hf', 'HostRegistered'), subjects.domainEvent(randomUUID(), 'DomainDefined'), `virt.evt.domain.not-a-uuid.Nonsense`][i % 4]!,
      data: junk(i, uuid),
    })));
    const floodSecs = (performance.now() - t0) / 1000;
    // (Junk on the real domain's own subjects: the next test.)

    // Real work after the flood: the agent defines and starts a domain (queued behind the flood) ...
    const run = async (type: 'define' | 'start', args: { xml: string } | Record<string, never>) => {
      const cmd = makeCommand(type, { hostId: 'hf', uuid }, args as never, { correlationId: `flood-${type}`, now: () => new Date(), newId: randomUUID });
      await sendCommand(nc, cmd);
      return awaitCommandResult(nc, cmd, { timeoutMs: TIMEOUT * 6 });
    };
    const d = await run('define', { xml: domainXml('after-flood', uuid) });
    assert.equal(d.status, 'completed', JSON.stringify(d.error));
    const drainSecs = (performance.now() - t0) / 1000;
    const s = await run('start', {});
    assert.equal(s.status, 'completed', JSON.stringify(s.error));

    // ... every malformed command was answered and acked, none left to come back ...
    const jsm = await jetstreamManager(nc);
    await waitFor('the command backlog to drain', async () => {
      const c = await jsm.consumers.info(COMMAND_STREAM, 'agent-hf');
      return c.num_pending === 0 && c.num_ack_pending === 0 ? c : undefined;
    }, TIMEOUT * 4);
    const failures = (await a.store.events(hostRef('hf'))).filter((e) => e.event.type === 'DomainCommandFailed').length;
    assert.ok(failures >= COMMANDS, `each malformed command is a DomainCommandFailed (${failures} of ${COMMANDS})`);

    // ... and the projector skipped the poison and projected the real events.
    await projector.caughtUp(undefined, TIMEOUT * 4);
    const row = await waitFor('the projection of the started domain', async () => {
      const r = await projector.reader().domain(uuid);
      return r?.state === 'running' ? r : undefined;
    });
    assert.equal(row.hostId, 'hf');
    assert.ok(poison >= EVENTS / 2, `poison reported and skipped (${poison})`);
    assert.ok(a.agent.status().ready, 'the agent is still taking commands');
    console.log(`# flood: ${JSON.stringify({ commands: COMMANDS, events: EVENTS, floodSecs: Number(floodSecs.toFixed(1)), defineDoneAfterSecs: Number(drainSecs.toFixed(1)), hostFailures: failures, poisonReported: poison })}`);
  });

  it('junk on a domain\'s own event subjects, even squatting its versions\' msg ids, does not block that domain', async () => {
    const nc = await nats.connect();
    const js = jetstream(nc, { timeout: 30_000 });
    const uuid = randomUUID();
    const own = ['DomainDefined', 'DomainPlaced', 'DomainStarted', 'DomainStopped', 'Nonsense'].map((t) => subjects.domainEvent(uuid, t));
    const before = poison;
    await publishAll(js, Array.from({ length: 200 }, (_, i) => ({ subject: own[i % own.length]!, data: junk(i, uuid) })));
    // Anyone may set Nats-Msg-Id: junk that takes the ids of the domain's first versions.
    for (let v = 1; v <= 4; v++) await js.publish(own[v % own.length]!, junk(v, uuid), { msgID: versionMsgId(domainRef(uuid), v) });

    const run = async (type: 'define' | 'start' | 'destroy', args: { xml: string } | Record<string, never>) => {
      const cmd = makeCommand(type, { hostId: 'hf', uuid }, args as never, { correlationId: `own-${type}`, now: () => new Date(), newId: randomUUID });
      await sendCommand(nc, cmd);
      return awaitCommandResult(nc, cmd, { timeoutMs: TIMEOUT * 6 });
    };
    for (const [type, args] of [['define', { xml: domainXml('own-subject-flood', uuid) }], ['start', {}], ['destroy', {}]] as const) {
      const r = await run(type, args);
      assert.equal(r.status, 'completed', `${type}: ${JSON.stringify(r.error)}`);
    }
    // The log holds the domain's real events only, in consecutive versions ...
    const log = (await a.store.events(domainRef(uuid))).map((e) => e.event);
    assert.deepEqual(log.map((e) => e.version), log.map((_, i) => i + 1));
    assert.equal(log[0]?.type, 'DomainDefined');
    assert.equal(log.at(-1)?.type, 'DomainStopped');
    // ... and the projector, which saw the junk too, reports it and shows the domain as it is.
    await projector.caughtUp(undefined, TIMEOUT * 4);
    const row = await waitFor('the projection of the destroyed domain', async () => {
      const r = await projector.reader().domain(uuid);
      return r?.state === 'shutoff' && r.name === 'own-subject-flood' ? r : undefined;
    });
    assert.equal(row.name, 'own-subject-flood');
    assert.ok(poison - before >= 100, `junk on the domain's subjects reported by the projector (${poison - before})`);
  });
});
