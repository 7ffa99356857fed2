import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookwormQemuCaps, defineDevice, defineDomain, isVirtError, qemuDriver, type DomainDef, type Provenance } from '../../index.ts';

const caps = bookwormQemuCaps;
const random = (b: Uint8Array) => b.fill(7);

function domain(devices: string, machine = 'pc'): string {
  return `<domain type='kvm'>
  <name>dev-pp</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='${machine}'>hvm</type></os>
  <devices>${devices}</devices>
</domain>`;
}

function define(devices: string, machine?: string) {
  return defineDomain(domain(devices, machine), { caps, driver: qemuDriver, random });
}

/** The provenance entry for a path, which must be the qemu driver's. */
function filled(prov: readonly Provenance[], path: string): Provenance {
  const p = prov.find((x) => x.path === path);
  assert.ok(p, `no provenance for ${path}`);
  assert.equal(p.driver, 'qemu');
  assert.ok(p.why.length > 0);
  return p;
}

function rejects(devices: string, code: string, message: RegExp, path: string, machine?: string): void {
  assert.throws(
    () => define(devices, machine),
    (e: unknown) => isVirtError(e) && e.code === code && message.test(e.message) && e.path === path,
  );
}

describe('qemu device post-parse: disks', () => {
  it("fills <driver name='qemu' type='raw'> and says why", () => {
    const r = define(`<disk type='file' device='disk'><source file='/srv/img/a.img'/><target dev='vda' bus='virtio'/></disk>`);
    const disk = r.def.devices!.disks![0]!;
    assert.equal(disk.driver?.name, 'qemu');
    assert.equal(disk.driver?.type, 'raw');
    assert.equal(filled(r.provenance, '/domain/devices/disk[1]/driver/@name').rule, 'disk-driver-name');
    const type = filled(r.provenance, '/domain/devices/disk[1]/driver/@type');
    assert.equal(type.rule, 'disk-format-raw');
    assert.equal(type.value, 'raw');
  });

  it('keeps a given format, leaves a volume disk without one and defaults an empty cdrom', () => {
    const r = define(`
      <disk type='file'><driver type='qcow2'/><source file='/srv/img/b.qcow2'/><target dev='vdb' bus='virtio'/></disk>
      <disk type='volume'><source pool='default' volume='c'/><target dev='vdc' bus='virtio'/></disk>
      <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>`);
    const [b, c, cd] = r.def.devices!.disks!;
    assert.deepEqual([b!.driver?.name, b!.driver?.type], ['qemu', 'qcow2']);
    assert.deepEqual([c!.driver?.name, c!.driver?.type], ['qemu', undefined]);
    assert.deepEqual([cd!.driver?.name, cd!.driver?.type], ['qemu', 'raw']);
    assert.ok(!r.provenance.some((p) => p.path === '/domain/devices/disk[1]/driver/@type'));
  });

  it("sets engine='qemu' on every encrypted layer", () => {
    const r = define(`<disk type='file'>
        <driver name='qemu' type='qcow2'/>
        <source file='/srv/img/top.qcow2'><encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption></source>
        <backingStore type='file'><format type='qcow2'/><source file='/srv/img/base.qcow2'><encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption></source></backingStore>
        <target dev='vda' bus='virtio'/></disk>`);
    const disk = r.def.devices!.disks![0]!;
    assert.equal(disk.source?.encryption?.engine, 'qemu');
    assert.equal(disk.backingStore?.source?.encryption?.engine, 'qemu');
    assert.equal(filled(r.provenance, '/domain/devices/disk[1]/source/encryption/@engine').rule, 'disk-encryption-engine');
  });
});

describe('qemu device post-parse: interfaces', () => {
  it('gives x86 NICs rtl8139, vDPA virtio, and leaves hostdev interfaces alone', () => {
    const r = define(`
      <interface type='user'/>
      <interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>
      <interface type='user'><model type='e1000e'/></interface>`);
    const nets = r.def.devices!.interfaces!;
    assert.deepEqual(
      nets.map((n) => n.model?.type),
      ['rtl8139', 'virtio', 'e1000e'],
    );
    const p = filled(r.provenance, '/domain/devices/interface[1]/model/@type');
    assert.deepEqual([p.rule, p.value], ['net-model-default', 'rtl8139']);
    assert.equal(filled(r.provenance, '/domain/devices/interface[2]/model/@type').rule, 'net-model-vdpa');
  });
});

