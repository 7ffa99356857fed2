import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookwormQemuCaps, defineDomain, isVirtError, qemuDriver, type Capabilities, type Provenance } from '../../index.ts';
import { createQemuData, isI440fx, isQ35 } from './data.ts';
import { defaultEmulator } from './domain.ts';

const caps = bookwormQemuCaps;
const random = (b: Uint8Array) => b.fill(3);

interface Opts {
  type?: string;
  arch?: string;
  machine?: string | null;
  os?: string;
  devices?: string;
  features?: string;
  cpu?: string;
  vcpu?: string;
  extra?: string;
  emulator?: string | null;
}

function xml(o: Opts = {}): string {
  const arch = o.arch ?? 'x86_64';
  const machine = o.machine === null ? '' : ` machine='${o.machine ?? 'pc'}'`;
  const emulator = o.emulator === null ? '' : `<emulator>${o.emulator ?? (arch === 'i686' ? '/usr/bin/qemu-system-i386' : '/usr/bin/qemu-system-x86_64')}</emulator>`;
  return `<domain type='${o.type ?? 'qemu'}'>
  <name>guest-a</name>
  <memory unit='MiB'>512</memory>
  ${o.vcpu ?? '<vcpu>2</vcpu>'}
  ${o.extra ?? ''}
  <os><type arch='${arch}'${machine}>hvm</type>${o.os ?? ''}</os>
  ${o.features ? `<features>${o.features}</features>` : ''}
  ${o.cpu ?? ''}
  <devices>${emulator}${o.devices ?? ''}</devices>
</domain>`;
}

function define(o: Opts = {}, c: Capabilities = caps) {
  return defineDomain(xml(o), { caps: c, driver: qemuDriver, random });
}

/** The provenance entry for a path: it must be the qemu driver's, from `rule`. */
function filled(prov: readonly Provenance[], path: string, rule: string, value?: string | null): Provenance {
  const p = prov.find((x) => x.path === path && x.rule === rule);
  assert.ok(p, `no provenance for ${path} by ${rule}: ${JSON.stringify(prov.filter((x) => x.path.startsWith(path)))}`);
  assert.equal(p.driver, 'qemu');
  assert.ok(p.why.length > 0);
  if (value !== undefined) assert.equal(p.value, value);
  return p;
}

function rejects(o: Opts, code: string, message: string, path: string): void {
  assert.throws(
    () => define(o),
    (e: unknown) => {
      assert.ok(isVirtError(e), String(e));
      assert.equal(e.code, code);
      assert.equal(e.message, message);
      assert.equal(e.path, path);
      return true;
    },
  );
}

describe('qemu domain post-parse: emulator', () => {
  it('fills the emulator for the arch from the capabilities', () => {
    const r = define({ emulator: null });
    assert.equal(r.def.devices?.emulator, '/usr/bin/qemu-system-x86_64');
    filled(r.provenance, '/domain/devices/emulator', 'emulator-default', '/usr/bin/qemu-system-x86_64');
  });

  it('maps i686 to qemu-system-i386', () => {
    assert.equal(defaultEmulator(caps, 'i686'), '/usr/bin/qemu-system-i386');
    assert.equal(defineDomain(xml({ arch: 'i686', emulator: null }), { caps, driver: qemuDriver, random }).def.devices?.emulator, '/usr/bin/qemu-system-i386');
  });

  it('rejects an arch without an emulator', () => {
    assert.equal(defaultEmulator(caps, 'aarch64'), undefined);
    rejects({ arch: 'aarch64', machine: 'virt', emulator: null }, 'CONFIG_UNSUPPORTED', "unsupported configuration: No emulator found for arch 'aarch64'", '/domain/os/type/@arch');
  });
});

