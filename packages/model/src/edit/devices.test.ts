import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookwormQemuCaps } from '../caps/index.ts';
import { formatDeviceXML, formatDomainXML } from '../domain/format.ts';
import { defaultRegistry } from '../drivers/index.ts';
import { attachDevice, defineDomain } from '../postparse/runner.ts';
import { rejects } from '../testing.ts';
import { detachDevice, updateDevice } from './devices.ts';

const caps = bookwormQemuCaps;
const registry = defaultRegistry();
let seed = 7;
const random = (b: Uint8Array) => b.map(() => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff);
const opts = { caps, registry, random };

const DOMAIN = `<domain type='kvm'>
  <name>edit-1</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/img/root.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><source file='/img/data.qcow2'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='/iso/a.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
    <interface type='network'><mac address='52:54:00:aa:bb:01'/><source network='default'/></interface>
    <interface type='network'><mac address='52:54:00:aa:bb:02'/><source network='default'/><link state='up'/></interface>
    <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>
    <controller type='usb' index='0' model='qemu-xhci'/>
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <filesystem type='mount'><source dir='/srv/share'/><target dir='share'/></filesystem>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <input type='tablet' bus='usb'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <watchdog model='i6300esb' action='reset'/>
    <graphics type='vnc' port='-1' autoport='yes'/>
    <video><model type='virtio'/></video>
  </devices>
</domain>`;

const domain = defineDomain(DOMAIN, opts).def;
const count = (d: typeof domain, key: string) => ((d.devices as Record<string, unknown[] | undefined>)[key] ?? []).length;