describe('qemu device post-parse: controllers', () => {
  it('fills the SCSI and USB models', () => {
    const r = define(`<controller type='scsi' index='0'/><controller type='scsi' index='1' model='auto'/><controller type='usb' index='0'/>`);
    const conts = r.def.devices!.controllers!;
    assert.equal(conts.find((c) => c.type === 'scsi' && c.index === '0')?.model, 'lsilogic');
    assert.equal(conts.find((c) => c.type === 'scsi' && c.index === '1')?.model, 'lsilogic');
    assert.equal(conts.find((c) => c.type === 'usb')?.model, 'piix3-uhci');
    assert.ok(r.provenance.some((p) => p.rule === 'scsi-controller-model' && p.driver === 'qemu' && /\/controller\[\d+\]\/@model$/.test(p.path)));
    assert.ok(r.provenance.some((p) => p.rule === 'usb-controller-model' && p.value === 'piix3-uhci'));
  });

  it("refuses what QEMU's controllers cannot do, at the device", () => {
    rejects(`<controller type='usb' index='0' model='qusb1'/>`, 'CONFIG_UNSUPPORTED', /'qusb1' or 'qusb2' is not supported in kvm/, '/domain/devices/controller[1]/@model');
    rejects(`<controller type='usb' index='0' model='qemu-xhci' ports='16'/>`, 'CONFIG_UNSUPPORTED', /'qemu-xhci' controller only supports up to '15' ports/, '/domain/devices/controller[1]/@ports');
    rejects(
      `<controller type='pci' index='0' model='pcie-root'/><controller type='pci' index='1' model='pci-expander-bus'/>`,
      'CONFIG_UNSUPPORTED',
      /pci-expander-bus controllers are only supported on 440fx-based machinetypes/,
      '/domain/devices/controller[2]/@model',
      'q35',
    );
  });
});

describe('qemu device post-parse: video and chardevs', () => {
  it('picks cirrus for a video without a model and gives QXL its vgamem', () => {
    const r = define(`<video/><video><model type='qxl'/></video>`);
    const [first, qxl] = r.def.devices!.videos!;
    assert.equal(first!.model?.type, 'cirrus');
    assert.equal(qxl!.model?.vgamem, '16384');
    assert.equal(filled(r.provenance, '/domain/devices/video[1]/model/@type').rule, 'video-model-default');
    assert.equal(filled(r.provenance, '/domain/devices/video[2]/model/@vgamem').rule, 'qxl-vgamem');
  });

  it('makes an x86 serial port an isa-serial with its model', () => {
    const r = define(`<serial type='pty'/>`);
    const target = r.def.devices!.serials![0]!.target!;
    assert.equal(target.type, 'isa-serial');
    assert.equal(target.model?.name, 'isa-serial');
    assert.equal(filled(r.provenance, '/domain/devices/serial[1]/target/@type').rule, 'serial-target-type');
    assert.equal(filled(r.provenance, '/domain/devices/serial[1]/target/model/@name').rule, 'serial-target-model');
  });

  it('forgets a virtio channel socket path libvirt generated, keeps a chosen one', () => {
    const r = define(`
      <channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-3-dev-pp/org.qemu.guest_agent.0'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
      <channel type='unix'><source mode='bind' path='/run/agents/dev-pp.sock'/><target type='virtio' name='org.example.agent'/></channel>`);
    const [generated, chosen] = r.def.devices!.channels!;
    assert.equal(generated!.sources, undefined);
    assert.equal(chosen!.sources?.[0]?.path, '/run/agents/dev-pp.sock');
    const p = filled(r.provenance, '/domain/devices/channel[1]/source');
    assert.deepEqual([p.rule, p.value], ['channel-default-path', null]);
  });
});

