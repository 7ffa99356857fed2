/** How senders learn outcomes: awaitCommandResult, CommandResultWatcher, runCommand. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { VirtError, makeCommand } from '@virtflow/model';
import { CommandResultWatcher, awaitCommandResult, runCommand, sendCommand } from '@virtflow/runtime';
import { TIMEOUT, domainXml, startAgent, startNats, type Nats, type TestAgent } from './support.ts';

const cmd = (type: 'define' | 'start' | 'destroy', uuid: string, args: object = {}) =>
  makeCommand(type, { hostId: 'w1', uuid }, args as never, { correlationId: `job-${type}`, now: () => new Date(), newId: randomUUID });

describe('command outcomes', { timeout: 120_000 }, () => {
  let nats: Nats;
  let a: TestAgent;
  before(async () => {
    nats = await startNats();
    a = await startAgent(nats, 'w1');
  });
  after(async () => {
    await a?.agent.stop();
    await nats?.close();
  });

  it('runCommand sends and waits; the outcome lists the events with their sequences', async () => {
    const uuid = randomUUID();
    const o = await runCommand(a.nc, cmd('define', uuid, { xml: domainXml('w', uuid) }), { timeoutMs: TIMEOUT });
    assert.equal(o.status, 'completed');
    assert.equal(o.events?.[0]?.type, 'DomainDefined');
    assert.ok((o.events?.[0]?.seq ?? 0) > 0);
  });

  it('one watcher serves many commands, whether the outcome comes before or after the wait', async () => {
    const watcher = await CommandResultWatcher.open(a.nc);
    try {
      const uuids = Array.from({ length: 5 }, () => randomUUID());
      const defines = uuids.map((u, i) => cmd('define', u, { xml: domainXml(`many${i}`, u) }));
      for (const c of defines) await sendCommand(a.nc, c);
      await new Promise((r) => setTimeout(r, 300)); // some outcomes are in before anyone waits
      const outs = await Promise.all(defines.map((c) => watcher.wait(c, TIMEOUT)));
      assert.deepEqual(outs.map((o) => o.status), Array(5).fill('completed'));
      const starts = uuids.map((u) => cmd('start', u));
      const waiting = starts.map((c) => watcher.wait(c, TIMEOUT));
      for (const c of starts) await sendCommand(a.nc, c);
      assert.deepEqual((await Promise.all(waiting)).map((o) => o.events?.map((e) => e.type).join(',')), Array(5).fill('DomainPlaced,DomainStarted'));
    } finally {
      await watcher.close();
    }
  });

  it('a failure is a value; VirtError.fromJSON rebuilds it', async () => {
    const o = await runCommand(a.nc, cmd('destroy', randomUUID()), { timeoutMs: TIMEOUT });
    assert.equal(o.status, 'failed');
    const e = VirtError.fromJSON(o.error!);
    assert.equal(e.code, 'NO_DOMAIN');
  });

  it('waiting for a command nobody carries out times out with OPERATION_TIMEOUT', async () => {
    await assert.rejects(awaitCommandResult(a.nc, { hostId: 'nobody', id: randomUUID() }, { timeoutMs: 300 }), (e: unknown) => e instanceof VirtError && e.code === 'OPERATION_TIMEOUT');
  });
});