describe('detach-device --config, as libvirt finds the device', () => {
  it('removes a disk by its target dev and keeps the rest', () => {
    const r = detachDevice(domain, `<disk type='file' device='disk'><source file='/elsewhere.img'/><target dev='vdb' bus='virtio'/></disk>`, opts);
    assert.equal(r.def.path, '/domain/devices/disk[2]');
    assert.match(formatDeviceXML(r.def.device), /<source file='\/img\/data.qcow2'\/>/, 'the device as the definition had it');
    assert.deepEqual(r.def.domain.devices?.disks?.map((d) => d.target?.dev), ['vda', 'sda']);
    assert.doesNotMatch(formatDomainXML(r.def.domain), /data\.qcow2/);
  });

  it("fails with libvirt's message for a target the domain lacks", () => {
    rejects(() => detachDevice(domain, `<disk type='file' device='disk'><target dev='vdz'/></disk>`, opts), 'DEVICE_MISSING', 'device not found: no target device vdz', '/disk/target/@dev');
  });

  it('finds an interface by MAC, and without a MAC only when one interface is left to match', () => {
    const r = detachDevice(domain, `<interface type='network'><mac address='52:54:00:AA:BB:02'/><source network='default'/></interface>`, opts);
    assert.equal(r.def.path, '/domain/devices/interface[2]');
    assert.deepEqual(r.def.domain.devices?.interfaces?.map((i) => i.mac?.address), ['52:54:00:aa:bb:01']);
    rejects(
      () => detachDevice(domain, `<interface type='network'><mac address='52:54:00:aa:bb:09'/></interface>`, opts),
      'DEVICE_MISSING', "device not found: no device found at address '(<null>)' matching MAC address '52:54:00:aa:bb:09' and alias '(<null>)'", '/interface',
    );
    rejects(() => detachDevice(domain, `<interface type='network'><source network='default'/></interface>`, opts), 'OPERATION_FAILED', 'operation failed: multiple matching devices found', '/interface');
    const one = detachDevice(r.def.domain, `<interface type='network'/>`, opts);
    assert.equal(one.def.domain.devices?.interfaces, undefined);
  });

  it('finds a host device by its source address, a controller by type and index, a filesystem by target', () => {
    const h = detachDevice(domain, `<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='6' slot='18' function='5'/></source></hostdev>`, opts);
    assert.equal(count(h.def.domain, 'hostdevs'), 0);
    rejects(() => detachDevice(domain, `<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='7' slot='0' function='0'/></source></hostdev>`, opts), 'DEVICE_MISSING', 'device not found: device not present in domain configuration');
    const c = detachDevice(domain, `<controller type='scsi' index='0'/>`, opts);
    assert.ok(!c.def.domain.devices?.controllers?.some((x) => x.type === 'scsi'));
    rejects(() => detachDevice(domain, `<controller type='scsi' index='3'/>`, opts), 'DEVICE_MISSING', 'device not found: device not present in domain configuration');
    const f = detachDevice(domain, `<filesystem type='mount'><source dir='/x'/><target dir='share'/></filesystem>`, opts);
    assert.equal(count(f.def.domain, 'filesystems'), 0);
    rejects(() => detachDevice(domain, `<filesystem type='mount'><source dir='/x'/><target dir='nope'/></filesystem>`, opts), 'DEVICE_MISSING', 'device not found: no matching filesystem device was found');
  });

  it('takes the first serial port with the console that mirrors it, and refuses the serial console itself', () => {
    const s = detachDevice(domain, `<serial type='pty'><target port='0'/></serial>`, opts);
    assert.equal(s.def.path, '/domain/devices/serial[1]');
    assert.equal(count(s.def.domain, 'serials'), 0);
    assert.equal(count(s.def.domain, 'consoles'), 0);
    rejects(() => detachDevice(domain, `<console type='pty'><target type='serial' port='0'/></console>`, opts), 'OPERATION_INVALID', 'Requested operation is not valid: detaching serial console is not supported');
    const ch = detachDevice(domain, `<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`, opts);
    assert.equal(count(ch.def.domain, 'channels'), 0);
    rejects(() => detachDevice(domain, `<channel type='unix'><target type='virtio' name='org.other'/></channel>`, opts), 'INVALID_ARG', 'invalid argument: device not present in domain configuration');
  });

  it('finds input, rng and watchdog devices as libvirt compares them', () => {
    assert.equal(count(detachDevice(domain, `<input type='tablet' bus='usb'/>`, opts).def.domain, 'inputs') < count(domain, 'inputs'), true);
    rejects(() => detachDevice(domain, `<input type='tablet' bus='virtio'/>`, opts), 'DEVICE_MISSING', 'device not found: matching input device not found');
    assert.equal(count(detachDevice(domain, `<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>`, opts).def.domain, 'rngs'), 0);
    rejects(() => detachDevice(domain, `<rng model='virtio'><backend model='random'>/dev/hwrng</backend></rng>`, opts), 'DEVICE_MISSING', 'device not found: no matching RNG device was found');
    assert.equal(detachDevice(domain, `<watchdog model='i6300esb'/>`, opts).def.domain.devices?.watchdog, undefined);
  });

  it("refuses kinds libvirt cannot detach from the config with libvirt's message", () => {
    rejects(() => detachDevice(domain, `<video><model type='virtio'/></video>`, opts), 'OPERATION_UNSUPPORTED', "Operation not supported: persistent detach of device 'video' is not supported", '/video');
    rejects(() => detachDevice(domain, `<graphics type='vnc'/>`, opts), 'OPERATION_UNSUPPORTED', "Operation not supported: persistent detach of device 'graphics' is not supported");
  });
});

