/**
 * Reconcile on restart, against the test hypervisor's state file (qemu's
 * pidfiles in miniature): a domain that died while the agent was away is
 * recorded as crashed, one that runs without the log knowing is reported and
 * left running, one whose state changed is brought up to date.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { command, domainState, domainXml, events, startAgent, startNats, type Nats } from './support.ts';

describe('host agent: reconcile on restart', { timeout: 120_000 }, () => {
  let nats: Nats;
  let dir: string;
  before(async () => {
    nats = await startNats();
    dir = mkdtempSync(join(tmpdir(), 'virtflow-reconcile-'));
  });
  after(async () => {
    await nats?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the dead, reports the unexpected, keeps the rest', async () => {
    const stateFile = join(dir, 'hv.json');
    const first = await startAgent(nats, 'rc1', { stateFile });
    const [dead, alive, paused] = [randomUUID(), randomUUID(), randomUUID()];
    for (const [uuid, name] of [[dead, 'dead'], [alive, 'alive'], [paused, 'paused']] as const) {
      await command(first.nc, 'rc1', 'define', uuid, { xml: domainXml(name, uuid) });
      assert.equal((await command(first.nc, 'rc1', 'start', uuid, {})).outcome.status, 'completed');
    }
    await first.agent.stop();

    // While no agent watches: one domain dies, one is paused behind the log's back, one appears from nowhere.
    const stranger = randomUUID();
    const s = JSON.parse(readFileSync(stateFile, 'utf8')) as { domains: Record<string, { name: string; state: string; devices: string[] }> };
    delete s.domains[dead];
    s.domains[paused]!.state = 'paused';
    s.domains[stranger] = { name: 'stranger', state: 'running', devices: [] };
    writeFileSync(stateFile, JSON.stringify(s));

    const second = await startAgent(nats, 'rc1', { stateFile });
    try {
      const report = second.agent.status().reconcile!;
      assert.deepEqual(report.diedWhileDown, [dead]);
      assert.deepEqual(report.unexpected.map((d) => d.uuid), [stranger]);
      assert.deepEqual([...report.running].sort(), [alive, paused].sort());
      const d = await domainState(second.store, dead);
      assert.equal(d?.state, 'shutoff');
      assert.equal(d?.reason, 'CRASHED');
      assert.match(d?.lastError?.message ?? '', /died while the agent was down/);
      assert.equal((await events(second.store, dead)).at(-1)!.causationId, 'reconcile');
      assert.equal((await domainState(second.store, paused))?.state, 'paused');
      assert.equal((await domainState(second.store, alive))?.state, 'running');
      assert.ok((await second.hv.list()).some((x) => x.uuid === stranger), 'reported, not killed');
      assert.equal((await second.agent.metrics.unexpected.get()).values[0]?.value, 1);
      // The dead one can start again.
      assert.equal((await command(second.nc, 'rc1', 'start', dead, {})).outcome.status, 'completed');
    } finally {
      await second.agent.stop();
    }
  });
});
