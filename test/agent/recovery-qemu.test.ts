/**
 * An agent killed after spawning a domain's qemu and before `cont` leaves the
 * qemu in prelaunch, CPUs never started. Nobody will continue it, so the
 * restarted agent finishes that start at once — the same qemu, now running —
 * instead of waiting out its start-recovery time (10 s by default) for a boot
 * that cannot come, then destroying the qemu and booting a second one.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { formatDomainXML, makeCommand, type CommandOutcome } from '@virtflow/model';
import { awaitCommandResult, commandResultKey, defineDomain, ensureCommandStream, openCommandResults, sendCommand } from '@virtflow/runtime';
import { Agent, silentLogger } from '@virtflow/host-agent';
import { createQemuHypervisor } from '../../services/host-agent/src/hypervisor/qemu/index.ts';
import { define, qemuMissing, runDirFor, smallXml, spawnHalfStarted } from '../qemu/support.ts';
import { domainState, events, startNats } from './support.ts';

const skip = qemuMissing();

describe('host agent on QEMU: a start cut before its CPUs were started', { skip, timeout: 180_000 }, () => {
  it('the restarted agent finishes it: the same qemu runs, with no wait for the recovery time', async (t) => {
    const nats = await startNats();
    // Hooks run in the order they were added: the agent's (below) must come before this one.
    const closing: Array<() => Promise<unknown>> = [];
    t.after(async () => {
      for (const f of closing.reverse()) await f().catch(() => undefined);
      await nats.close();
    });
    const runDir = runDirFor(t);
    const nc = await nats.connect();
    const store = await nats.store();
    const uuid = randomUUID();
    const def = await define(smallXml('vf-prelaunch', { type: 'qemu' }).replace('<name>vf-prelaunch</name>', `<name>vf-prelaunch</name><uuid>${uuid}</uuid>`));
    await defineDomain(store, { uuid, name: 'vf-prelaunch', domainType: 'qemu', driver: 'qemu', xml: formatDomainXML(def) });

    // What the killed agent left: its qemu in prelaunch, the start's outcome pending, the command in the stream.
    const { pid } = await spawnHalfStarted(t, runDir, def);
    const start = makeCommand('start', { hostId: 'pl1', uuid }, {}, { correlationId: `job-${randomUUID()}`, now: () => new Date(), newId: randomUUID });
    const pending: CommandOutcome = { id: start.id, type: start.type, hostId: 'pl1', uuid, correlationId: start.correlationId, at: new Date().toISOString(), status: 'pending' };
    await (await openCommandResults(nc)).put(commandResultKey('pl1', start.id), JSON.stringify(pending));
    await ensureCommandStream(store.jsm);
    await sendCommand(nc, start);

    const hypervisor = createQemuHypervisor({ runDir });
    // A recovery time longer than the wait below: the old agent waited it out before destroying the qemu.
    const agent = await Agent.start({ hostId: 'pl1', nc, store, hypervisor, heartbeatMs: 500, startRecoveryMs: 120_000, log: silentLogger });
    closing.push(async () => {
      await hypervisor.destroy(uuid).catch(() => undefined);
      await agent.stop();
    });
    const o = await awaitCommandResult(nc, start, { timeoutMs: 60_000 });
    assert.equal(o.status, 'completed', JSON.stringify(o.error));
    assert.deepEqual(o.events?.map((e) => e.type), ['DomainPlaced', 'DomainStarted']);
    assert.deepEqual((await hypervisor.list()).map((d) => [d.uuid, d.state, d.pid]), [[uuid, 'running', pid]], 'the qemu the first attempt spawned, continued');
    const s = await domainState(store, uuid);
    assert.equal(s?.state, 'running', JSON.stringify((await events(store, uuid)).map((e) => e.type)));
  });
});
