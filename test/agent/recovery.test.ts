/**
 * Recovery after an agent died at the worst moments, made deterministic
 * (the test hypervisor's state file stands in for qemu's pidfiles):
 * - between a start's DomainPlaced and its DomainStarted (the store appends a
 *   command's events one by one): the start completes its record instead of
 *   reporting the lone DomainPlaced as its result — the log said shutoff
 *   while the domain ran (test/agent/process-qemu.test.ts, twice in CI);
 * - a paused start cut before its DomainSuspended;
 * - the restarted agent's first list() misses a domain that runs: reconcile
 *   looks again before recording it as died while the agent was down.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCommand, parseDomainXML, type Command, type CommandOutcome } from '@virtflow/model';
import { awaitCommandResult, commandResultKey, domainRef, openCommandResults, sendCommand, type EventDraft } from '@virtflow/runtime';
import { createTestHypervisor, type Hypervisor } from '@virtflow/host-agent';
import { TIMEOUT, command, domainState, domainXml, events, startAgent, startNats, type Nats, type TestAgent } from './support.ts';

describe('host agent: recovery of a start cut short', { timeout: 120_000 }, () => {
  let nats: Nats;
  let dir: string;
  before(async () => {
    nats = await startNats();
    dir = mkdtempSync(join(tmpdir(), 'virtflow-recovery-'));
  });
  after(async () => {
    await nats?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Leaves the domain as an agent SIGKILLed in the middle of recording `start`
   * would: the hypervisor runs it (paused if the start was), the command's
   * outcome is pending, `drafts` of its events are in the log, the command
   * waits in the stream.
   */
  async function cutShort(first: TestAgent, stateFile: string, cmd: Command<'start'>, drafts: (uuid: string) => EventDraft[]): Promise<void> {
    const { uuid, hostId } = cmd;
    const xml = (await domainState(first.store, uuid))!.xml;
    await first.agent.stop();
    const hv = createTestHypervisor({ stateFile });
    await hv.start(parseDomainXML(xml), { paused: cmd.args.paused === true });
    await hv.close();
    const results = await openCommandResults(first.nc);
    const pending: CommandOutcome = { id: cmd.id, type: cmd.type, hostId, uuid, correlationId: cmd.correlationId, at: new Date().toISOString(), status: 'pending' };
    await results.put(commandResultKey(hostId, cmd.id), JSON.stringify(pending));
    const { version } = await first.store.load(domainRef(uuid));
    await first.store.append(domainRef(uuid), first.store.makeEvents(drafts(uuid), version, { correlationId: cmd.correlationId, causationId: cmd.id }), version);
    await sendCommand(first.nc, cmd);
  }

  const newStart = (hostId: string, uuid: string, paused = false) =>
    makeCommand('start', { hostId, uuid }, paused ? { paused: true } : {}, { correlationId: `job-${randomUUID()}`, now: () => new Date(), newId: randomUUID });
  const placed = (hostId: string) => (uuid: string): EventDraft[] => [{ type: 'DomainPlaced', data: { uuid, hostId, memoryKiB: 262144, vcpus: 2, reason: 'test' } }];

  it('cut between DomainPlaced and DomainStarted: the start records DomainStarted, the domain runs once', async () => {
    const stateFile = join(dir, 'placed.json');
    const first = await startAgent(nats, 'rv1', { stateFile });
    const uuid = randomUUID();
    await command(first.nc, 'rv1', 'define', uuid, { xml: domainXml('cut-placed', uuid) });
    const start = newStart('rv1', uuid);
    await cutShort(first, stateFile, start, placed('rv1'));
    assert.equal((await domainState(first.store, uuid))?.state, 'shutoff');

    const second = await startAgent(nats, 'rv1', { stateFile });
    try {
      const o = await awaitCommandResult(second.nc, start, { timeoutMs: TIMEOUT });
      assert.equal(o.status, 'completed', JSON.stringify(o.error));
      assert.deepEqual(o.events?.map((e) => e.type), ['DomainPlaced', 'DomainStarted']);
      const s = await domainState(second.store, uuid);
      assert.equal(s?.state, 'running', JSON.stringify((await events(second.store, uuid)).map((e) => [e.type, e.causationId])));
      assert.equal(s?.hostId, 'rv1');
      const own = (await events(second.store, uuid)).filter((e) => e.causationId === start.id).map((e) => e.type);
      assert.deepEqual(own, ['DomainPlaced', 'DomainStarted']);
      assert.equal(second.hv.boots(uuid), 1, 'the domain the first attempt started, not a second boot');
    } finally {
      await second.agent.stop();
    }
  });

  it('a paused start cut before its DomainSuspended: recorded paused', async () => {
    const stateFile = join(dir, 'paused.json');
    const first = await startAgent(nats, 'rv2', { stateFile });
    const uuid = randomUUID();
    await command(first.nc, 'rv2', 'define', uuid, { xml: domainXml('cut-paused', uuid) });
    const start = newStart('rv2', uuid, true);
    await cutShort(first, stateFile, start, (u) => [...placed('rv2')(u), { type: 'DomainStarted', data: { uuid: u, hostId: 'rv2', detail: 'BOOTED' } }]);

    const second = await startAgent(nats, 'rv2', { stateFile });
    try {
      const o = await awaitCommandResult(second.nc, start, { timeoutMs: TIMEOUT });
      assert.equal(o.status, 'completed', JSON.stringify(o.error));
      assert.deepEqual(o.events?.map((e) => e.type), ['DomainPlaced', 'DomainStarted', 'DomainSuspended']);
      assert.equal((await domainState(second.store, uuid))?.state, 'paused');
      assert.equal(second.hv.boots(uuid), 1);
    } finally {
      await second.agent.stop();
    }
  });

  it('reconcile looks again before declaring dead a domain its first list() missed', async () => {
    const stateFile = join(dir, 'missed.json');
    const first = await startAgent(nats, 'rv3', { stateFile });
    const uuid = randomUUID();
    await command(first.nc, 'rv3', 'define', uuid, { xml: domainXml('missed', uuid) });
    assert.equal((await command(first.nc, 'rv3', 'start', uuid, {})).outcome.status, 'completed');
    await first.agent.stop();

    // The first list() of the new agent misses the domain (as a failed adoption of a qemu did).
    const hv = createTestHypervisor({ stateFile });
    let lists = 0;
    const flaky = new Proxy(hv, {
      get(t, p) {
        if (p === 'list') return async () => (++lists === 1 ? [] : t.list());
        const v = Reflect.get(t, p, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    }) as Hypervisor;
    const second = await startAgent(nats, 'rv3', {}, { hypervisor: flaky });
    try {
      const report = second.agent.status().reconcile!;
      assert.deepEqual(report.diedWhileDown, []);
      assert.deepEqual(report.running, [uuid]);
      assert.equal((await domainState(second.store, uuid))?.state, 'running');
      assert.ok(lists >= 2);
    } finally {
      await second.agent.stop();
    }
  });
});