describe('qemu device post-parse: other devices', () => {
  it('fills tpm, panic, vsock, shmem and mdev defaults', () => {
    const r = define(`
      <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>
      <tpm><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>
      <panic/>
      <shmem name='plain'><model type='ivshmem-plain'/></shmem>
      <shmem name='bell'><model type='ivshmem-doorbell'/><server path='/run/ivshmem.sock'/></shmem>
      <vsock><cid auto='yes'/></vsock>`);
    const d = r.def.devices!;
    assert.equal(d.hostdevs![0]!.display, 'off');
    assert.equal(d.tpms![0]!.model, 'tpm-tis');
    assert.equal(d.tpms![0]!.backend?.version, undefined);
    assert.equal(d.panics![0]!.model, 'isa');
    assert.deepEqual(d.shmems![0]!.size, { unit: 'M', text: '4' });
    assert.equal(d.shmems![1]!.size, undefined);
    assert.equal(d.shmems![1]!.msi?.ioeventfd, 'on');
    assert.equal(d.vsock?.model, 'virtio');
    assert.equal(filled(r.provenance, '/domain/devices/tpm[1]/@model').rule, 'tpm-model-default');
    assert.equal(filled(r.provenance, '/domain/devices/panic[1]/@model').rule, 'panic-model-default');
    assert.equal(filled(r.provenance, '/domain/devices/hostdev[1]/@display').rule, 'mdev-display-off');
  });

  it('pins an emulated TPM to a version', () => {
    // Whether the host's swtpm offers that version is validation's question: left out here.
    const tpm = (xml: string) => defineDomain(domain(xml), { caps, driver: qemuDriver, random, flags: { skipValidate: true } });
    const tis = tpm(`<tpm><backend type='emulator'/></tpm>`);
    const crb = tpm(`<tpm model='tpm-crb'><backend type='emulator'/></tpm>`);
    assert.deepEqual([tis.def.devices!.tpms![0]!.model, tis.def.devices!.tpms![0]!.backend?.version], ['tpm-tis', '1.2']);
    assert.deepEqual([crb.def.devices!.tpms![0]!.model, crb.def.devices!.tpms![0]!.backend?.version], ['tpm-crb', '2.0']);
    assert.equal(filled(crb.provenance, '/domain/devices/tpm[1]/backend/@version').rule, 'tpm-emulator-version');
  });

  it('refuses an ivshmem-doorbell without a server and an ivshmem-plain with one', () => {
    rejects(`<shmem name='s'><model type='ivshmem-doorbell'/></shmem>`, 'CONFIG_UNSUPPORTED', /shmem model 'ivshmem-doorbell' is supported only with server option enabled/, '/domain/devices/shmem[1]/model/@type');
    rejects(
      `<shmem name='s'><model type='ivshmem-plain'/><server path='/run/s.sock'/></shmem>`,
      'CONFIG_UNSUPPORTED',
      /shmem model 'ivshmem-plain' is supported only with server option disabled/,
      '/domain/devices/shmem[1]/server',
    );
  });
});

describe('qemu device post-parse: a device attached alone', () => {
  const base: DomainDef = define(`<interface type='user'/><disk type='file'><source file='/srv/img/a.img'/><target dev='vda' bus='virtio'/></disk>`).def;

  it('gets the same defaults as inside a full define', () => {
    const inside = define(`<interface type='network'><source network='default'/></interface><serial type='pty'/><video/>`).def.devices!;
    const net = defineDevice(`<interface type='network'><source network='default'/></interface>`, base, { caps, driver: qemuDriver, random });
    assert.equal(net.def.kind, 'interface');
    const model = (net.def.def as { model?: { type?: string } }).model?.type;
    assert.equal(model, inside.interfaces![0]!.model?.type);
    assert.equal(model, 'rtl8139');
    const p = filled(net.provenance, '/domain/devices/interface[2]/model/@type');
    assert.equal(p.rule, 'net-model-default');

    const disk = defineDevice(`<disk type='file'><source file='/srv/img/b.img'/><target dev='vdb' bus='virtio'/></disk>`, base, { caps, driver: qemuDriver, random });
    const driver = (disk.def.def as { driver?: { name?: string; type?: string } }).driver;
    assert.deepEqual([driver?.name, driver?.type], ['qemu', 'raw']);
    assert.equal(filled(disk.provenance, '/domain/devices/disk[2]/driver/@type').rule, 'disk-format-raw');

    const serial = defineDevice(`<serial type='pty'/>`, base, { caps, driver: qemuDriver, random });
    const target = (serial.def.def as { target?: { type?: string; model?: { name?: string } } }).target;
    assert.equal(target?.type, inside.serials![0]!.target?.type);
    assert.equal(target?.model?.name, 'isa-serial');

    // QEMU refuses a second cirrus (it can only be primary): the defaults are checked without the validation.
    const video = defineDevice(`<video/>`, base, { caps, driver: qemuDriver, random, flags: { skipValidate: true } });
    assert.equal((video.def.def as { model?: { type?: string } }).model?.type, inside.videos![0]!.model?.type);
  });
});
