/** nats-server going away in the middle of a command: the agent reconnects and the command completes, once. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { makeCommand } from '@virtflow/model';
import { awaitCommandResult, sendCommand } from '@virtflow/runtime';
import { TIMEOUT, command, domainXml, events, startAgent, startNats, type Nats, type TestAgent } from './support.ts';

describe('host agent across a nats-server restart', { timeout: 120_000 }, () => {
  let nats: Nats;
  let a: TestAgent;
  before(async () => {
    nats = await startNats();
    a = await startAgent(nats, 'nr1', { delays: { start: 1500 } });
  });
  after(async () => {
    await a?.agent.stop();
    await nats?.close();
  });

  it('finishes the command it was carrying out', { timeout: TIMEOUT * 3 }, async () => {
    const uuid = randomUUID();
    await command(a.nc, 'nr1', 'define', uuid, { xml: domainXml('bounce', uuid) });
    const start = makeCommand('start', { hostId: 'nr1', uuid }, {}, { correlationId: 'job-bounce', now: () => new Date(), newId: randomUUID });
    await sendCommand(a.nc, start);
    await new Promise((r) => setTimeout(r, 500)); // the start is under way in the hypervisor
    await nats.servers.restartNats({ downMs: 1500 });
    // JetStream needs a moment after a restart before its API answers: the sender retries, as a scheduler would.
    let o;
    for (let attempt = 1; ; attempt++) {
      try {
        o = await awaitCommandResult(a.nc, start, { timeoutMs: TIMEOUT });
        break;
      } catch (e) {
        if (attempt >= 10 || (e as Error).name !== 'TimeoutError') throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    assert.equal(o.status, 'completed', JSON.stringify(o.error));
    assert.equal(a.hv.boots(uuid), 1);
    assert.deepEqual((await events(a.store, uuid)).map((e) => e.type), ['DomainDefined', 'DomainPlaced', 'DomainStarted']);
    assert.equal((await command(a.nc, 'nr1', 'suspend', uuid, {})).outcome.status, 'completed', 'and takes the next one');
  });
});
