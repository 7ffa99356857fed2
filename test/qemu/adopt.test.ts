/**
 * Adoption of a qemu this instance did not start, when its monitor does not
 * answer (QEMU serves one QMP client at a time): the VM is listed — a
 * reconcile must not take it for dead — but its state is unknown and never
 * reported 'running' (it may sit in prelaunch, CPUs never started); once the
 * monitor is free its real state is read, and a start cut short is finished.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { QmpClient, createQemuHypervisor } from '../../services/host-agent/src/hypervisor/qemu/index.ts';
import { Recorder, qemuMissing, runDirFor, spawnHalfStarted } from './support.ts';

const skip = qemuMissing();

describe('qemu hypervisor adoption', { skip, timeout: 120_000 }, () => {
  test('a prelaunch qemu whose monitor another client holds is listed with its state unknown, not running', async (t) => {
    const runDir = runDirFor(t);
    // An agent killed in the middle of start(): a qemu with -S, never continued.
    const { def, uuid, paths, pid: childPid } = await spawnHalfStarted(t, runDir, 'vf-busy');
    const holder = await QmpClient.connect(paths.qmp, { timeoutMs: 20_000 });
    t.after(() => holder.close());

    const logged: string[] = [];
    const h = createQemuHypervisor({ runDir, log: (level, msg) => logged.push(`${level}: ${msg}`) });
    t.after(() => h.close());
    const rec = new Recorder(h);
    const busy = await h.list();
    assert.deepEqual(busy.map((d) => [d.uuid, d.state, d.stateUnknown, d.pid]), [[uuid, 'paused', true, childPid]]);
    assert.ok(logged.some((l) => /monitor of an adopted qemu does not answer/.test(l)), JSON.stringify(logged));

    holder.close();
    await holder.closed;
    const free = await h.list();
    assert.deepEqual(free.map((d) => [d.uuid, d.state, d.stateUnknown]), [[uuid, 'paused', undefined]]);

    // The start asked again finishes the one cut short: same qemu, now running.
    await h.start(def);
    assert.deepEqual((await h.list()).map((d) => [d.uuid, d.state, d.pid]), [[uuid, 'running', childPid]]);
    await h.destroy(uuid);
    assert.deepEqual(rec.of(uuid), ['started/BOOTED', 'stopped/DESTROYED']);
  });
});