describe('qemu domain post-parse: machine type', () => {
  it('defaults to the versioned name of the preferred machine', () => {
    const r = define({ machine: null });
    assert.equal(r.def.os?.type?.machine, 'pc-i440fx-7.2');
    filled(r.provenance, '/domain/os/type/@machine', 'machine-default', 'pc-i440fx-7.2');
  });

  it('replaces an alias by its machine, after the default devices chose by family', () => {
    const pc = define({ machine: 'pc' });
    assert.equal(pc.def.os?.type?.machine, 'pc-i440fx-7.2');
    filled(pc.provenance, '/domain/os/type/@machine', 'machine-canonical', 'pc-i440fx-7.2');
    const q35 = define({ machine: 'q35' });
    assert.equal(q35.def.os?.type?.machine, 'pc-q35-7.2');
    // A versioned or unknown-to-us name stays as written.
    assert.equal(define({ machine: 'pc-i440fx-6.2' }).def.os?.type?.machine, 'pc-i440fx-6.2');
  });

  it('rejects a host-side bootloader', () => {
    rejects({ extra: '<bootloader>/usr/bin/pygrub</bootloader>' }, 'CONFIG_UNSUPPORTED', 'unsupported configuration: bootloader is not supported by QEMU', '/domain/bootloader');
  });

  it('reports when the emulator has no machine to prefer', () => {
    const bare: Capabilities = { ...caps, guests: caps.guests.map((g) => ({ ...g, machines: [] })) };
    assert.throws(
      () => define({ machine: null }, bare),
      (e: unknown) =>
        isVirtError(e) && e.code === 'INVALID_ARG' && e.message === 'invalid argument: could not get preferred machine for /usr/bin/qemu-system-x86_64 type=qemu' && e.path === '/domain/os/type/@machine',
    );
  });
});

describe('qemu domain post-parse: default devices', () => {
  it('gives an i440fx guest USB, pci-root, PS/2 inputs, audio and a balloon', () => {
    const r = define({ machine: 'pc' });
    const d = r.def.devices!;
    assert.deepEqual(
      d.controllers?.map((c) => [c.type, c.index]),
      [['usb', '0'], ['pci', '0']],
    );
    assert.equal(d.controllers?.[1]?.model, 'pci-root');
    // The USB model is the machine's default, chosen per device (piix3-uhci): not set here.
    assert.ok(!r.provenance.some((p) => p.path === '/domain/devices/controller[1]/@model' && p.rule === 'usb-controller-default'));
    assert.deepEqual(d.inputs?.map((i) => [i.type, i.bus]), [['mouse', 'ps2'], ['keyboard', 'ps2']]);
    assert.deepEqual(d.audios?.map((a) => [a.id, a.type]), [['1', 'none']]);
    assert.equal(d.memballoon?.model, 'virtio');
    filled(r.provenance, '/domain/devices/controller[1]/@type', 'usb-controller-default', 'usb');
    filled(r.provenance, '/domain/devices/controller[2]/@model', 'pci-root-default', 'pci-root');
    filled(r.provenance, '/domain/devices/input[1]/@bus', 'input-ps2-default', 'ps2');
    filled(r.provenance, '/domain/devices/audio[1]/@type', 'audio-default', 'none');
    filled(r.provenance, '/domain/devices/memballoon/@model', 'memballoon-default', 'virtio');
  });

  it('gives a q35 guest qemu-xhci, SATA and pcie-root', () => {
    const r = define({ machine: 'q35' });
    const ctrls = r.def.devices!.controllers!;
    const usb = ctrls.find((c) => c.type === 'usb');
    assert.equal(usb?.model, 'qemu-xhci');
    assert.ok(ctrls.some((c) => c.type === 'sata' && c.index === '0'));
    assert.equal(ctrls.find((c) => c.type === 'pci' && c.index === '0')?.model, 'pcie-root');
    filled(r.provenance, '/domain/devices/controller[1]/@model', 'usb-controller-default', 'qemu-xhci');
    filled(r.provenance, '/domain/devices/controller[2]/@type', 'sata-controller-default', 'sata');
    filled(r.provenance, '/domain/devices/controller[3]/@model', 'pci-root-default', 'pcie-root');
  });

  it('gives isapc no USB and no PCI root, but PS/2 inputs', () => {
    const r = defineDomain(xml({ machine: 'isapc', devices: "<memballoon model='none'/>" }), { caps, driver: qemuDriver, random, flags: { skipValidate: true } });
    assert.equal(r.def.devices?.controllers?.some((c) => c.type === 'usb' || c.type === 'pci') ?? false, false);
    assert.equal(r.def.devices?.inputs?.length, 2);
  });

  it("keeps the user's USB controller, inputs, balloon and audio", () => {
    const r = define({
      devices: "<controller type='usb' index='0' model='none'/><input type='mouse' bus='ps2'/><memballoon model='none'/><audio id='1' type='spice'/><graphics type='spice'/>",
    });
    const d = r.def.devices!;
    assert.deepEqual(d.controllers?.filter((c) => c.type === 'usb').map((c) => c.model), ['none']);
    assert.deepEqual(d.inputs?.map((i) => [i.type, i.bus]).filter(([, b]) => b === 'ps2'), [['mouse', 'ps2'], ['keyboard', 'ps2']]);
    assert.equal(d.memballoon?.model, 'none');
    assert.deepEqual(d.audios?.map((a) => a.type), ['spice']);
  });

  it('picks the audio backend from the graphics', () => {
    assert.deepEqual(define({ devices: "<graphics type='spice'/>" }).def.devices?.audios?.map((a) => a.type), ['spice']);
    assert.deepEqual(define({ devices: "<graphics type='vnc'/>" }).def.devices?.audios?.map((a) => a.type), ['none']);
    // SDL passes host audio through: without QEMU_AUDIO_DRV in the daemon's environment nothing is added.
    assert.equal(define({ devices: "<graphics type='sdl'/>" }).def.devices?.audios, undefined);
  });

  it('rejects a PCI root of the wrong model', () => {
    rejects(
      { machine: 'q35', devices: "<controller type='pci' index='0' model='pci-root'/>" },
      'XML_ERROR',
      "XML error: The PCI controller with index='0' must be model='pcie-root' for this machine type, but model='pci-root' was found instead",
      '/domain/devices/controller[1]/@model',
    );
    rejects(
      { machine: 'pc', devices: "<controller type='pci' index='0' model='pcie-root'/>" },
      'XML_ERROR',
      "XML error: The PCI controller with index='0' must be model='pci-root' for this machine type, but model='pcie-root' was found instead",
      '/domain/devices/controller[1]/@model',
    );
  });
});

