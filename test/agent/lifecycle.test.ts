/**
 * The agent on the test hypervisor: every command of a domain's life, each
 * seen as an event on the stream with the command's ids.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hostRef, readHeartbeats } from '@virtflow/runtime';
import { TIMEOUT, command, domainState, domainXml, events, startAgent, startNats, waitFor, type Nats, type TestAgent } from './support.ts';

describe('host agent: a domain\'s life through commands', { timeout: 120_000 }, () => {
  let nats: Nats;
  let a: TestAgent;
  before(async () => {
    nats = await startNats();
    a = await startAgent(nats, 'node1', { guestShutdownMs: 100 });
  });
  after(async () => {
    await a?.agent.stop();
    await nats?.close();
  });

  it('registers the host with its capabilities and keeps a heartbeat', async () => {
    const host = await a.store.load(hostRef('node1'));
    assert.equal(host.state?.registered, true);
    assert.equal(host.state?.capabilities?.host.cpus, 8);
    assert.equal(host.state?.labels.hypervisor, 'test');
    assert.match(a.agent.status().lastHeartbeat ?? '', /^\d{4}-/);
    const beat = (await readHeartbeats(a.nc)).get('node1');
    assert.equal(beat?.hypervisor, 'test');
    assert.equal(beat?.draining, false);
    assert.ok(beat && beat.ageMs < 5_000, `heartbeat ${beat?.ageMs} ms old`);
  });

  it('define → start → suspend → resume → shutdown → start → destroy → undefine, each an event with the command\'s ids', { timeout: TIMEOUT * 4 }, async () => {
    const uuid = randomUUID();
    const run = async (type: Parameters<typeof command>[2], args: object = {}) => {
      const r = await command(a.nc, 'node1', type, uuid, args as never);
      assert.equal(r.outcome.status, 'completed', `${type}: ${JSON.stringify(r.outcome.error)}`);
      return r;
    };
    const def = await run('define', { xml: domainXml('life', uuid) });
    assert.deepEqual(def.outcome.events?.map((e) => e.type), ['DomainDefined']);
    const start = await run('start');
    assert.deepEqual(start.outcome.events?.map((e) => e.type), ['DomainPlaced', 'DomainStarted']);
    assert.equal((await domainState(a.store, uuid))?.state, 'running');
    assert.equal(a.hv.boots(uuid), 1);
    await run('suspend');
    assert.equal((await domainState(a.store, uuid))?.state, 'paused');
    await run('resume');
    assert.equal((await domainState(a.store, uuid))?.state, 'running');
    const shutdown = await run('shutdown');
    assert.deepEqual(shutdown.outcome.events, []);
    // The guest powers off on its own a little later: recorded as the shutdown command's doing.
    const off = await waitFor('the guest to power off', async () => ((await domainState(a.store, uuid))?.state === 'shutoff' ? true : undefined));
    assert.ok(off);
    await run('start');
    await run('destroy');
    await run('undefine');

    const log = await events(a.store, uuid);
    assert.deepEqual(log.map((e) => `${e.type}${'detail' in e.data ? ` ${e.data.detail}` : ''}`), [
      'DomainDefined', 'DomainPlaced', 'DomainStarted BOOTED', 'DomainSuspended PAUSED', 'DomainResumed UNPAUSED',
      'DomainShutdown GUEST', 'DomainStopped SHUTDOWN',
      'DomainPlaced', 'DomainStarted BOOTED', 'DomainStopped DESTROYED', 'DomainUndefined',
    ]);
    const byType = (t: string, nth = 0) => log.filter((e) => e.type === t)[nth]!;
    assert.equal(byType('DomainStarted').causationId, start.id);
    assert.equal(byType('DomainStarted').correlationId, start.correlationId);
    assert.equal(byType('DomainStopped').causationId, shutdown.id, 'the power-off is the shutdown command\'s result');
    assert.equal(byType('DomainStopped').correlationId, shutdown.correlationId);
    assert.equal(a.hv.boots(uuid), 2);
    assert.deepEqual(await a.hv.list(), []);
  });

  it('records a crash the hypervisor reports on its own', async () => {
    const uuid = randomUUID();
    await command(a.nc, 'node1', 'define', uuid, { xml: domainXml('crashy', uuid) });
    const start = await command(a.nc, 'node1', 'start', uuid, {});
    a.hv.crash(uuid, 'CRASHED', 'qemu killed by signal 9');
    const s = await waitFor('the crash to be recorded', async () => {
      const st = await domainState(a.store, uuid);
      return st?.state === 'shutoff' ? st : undefined;
    });
    assert.equal(s.reason, 'CRASHED');
    assert.equal(s.lastError?.message, 'internal error: qemu killed by signal 9');
    const stopped = (await events(a.store, uuid)).at(-1)!;
    assert.equal(stopped.correlationId, start.correlationId);
    assert.equal(stopped.causationId, 'agent');
  });
});
