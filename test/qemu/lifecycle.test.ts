/**
 * The QEMU hypervisor against the real qemu-system-x86_64 (KVM where /dev/kvm
 * opens, else TCG): lifecycle through QMP, a qemu killed from outside,
 * adoption by a new instance, live migration over loopback.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createQemuHypervisor } from '../../services/host-agent/src/hypervisor/qemu/index.ts';
import { Recorder, define, freePort, qemuMissing, runDirFor, smallXml, spawnHalfStarted } from './support.ts';

const skip = qemuMissing();

describe('qemu hypervisor lifecycle', { skip, timeout: 240_000 }, () => {
  test('define → start → running → suspend → paused → resume → running → destroy → stopped, each change seen in order', async (t) => {
    const runDir = runDirFor(t);
    const h = createQemuHypervisor({ runDir });
    t.after(() => h.close());
    const rec = new Recorder(h);
    const def = await define(smallXml('vf-life'));
    const uuid = def.uuid!;

    await h.start(def);
    let listed = await h.list();
    assert.deepEqual(listed.map((d) => [d.uuid, d.name, d.state]), [[uuid, 'vf-life', 'running']]);
    const pid = listed[0]!.pid!;
    assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(uuid));
    for (const f of ['qemu.pid', 'qmp.sock', 'qemu.log', 'domain.xml']) assert.ok(existsSync(`${runDir}/${uuid}/${f}`), f);

    await h.suspend(uuid);
    assert.equal((await h.list())[0]!.state, 'paused');
    await assert.rejects(h.suspend(uuid), { code: 'OPERATION_INVALID', message: 'Requested operation is not valid: domain is not running' });
    await h.resume(uuid);
    assert.equal((await h.list())[0]!.state, 'running');
    await assert.rejects(h.resume(uuid), { code: 'OPERATION_INVALID', message: 'Requested operation is not valid: domain is not paused' });
    await assert.rejects(h.start(def), { code: 'OPERATION_INVALID', message: 'Requested operation is not valid: domain is already running' });
    await h.reset(uuid);
    await h.reboot(uuid);

    await h.destroy(uuid);
    assert.deepEqual(rec.of(uuid), ['started/BOOTED', 'suspended/PAUSED', 'resumed/UNPAUSED', 'reset', 'reset', 'stopped/DESTROYED']);
    assert.deepEqual(await h.list(), []);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    await assert.rejects(h.resume(uuid), { code: 'OPERATION_INVALID', message: 'Requested operation is not valid: domain is not running' });
    await assert.rejects(h.resume('00000000-0000-4000-8000-000000000001'), { code: 'NO_DOMAIN' });
  });

  test('start --paused reports started then suspended, a concurrent second start is refused, and resume runs it', async (t) => {
    const h = createQemuHypervisor({ runDir: runDirFor(t) });
    t.after(() => h.close());
    const rec = new Recorder(h);
    const def = await define(smallXml('vf-paused'));
    const [first, second] = await Promise.allSettled([h.start(def, { paused: true }), h.start(def, { paused: true })]);
    assert.equal(first.status, 'fulfilled');
    assert.equal(second.status === 'rejected' && (second.reason as { code?: string }).code, 'OPERATION_INVALID');
    assert.equal((await h.list())[0]!.state, 'paused');
    await h.resume(def.uuid!);
    await h.destroy(def.uuid!);
    assert.deepEqual(rec.of(def.uuid!), ['started/BOOTED', 'suspended/PAUSED', 'resumed/UNPAUSED', 'stopped/DESTROYED']);
  });

  for (const machine of ['pc', 'q35']) {
    test(`QEMU accepts the command line of a ${machine} domain with every kind of device the argv supports (${machine === 'q35' ? 'host-passthrough CPU' : 'custom CPU'})`, async (t) => {
      const runDir = runDirFor(t);
      const h = createQemuHypervisor({ runDir });
      t.after(() => h.close());
      const disk = `${runDir}/disk.raw`;
      const iso = `${runDir}/cd.iso`;
      writeFileSync(disk, Buffer.alloc(1 << 20));
      writeFileSync(iso, Buffer.alloc(1 << 20));
      const cdBus = machine === 'q35' ? 'sata' : 'ide';
      const def = await define(`<domain type='kvm'><name>vf-all-${machine}</name><memory unit='MiB'>128</memory><vcpu current='1'>2</vcpu>
<os><type arch='x86_64' machine='${machine}'>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os><features><acpi/><apic/></features>
<cpu mode='${machine === 'q35' ? 'host-passthrough' : 'custom'}'>${machine === 'q35' ? '' : '<model>qemu64</model>'}<topology sockets='1' dies='1' cores='2' threads='1'/></cpu><clock offset='localtime'/>
<devices>
  <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/><source file='${disk}'/><target dev='vda' bus='virtio'/><serial>vf-serial-1</serial></disk>
  <disk type='file' device='cdrom'><source file='${iso}'/><target dev='sdb' bus='${cdBus}'/><readonly/></disk>
  <disk type='file' device='disk'><source file='${iso}'/><target dev='sdc' bus='scsi'/><readonly/></disk>
  <controller type='scsi' model='virtio-scsi'/>
  <controller type='virtio-serial'/>
  <interface type='user'><model type='e1000'/></interface>
  <interface type='network'><source network='default'/><model type='virtio'/></interface>
  <serial type='file'><source path='${runDir}/serial-file.log'/></serial>
  <console type='file'><source path='${runDir}/serial-file.log'/></console>
  <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
  <input type='tablet' bus='usb'/>
  <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
  <video><model type='vga'/></video>
  <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  <memballoon model='virtio'/>
</devices></domain>`);
      await h.start(def);
      assert.equal((await h.list())[0]!.state, 'running');
      await h.destroy(def.uuid!);
    });
  }

  test('an unsupported device fails the start naming its path, and no qemu is left', async (t) => {
    const runDir = runDirFor(t);
    const h = createQemuHypervisor({ runDir });
    t.after(() => h.close());
    const def = await define(smallXml('vf-bad', { extraDevices: "<watchdog model='i6300esb'/>" }));
    await assert.rejects(h.start(def), { code: 'CONFIG_UNSUPPORTED', path: '/domain/devices/watchdog' });
    assert.deepEqual(await h.list(), []);
  });

  test('a qemu that cannot start fails with its own error and reports nothing', async (t) => {
    const h = createQemuHypervisor({ runDir: runDirFor(t) });
    t.after(() => h.close());
    const rec = new Recorder(h);
    const def = await define(smallXml('vf-nodisk', { extraDevices: "<disk type='file' device='disk'><source file='/nonexistent/disk.img'/><target dev='vda' bus='virtio'/></disk>" }));
    await assert.rejects(h.start(def), (e: Error & { code?: string }) => e.code === 'INTERNAL_ERROR' && /process exited while connecting to monitor: .*nonexistent/s.test(e.message));
    assert.deepEqual(rec.changes, []);
    assert.deepEqual(await h.list(), []);
  });

  test('a missing emulator fails the start with the reason', async (t) => {
    const h = createQemuHypervisor({ runDir: runDirFor(t), emulator: '/nonexistent/qemu-system-x86_64', kvm: false });
    t.after(() => h.close());
    await assert.rejects(h.start(await define(smallXml('vf-noemu'))), { code: 'INTERNAL_ERROR', message: /cannot run \/nonexistent\/qemu-system-x86_64: .*ENOENT/ });
    assert.deepEqual(await h.list(), []);
  });

  test('a qemu killed from outside (SIGKILL) is reported stopped CRASHED within 2 s', async (t) => {
    const h = createQemuHypervisor({ runDir: runDirFor(t) });
    t.after(() => h.close());
    const rec = new Recorder(h);
    const def = await define(smallXml('vf-crash'));
    await h.start(def);
    const pid = (await h.list())[0]!.pid!;
    process.kill(pid, 'SIGKILL');
    const ms = await rec.waitFor(def.uuid!, 'stopped/CRASHED', 2000);
    t.diagnostic(`CRASHED reported ${ms} ms after SIGKILL`);
    assert.deepEqual(rec.of(def.uuid!), ['started/BOOTED', 'stopped/CRASHED']);
    const crash = rec.changes.find((c) => c.event === 'stopped');
    assert.match((crash as { message?: string }).message ?? '', /SIGKILL/);
  });

  test('after close() the VM keeps running and a new instance adopts it, sees its crash and destroys another', async (t) => {
    const runDir = runDirFor(t);
    const first = createQemuHypervisor({ runDir });
    const a = await define(smallXml('vf-adopt-a'));
    const b = await define(smallXml('vf-adopt-b'));
    await first.start(a);
    await first.start(b, { paused: true });
    await first.close();
    await assert.rejects(first.suspend(a.uuid!), { code: 'OPERATION_INVALID' });

    const second = createQemuHypervisor({ runDir });
    t.after(() => second.close());
    const rec = new Recorder(second);
    const listed = [...(await second.list())].sort((x, y) => x.name.localeCompare(y.name));
    assert.deepEqual(listed.map((d) => [d.uuid, d.name, d.state]), [[a.uuid, 'vf-adopt-a', 'running'], [b.uuid, 'vf-adopt-b', 'paused']]);

    await second.suspend(a.uuid!);
    await second.resume(b.uuid!);
    process.kill(listed[0]!.pid!, 'SIGKILL');
    await rec.waitFor(a.uuid!, 'stopped/CRASHED', 2000);
    await second.destroy(b.uuid!);
    assert.deepEqual(rec.of(a.uuid!), ['suspended/PAUSED', 'stopped/CRASHED']);
    assert.deepEqual(rec.of(b.uuid!), ['resumed/UNPAUSED', 'stopped/DESTROYED']);
    assert.deepEqual(await second.list(), []);
  });

  test('a start cut short (qemu spawned, never continued, pidfile gone) is finished by the next start, never run twice', async (t) => {
    const runDir = runDirFor(t);
    // What an agent killed in the middle of start() leaves: a qemu with -S and its run folder.
    const { def, uuid, paths, pid: childPid } = await spawnHalfStarted(t, runDir, 'vf-half');
    rmSync(paths.pidfile);

    const h = createQemuHypervisor({ runDir });
    t.after(() => h.close());
    const rec = new Recorder(h);
    await h.start(def);
    assert.deepEqual((await h.list()).map((d) => [d.uuid, d.state, d.pid]), [[uuid, 'running', childPid]]);
    assert.deepEqual(rec.of(uuid), ['started/BOOTED']);
    await assert.rejects(h.start(def), { code: 'OPERATION_INVALID', message: /already running/ });
    await h.destroy(uuid);
    assert.deepEqual(rec.of(uuid), ['started/BOOTED', 'stopped/DESTROYED']);
  });

  test('migrateOut to a VM started with incoming on loopback: source stopped MIGRATED, destination running', async (t) => {
    const src = createQemuHypervisor({ runDir: runDirFor(t) });
    const dst = createQemuHypervisor({ runDir: runDirFor(t) });
    t.after(() => src.close());
    t.after(() => dst.close());
    const srcRec = new Recorder(src);
    const dstRec = new Recorder(dst);
    const def = await define(smallXml('vf-migrate'));
    const uuid = def.uuid!;
    await src.start(def);
    const port = await freePort();
    await dst.start(def, { incoming: { host: '127.0.0.1', port } });
    assert.deepEqual((await dst.list()).map((d) => d.state), ['paused']);
    assert.deepEqual(dstRec.of(uuid), []);

    const started = Date.now();
    await src.migrateOut(uuid, { host: '127.0.0.1', port });
    t.diagnostic(`migrated in ${Date.now() - started} ms`);
    assert.deepEqual(srcRec.of(uuid), ['started/BOOTED', 'stopped/MIGRATED']);
    assert.deepEqual(await src.list(), []);
    await dstRec.waitFor(uuid, 'started/MIGRATED', 10_000);
    assert.deepEqual((await dst.list()).map((d) => [d.uuid, d.state]), [[uuid, 'running']]);
    await dst.destroy(uuid);
    assert.deepEqual(dstRec.of(uuid), ['started/MIGRATED', 'stopped/DESTROYED']);
  });

  test('migrateOut to a port nobody listens on fails and the source keeps running', async (t) => {
    const h = createQemuHypervisor({ runDir: runDirFor(t) });
    t.after(() => h.close());
    const rec = new Recorder(h);
    const def = await define(smallXml('vf-migrate-fail'));
    await h.start(def);
    await assert.rejects(h.migrateOut(def.uuid!, { host: '127.0.0.1', port: await freePort() }), { code: 'INTERNAL_ERROR' });
    assert.equal((await h.list())[0]!.state, 'running');
    await h.destroy(def.uuid!);
    assert.deepEqual(rec.of(def.uuid!), ['started/BOOTED', 'stopped/DESTROYED']);
  });
});
