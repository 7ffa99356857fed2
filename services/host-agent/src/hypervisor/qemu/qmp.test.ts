/**
 * The QMP client against a real qemu-system-x86_64 (no mock of QEMU): skipped,
 * saying why, where QEMU is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { connectWhenReady } from './process.ts';
import { QmpClient, type QmpEvent } from './qmp.ts';

const QEMU = '/usr/bin/qemu-system-x86_64';
const skip = existsSync(QEMU) ? undefined : `needs ${QEMU} (apt-get install qemu-system-x86)`;

/** A paused, device-less TCG qemu with a QMP socket; killed and removed after the test. */
async function qemu(t: TestContext): Promise<{ qmp: QmpClient; child: ChildProcess; socket: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vfqmp-'));
  const socket = join(dir, 'qmp.sock');
  const child = spawn(QEMU, ['-machine', 'pc,accel=tcg', '-m', '32', '-nodefaults', '-no-user-config', '-display', 'none', '-S', '-qmp', `unix:${socket},server=on,wait=off`], { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  t.after(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const qmp = await connectWhenReady(socket, () => exited, join(dir, 'none.log'), 30_000);
  t.after(() => qmp.close());
  return { qmp, child, socket };
}

describe('QMP client', { skip, timeout: 120_000 }, () => {
  test('reads the greeting, leaves negotiation mode and runs commands', async (t) => {
    const { qmp } = await qemu(t);
    assert.equal(qmp.greeting.QMP.version.qemu.major >= 6, true);
    assert.deepEqual(await qmp.execute('query-status'), { status: 'prelaunch', singlestep: false, running: false });
    const [a, b] = await Promise.all([qmp.execute<{ status: string }>('query-status'), qmp.execute<Array<{ name: string }>>('query-commands')]);
    assert.equal(a.status, 'prelaunch');
    assert.ok(b.some((c) => c.name === 'device_add'));
  });

  test("a failed command is INTERNAL_ERROR with QEMU's description, as libvirt words it", async (t) => {
    const { qmp } = await qemu(t);
    await assert.rejects(qmp.execute('device_del', { id: 'nope' }), (e: Error & { code?: string; cause?: { class?: string } }) => {
      assert.equal(e.code, 'INTERNAL_ERROR');
      assert.equal(e.message, "internal error: unable to execute QEMU command 'device_del': Device 'nope' not found");
      assert.equal(e.cause?.class, 'DeviceNotFound');
      return true;
    });
    await assert.rejects(qmp.execute('no-such-command'), { code: 'INTERNAL_ERROR', message: /The command no-such-command has not been found/ });
  });

  test('delivers asynchronous events in order: RESUME, STOP, RESET, then SHUTDOWN and the close on quit', async (t) => {
    const { qmp } = await qemu(t);
    const seen: QmpEvent[] = [];
    qmp.onEvent((ev) => seen.push(ev));
    let closed = false;
    qmp.onClose(() => (closed = true));
    await qmp.execute('cont');
    await qmp.execute('stop');
    await qmp.execute('system_reset');
    const shutdown = qmp.waitEvent('SHUTDOWN', undefined, 10_000);
    await qmp.execute('quit').catch(() => undefined);
    assert.deepEqual((await shutdown).data, { guest: false, reason: 'host-qmp-quit' });
    await qmp.closed;
    assert.equal(closed, true);
    assert.deepEqual(seen.map((e) => e.event), ['RESUME', 'STOP', 'RESET', 'SHUTDOWN']);
    assert.ok(seen.every((e) => typeof e.timestamp?.seconds === 'number'));
    await assert.rejects(qmp.execute('query-status'), { code: 'INTERNAL_ERROR' });
  });

  test('notices the socket close when qemu is killed, and fails what was pending', async (t) => {
    const { qmp, child } = await qemu(t);
    const waiting = qmp.waitEvent('DEVICE_DELETED', undefined, 30_000);
    child.kill('SIGKILL');
    await qmp.closed;
    await assert.rejects(waiting, { code: 'INTERNAL_ERROR', message: /closed the monitor/ });
    assert.equal(qmp.isClosed, true);
  });

  test('refuses a socket nobody serves', async () => {
    await assert.rejects(QmpClient.connect(join(tmpdir(), 'vf-no-such-qmp.sock')), { code: 'ENOENT' });
  });
});