describe('qemu domain post-parse: CPU', () => {
  it("fills the machine's default CPU model, unchecked", () => {
    const r = define();
    assert.deepEqual(
      { mode: r.def.cpu?.mode, match: r.def.cpu?.match, check: r.def.cpu?.check, fallback: r.def.cpu?.model?.fallback, model: r.def.cpu?.model?.text },
      { mode: 'custom', match: 'exact', check: 'none', fallback: 'forbid', model: 'qemu64' },
    );
    filled(r.provenance, '/domain/cpu/model', 'cpu-default', 'qemu64');
    filled(r.provenance, '/domain/cpu/@check', 'cpu-default', 'none');
  });

  it('uses qemu32 for the i386 emulator and 486 for isapc', () => {
    assert.equal(defineDomain(xml({ arch: 'i686' }), { caps, driver: qemuDriver, random }).def.cpu?.model?.text, 'qemu32');
    const isapc = defineDomain(xml({ machine: 'isapc', devices: "<memballoon model='none'/>" }), { caps, driver: qemuDriver, random, flags: { skipValidate: true } });
    assert.equal(isapc.def.cpu?.model?.text, '486');
  });

  it('extends a topology-only CPU and leaves a host CPU alone', () => {
    const r = define({ vcpu: '<vcpu>4</vcpu>', cpu: "<cpu><topology sockets='1' dies='1' cores='2' threads='2'/></cpu>" });
    assert.equal(r.def.cpu?.model?.text, 'qemu64');
    assert.equal(r.def.cpu?.topology?.cores, '2');
    const host = define({ type: 'kvm', cpu: "<cpu mode='host-passthrough'/>" });
    assert.equal(host.def.cpu?.model, undefined);
    assert.equal(host.def.cpu?.migratable, 'on');
    assert.equal(host.def.cpu?.check, 'none');
    filled(host.provenance, '/domain/cpu/@migratable', 'cpu-migratable', 'on');
    filled(host.provenance, '/domain/cpu/@check', 'cpu-check-default', 'none');
  });

  it('has no migratable for host-passthrough on i386, so it is off', () => {
    const r = defineDomain(xml({ arch: 'i686', type: 'kvm', cpu: "<cpu mode='host-passthrough'/>" }), { caps, driver: qemuDriver, random });
    assert.equal(r.def.cpu?.migratable, 'off');
  });

  it('checks custom models partially under KVM, not under TCG, and host-model partially', () => {
    const custom = "<cpu mode='custom' match='exact'><model>Haswell</model></cpu>";
    assert.equal(define({ type: 'kvm', cpu: custom }).def.cpu?.check, 'partial');
    assert.equal(define({ type: 'qemu', cpu: custom }).def.cpu?.check, 'none');
    const hm = define({ type: 'kvm', cpu: "<cpu mode='host-model'/>" });
    assert.equal(hm.def.cpu?.check, 'partial');
    filled(hm.provenance, '/domain/cpu/@check', 'cpu-check-default', 'partial');
  });

  it('requires SVE when vector lengths are given, and rejects it disabled', () => {
    const r = define({ cpu: "<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='require' name='sve256'/></cpu>" });
    assert.deepEqual(r.def.cpu?.features?.map((f) => [f.name, f.policy]), [['sve256', 'require'], ['sve', 'require']]);
    filled(r.provenance, '/domain/cpu/feature[2]/@name', 'cpu-sve', 'sve');
    rejects(
      { cpu: "<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='disable' name='sve'/><feature policy='require' name='sve512'/></cpu>" },
      'CONFIG_UNSUPPORTED',
      'unsupported configuration: SVE disabled, but SVE vector lengths provided',
      '/domain/cpu/feature[1]/@policy',
    );
  });
});