describe('update-device --config', () => {
  it("changes a cdrom's media, found by target dev", () => {
    const r = updateDevice(domain, `<disk type='file' device='cdrom'><source file='/iso/b.iso'/><target dev='sda' bus='sata'/><readonly/></disk>`, opts);
    assert.equal(r.def.path, '/domain/devices/disk[3]');
    assert.equal(r.def.domain.devices?.disks?.[2]?.source?.file, '/iso/b.iso');
    assert.equal(r.def.domain.devices?.disks?.[2]?.address?.type, 'drive', 'the device post-parse addressed it');
    const ejected = updateDevice(domain, `<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>`, opts);
    assert.equal(ejected.def.domain.devices?.disks?.[2]?.source, undefined, 'no source: the tray is empty');
    rejects(() => updateDevice(domain, `<disk type='file' device='cdrom'><target dev='sdq' bus='sata'/></disk>`, opts), 'INVALID_ARG', "invalid argument: target sdq doesn't exist.", '/disk/target/@dev');
  });

  it("sets an interface's link state and bandwidth, found by MAC", () => {
    const r = updateDevice(domain, `<interface type='network'><mac address='52:54:00:aa:bb:02'/><source network='default'/><link state='down'/>
      <bandwidth><inbound average='1000'/></bandwidth></interface>`, opts);
    assert.equal(r.def.path, '/domain/devices/interface[2]');
    const nic = r.def.domain.devices?.interfaces?.[1];
    assert.equal(nic?.link?.state, 'down');
    assert.equal(nic?.bandwidth?.inbound?.average, '1000');
    assert.equal(nic?.model?.type, domain.devices?.interfaces?.[1]?.model?.type, 'the device post-parse gave it the same model');
    assert.equal(nic?.address?.slot, domain.devices?.interfaces?.[1]?.address?.slot, 'and the slot it had');
  });

  it('refuses a boot order another device has', () => {
    const booted = defineDomain(DOMAIN.replace("<target dev='vda' bus='virtio'/>", "<target dev='vda' bus='virtio'/><boot order='1'/>"), opts).def;
    rejects(
      () => updateDevice(booted, `<disk type='file' device='cdrom'><source file='/iso/b.iso'/><target dev='sda' bus='sata'/><readonly/><boot order='1'/></disk>`, opts),
      'CONFIG_UNSUPPORTED', 'unsupported configuration: boot order 1 is already used by another device',
    );
  });

  it("refuses what libvirt's config update does not handle", () => {
    rejects(() => updateDevice(domain, `<controller type='usb' index='0' model='qemu-xhci' ports='8'/>`, opts), 'OPERATION_UNSUPPORTED', "Operation not supported: persistent update of device 'controller' is not supported", '/controller');
    rejects(() => updateDevice(domain, `<serial type='pty'><target port='0'/></serial>`, opts), 'OPERATION_UNSUPPORTED', "Operation not supported: persistent update of device 'chr' is not supported");
    rejects(() => updateDevice(domain, `<graphics type='spice'/>`, opts), 'INVALID_ARG', "invalid argument: cannot find existing graphics type 'spice' device to modify");
  });
});

