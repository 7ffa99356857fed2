/**
 * A real guest under the QEMU hypervisor: the tiny Debian-kernel + busybox
 * guest (test/support/tiny-guest.ts) boots, takes a hot-plugged virtio NIC and
 * disk and gives them back, is live-migrated to a second hypervisor, and
 * there powers itself off on the ACPI power button: stopped SHUTDOWN.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { attachDevice, defaultRegistry } from '@virtflow/model';
import { hostCapabilities } from '@virtflow/runtime';
import { createQemuHypervisor } from '../../services/host-agent/src/hypervisor/qemu/index.ts';
import { tinyGuest, tinyGuestToolsMissing, type TinyGuest } from '../support/tiny-guest.ts';
import { Recorder, define, freePort, guestDomainType, qemuMissing, runDirFor, waitForFile } from './support.ts';

const missing = qemuMissing() ?? tinyGuestToolsMissing();
const built: TinyGuest | string = missing ?? tinyGuest();
const skip = typeof built === 'string' ? built : undefined;

/** TCG boots of a distribution kernel take tens of seconds on a loaded machine. */
const BOOT_MS = 300_000;

describe('qemu hypervisor with a real guest', { skip, timeout: 600_000 }, () => {
  test('boots, hot-plugs and unplugs a virtio NIC and disk, migrates live, and shutdown is a real ACPI power-off ending stopped SHUTDOWN', async (t) => {
    const guest = built as TinyGuest;
    const runDir = runDirFor(t);
    const type = await guestDomainType(guest);
    t.diagnostic(`guest runs under ${type === 'kvm' ? 'KVM' : 'TCG'}`);
    const h = createQemuHypervisor({ runDir });
    t.after(() => h.close());
    const rec = new Recorder(h);
    const def = await define(`<domain type='${type}'>
  <name>vf-tiny</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd><cmdline>${guest.cmdline}</cmdline></os>
  <features><acpi/></features>
  <devices><serial type='pty'/><console type='pty'/><memballoon model='none'/></devices>
</domain>`);
    const uuid = def.uuid!;
    const started = Date.now();
    await h.start(def);
    await waitForFile(`${runDir}/${uuid}/serial.log`, guest.readyMarker, BOOT_MS);
    t.diagnostic(`guest ready ${Date.now() - started} ms after start`);

    const opts = { caps: await hostCapabilities(), registry: defaultRegistry() };
    const nic = attachDevice(def, "<interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='virtio'/></interface>", opts);
    await h.attachDevice(uuid, nic.def.device);
    // The same NIC again: QEMU refuses its PCI slot, and the error says so in libvirt's words.
    await assert.rejects(h.attachDevice(uuid, nic.def.device), { code: 'INTERNAL_ERROR', message: /unable to execute QEMU command 'device_add': PCI: slot \d+ function 0 not available/ });
    const image = `${runDir}/extra.img`;
    writeFileSync(image, Buffer.alloc(1024 * 1024));
    const disk = attachDevice(nic.def.domain, `<disk type='file' device='disk'><source file='${image}'/><target dev='vdb' bus='virtio'/></disk>`, opts);
    await h.attachDevice(uuid, disk.def.device);

    await h.detachDevice(uuid, 'net0');
    await h.detachDevice(uuid, 'virtio-disk1');
    await assert.rejects(h.detachDevice(uuid, 'net0'), { code: 'OPERATION_INVALID' });

    // Live-migrate the running guest to a second hypervisor on loopback; it keeps running there.
    const dstDir = runDirFor(t);
    const dst = createQemuHypervisor({ runDir: dstDir });
    t.after(() => dst.close());
    const dstRec = new Recorder(dst);
    const port = await freePort();
    await dst.start(def, { incoming: { host: '127.0.0.1', port } });
    const m0 = Date.now();
    await h.migrateOut(uuid, { host: '127.0.0.1', port });
    await dstRec.waitFor(uuid, 'started/MIGRATED', 30_000);
    t.diagnostic(`256 MiB guest migrated in ${Date.now() - m0} ms`);
    assert.deepEqual(rec.of(uuid), ['started/BOOTED', 'stopped/MIGRATED']);

    // The migrated guest still watches its power button: shutdown on the destination powers it off.
    await dst.shutdown(uuid);
    const ms = await dstRec.waitFor(uuid, 'stopped/SHUTDOWN', 120_000);
    t.diagnostic(`powered off ${ms} ms after the power button`);
    assert.deepEqual(dstRec.of(uuid), ['started/MIGRATED', 'shutdown/GUEST', 'stopped/SHUTDOWN']);
    await waitForFile(`${dstDir}/${uuid}/serial.log`, 'power button, powering off', 5000);
    assert.deepEqual(await h.list(), []);
    assert.deepEqual(await dst.list(), []);
  });
});