describe('qemu domain post-parse: vCPUs', () => {
  const vcpus = (list: string) => ({ vcpu: '<vcpu>2</vcpu>', extra: `<vcpus>${list}</vcpus>` });
  it('rejects vCPU 0 offline, hotpluggable or not first', () => {
    rejects(vcpus("<vcpu id='0' enabled='no' hotpluggable='yes'/><vcpu id='1' enabled='yes' hotpluggable='no'/>"), 'CONFIG_UNSUPPORTED', "unsupported configuration: vcpu 0 can't be offline", '/domain/vcpus/vcpu[1]/@enabled');
    rejects(vcpus("<vcpu id='0' enabled='yes' hotpluggable='yes'/><vcpu id='1' enabled='yes' hotpluggable='yes'/>"), 'CONFIG_UNSUPPORTED', "unsupported configuration: vcpu0 can't be hotpluggable", '/domain/vcpus/vcpu[1]/@hotpluggable');
    rejects(vcpus("<vcpu id='0' enabled='yes' hotpluggable='no' order='2'/><vcpu id='1' enabled='yes' hotpluggable='no' order='1'/>"), 'CONFIG_UNSUPPORTED', 'unsupported configuration: vcpu0 must be enabled first', '/domain/vcpus/vcpu[1]/@order');
  });

  it('rejects mixed and descending orders', () => {
    rejects(vcpus("<vcpu id='0' enabled='yes' hotpluggable='no' order='1'/><vcpu id='1' enabled='yes' hotpluggable='yes'/>"), 'CONFIG_UNSUPPORTED', 'unsupported configuration: all vcpus must have either set or unset order', '/domain/vcpus/vcpu[2]/@order');
    rejects(
      { vcpu: '<vcpu>3</vcpu>', extra: "<vcpus><vcpu id='0' enabled='yes' hotpluggable='no' order='1'/><vcpu id='1' enabled='yes' hotpluggable='no' order='3'/><vcpu id='2' enabled='yes' hotpluggable='no' order='2'/></vcpus>" },
      'CONFIG_UNSUPPORTED',
      'unsupported configuration: online non-hotpluggable vcpus must be ordered in ascending order',
      '/domain/vcpus/vcpu[3]/@order',
    );
    rejects(
      { vcpu: '<vcpu>3</vcpu>', extra: "<vcpus><vcpu id='0' enabled='yes' hotpluggable='no'/><vcpu id='1' enabled='yes' hotpluggable='yes'/><vcpu id='2' enabled='yes' hotpluggable='no'/></vcpus>" },
      'CONFIG_UNSUPPORTED',
      'unsupported configuration: online non-hotpluggable vcpus need to be ordered prior to hotplugable vcpus',
      '/domain/vcpus/vcpu[3]/@hotpluggable',
    );
  });
});