describe("other drivers' rules", () => {
  const lxc = defineDomain(`<domain type='lxc'><name>ct</name><memory unit='MiB'>256</memory><os><type>exe</type><init>/bin/sh</init></os>
    <devices><filesystem type='mount'><source dir='/srv/ct'/><target dir='/'/></filesystem><interface type='network'><mac address='52:54:00:00:00:07'/><source network='default'/></interface><console type='pty'/></devices></domain>`, opts).def;
  const xen = defineDomain(`<domain type='xen'><name>xg</name><memory unit='MiB'>256</memory><os><type arch='x86_64'>hvm</type></os><devices>
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/iso/a.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>
    <disk type='file' device='disk'><source file='/img/x.img'/><target dev='xvda' bus='xen'/></disk></devices></domain>`, opts).def;
  const test = defineDomain(`<domain type='test'><name>t</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`, opts).def;

  it('LXC detaches disks, interfaces and hostdevs only, and updates interfaces only', () => {
    rejects(() => detachDevice(lxc, `<filesystem type='mount'><source dir='/srv/ct'/><target dir='/'/></filesystem>`, opts), 'CONFIG_UNSUPPORTED', 'unsupported configuration: persistent detach of device is not supported');
    rejects(() => detachDevice(lxc, `<disk type='file' device='disk'><target dev='sdz'/></disk>`, opts), 'INVALID_ARG', 'invalid argument: no target device sdz');
    assert.equal(detachDevice(lxc, `<interface type='network'><mac address='52:54:00:00:00:07'/></interface>`, opts).def.domain.devices?.interfaces, undefined);
    assert.equal(updateDevice(lxc, `<interface type='network'><mac address='52:54:00:00:00:07'/><source network='default'/><link state='down'/></interface>`, opts).def.domain.devices?.interfaces?.[0]?.link?.state, 'down');
    rejects(() => updateDevice(lxc, `<console type='pty'/>`, opts), 'CONFIG_UNSUPPORTED', 'unsupported configuration: persistent update of device is not supported');
  });

  it("libxl changes only a cdrom's media, keeping the rest of the disk", () => {
    const r = updateDevice(xen, `<disk type='file' device='cdrom'><source file='/iso/b.iso'/><target dev='hdc' bus='ide'/></disk>`, opts);
    const cd = r.def.domain.devices?.disks?.find((d) => d.target?.dev === 'hdc');
    assert.equal(cd?.source?.file, '/iso/b.iso');
    assert.ok(cd?.readonly !== undefined, 'still read-only: only the media changed');
    rejects(() => updateDevice(xen, `<disk type='file' device='disk'><source file='/img/y.img'/><target dev='xvda' bus='xen'/></disk>`, opts), 'INVALID_ARG', "invalid argument: this disk doesn't support update");
    rejects(() => detachDevice(xen, `<controller type='xenbus' index='3'/>`, opts), 'INVALID_ARG', 'invalid argument: device not present in domain configuration');
  });

  it('the test driver has no device edits', () => {
    rejects(() => detachDevice(test, `<disk type='file' device='disk'><target dev='vda'/></disk>`, opts), 'NO_SUPPORT', 'this function is not supported by the connection driver: virDomainDetachDeviceFlags');
    rejects(() => attachDevice(test, `<disk type='file' device='disk'><source file='/img/t.img'/><target dev='vda'/></disk>`, opts), 'NO_SUPPORT', 'this function is not supported by the connection driver: virDomainAttachDeviceFlags');
  });

  it('attach-device takes the kinds each driver attaches with --config, as libvirt', () => {
    // lxcDomainAttachDeviceConfig: disks, interfaces and hostdevs; a USB companion with no master
    // would also leave a definition that no longer parses (the fuzzer's finding).
    rejects(() => attachDevice(lxc, `<controller type='usb' model='ich9-uhci1'/>`, opts), 'CONFIG_UNSUPPORTED', 'unsupported configuration: persistent attach of device is not supported');
    assert.equal(attachDevice(lxc, `<interface type='network'><source network='default'/></interface>`, opts).def.path, '/domain/devices/interface[2]');
    // libxlDomainAttachDeviceConfig: controllers too, not chardevs.
    rejects(() => attachDevice(xen, `<serial type='pty'/>`, opts), 'CONFIG_UNSUPPORTED', 'unsupported configuration: persistent attach of device is not supported');
    // qemuDomainAttachDeviceConfig names the kind it refuses.
    const q = defineDomain(DOMAIN, opts).def;
    rejects(() => attachDevice(q, `<graphics type='spice'/>`, opts), 'OPERATION_UNSUPPORTED', "Operation not supported: persistent attach of device 'graphics' is not supported");
    rejects(() => attachDevice(q, `<memballoon model='virtio'/>`, opts), 'OPERATION_UNSUPPORTED', "Operation not supported: persistent attach of device 'memballoon' is not supported");
  });

  it('attach-device refuses a USB controller a define of its result would refuse', () => {
    const noUsb = defineDomain(DOMAIN.replace("<controller type='usb' index='0' model='qemu-xhci'/>", "<controller type='usb' index='0' model='none'/>").replace("<input type='tablet' bus='usb'/>", ''), opts).def;
    rejects(() => attachDevice(noUsb, `<controller type='usb' index='1' model='ich9-uhci1'/>`, opts), 'XML_DETAIL', "Can't add another USB controller: USB is disabled for this domain");
    const q = defineDomain(DOMAIN, opts).def;
    const r = attachDevice(q, `<controller type='usb' index='1' model='ich9-ehci1'/>`, opts);
    assert.equal(r.def.domain.devices?.controllers?.filter((c) => c.type === 'usb').length, 2);
  });
});