describe('qemu domain post-parse: features, TSEG, NUMA, NVRAM, VNC', () => {
  it('checks an SMM TSEG size', () => {
    const tseg = (size: string) => `<smm state='on'><tseg unit='KiB'>${size}</tseg></smm>`;
    rejects({ machine: 'pc', features: tseg('49152') }, 'CONFIG_UNSUPPORTED', 'unsupported configuration: SMM TSEG is only supported with q35 machine type', '/domain/features/smm/tseg');
    rejects({ machine: 'q35', features: tseg('1536') }, 'CONFIG_UNSUPPORTED', 'unsupported configuration: SMM TSEG size must be divisible by 1 MiB', '/domain/features/smm/tseg');
    assert.doesNotThrow(() => define({ machine: 'q35', features: tseg('49152') }));
    // Without SMM on, the size is not looked at.
    assert.doesNotThrow(() => define({ machine: 'pc', features: "<smm state='off'><tseg unit='KiB'>1536</tseg></smm>" }));
  });

  it('gives NUMA cell 0 the vCPUs no cell lists', () => {
    const r = define({
      vcpu: '<vcpu>4</vcpu>',
      cpu: "<cpu><numa><cell id='0' cpus='0' memory='262144' unit='KiB'/><cell id='1' cpus='2' memory='262144' unit='KiB'/></numa></cpu>",
    });
    assert.deepEqual(r.def.cpu?.numa?.cells?.map((c) => c.cpus), ['0-1,3', '2']);
    filled(r.provenance, '/domain/cpu/numa/cell[1]/@cpus', 'numa-cpus-fill', '0-1,3');
  });

  it('gives a read-only pflash loader its variable store', () => {
    const r = define({ machine: 'q35', features: '<acpi/>', os: "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS.fd'/>" });
    assert.equal(r.def.os?.nvram?.text, '/var/lib/libvirt/qemu/nvram/guest-a_VARS.fd');
    assert.equal(r.def.os?.nvram?.template, '/usr/share/OVMF/OVMF_VARS.fd');
    filled(r.provenance, '/domain/os/nvram', 'nvram-default', '/var/lib/libvirt/qemu/nvram/guest-a_VARS.fd');
    const stateless = define({ machine: 'q35', features: '<acpi/>', os: "<loader readonly='yes' type='pflash' stateless='yes'>/usr/share/OVMF/OVMF_CODE.fd</loader>" });
    assert.equal(stateless.def.os?.nvram, undefined);
  });

  it("turns a VNC socket in libvirt's own directory into an address listen", () => {
    const r = define({ devices: "<graphics type='vnc'><listen type='socket' socket='/var/lib/libvirt/qemu/guest-a.vnc'/></graphics>" });
    const listen = r.def.devices?.graphics?.[0]?.listens?.[0];
    assert.equal(listen?.type, 'address');
    assert.equal(listen?.socket, undefined);
    filled(r.provenance, '/domain/devices/graphics[1]/listen[1]/@type', 'vnc-socket-recheck', 'address');
    const mine = define({ devices: "<graphics type='vnc'><listen type='socket' socket='/run/vnc/guest-a.sock'/></graphics>" });
    assert.equal(mine.def.devices?.graphics?.[0]?.listens?.[0]?.socket, '/run/vnc/guest-a.sock');
  });
});

describe('qemu opaque data', () => {
  it('knows the machine families and the binary', () => {
    assert.ok(isQ35({ os: { type: { arch: 'x86_64', machine: 'pc-q35-6.2' } } }));
    assert.ok(!isQ35({ os: { type: { arch: 'aarch64', machine: 'q35' } } }));
    assert.ok(isI440fx({ os: { type: { arch: 'i686', machine: 'rhel6.5.0' } } }));
    const data = createQemuData(caps, { type: 'kvm', os: { type: { arch: 'x86_64', text: 'hvm' } }, devices: { emulator: '/usr/bin/qemu-system-x86_64' } });
    assert.equal(data.preferredMachine, 'pc-i440fx-7.2');
    assert.equal(data.canonicalMachine('q35'), 'pc-q35-7.2');
    assert.equal(data.canonicalMachine('pc-q35-7.2'), undefined);
    assert.equal(data.machineDefaultCPU('pc'), undefined, 'the default CPU is looked up by the versioned name only');
    assert.equal(data.machineDefaultCPU('pc-q35-7.2'), 'qemu64');
    assert.ok(data.has('qemu-xhci') && data.has('mch.extended-tseg-mbytes'));
  });
});
