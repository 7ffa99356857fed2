import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prov, rejects } from '../../testing.ts';
import { produce } from 'immer';
import { bookwormQemuCaps, xenCaps } from '../../caps/index.ts';
import { formatDomainXML } from '../../domain/format.ts';
import { readDomain as parseDomain } from '../../domain/parse.ts';
import { defineDomain, postParseDomain } from '../../postparse/runner.ts';
import { defaultRegistry } from '../index.ts';
import { makeXenDriver, xenDriver } from './index.ts';

const random = (b: Uint8Array) => b.fill(0x2a);
// A QEMU host's capabilities: no xen guest, so the driver falls back to its own.
const caps = bookwormQemuCaps;
const registry = defaultRegistry();

function hvm(devices = '', opts: { os?: string; type?: string; extra?: string } = {}): string {
  return `<domain type='${opts.type ?? 'xen'}'>
  <name>x1</name>
  <memory unit='MiB'>512</memory>
  <os>${opts.os ?? '<type>hvm</type>'}</os>${opts.extra ?? ''}
  <devices>${devices}</devices>
</domain>`;
}
const PV = "<type>linux</type><kernel>/boot/vmlinuz</kernel>";



describe('xen driver: capabilities', () => {
  it('builds the guests of a typical x86_64 host', () => {
    const c = xenCaps('x86_64');
    assert.deepEqual(c.guests.map((g) => [g.osType, g.arch, g.machines[0]?.name]), [
      ['xen', 'x86_64', 'xenpv'],
      ['hvm', 'i686', 'xenfv'],
      ['xenpvh', 'i686', 'xenpvh'],
      ['hvm', 'x86_64', 'xenfv'],
      ['xenpvh', 'x86_64', 'xenpvh'],
    ]);
    assert.ok(c.guests.every((g) => g.emulator === '/usr/lib/xen/bin/qemu-system-i386' && g.domains[0]?.type === 'xen'));
    assert.deepEqual(xenCaps('x86_64', { pvh: false }).guests.map((g) => g.osType), ['xen', 'hvm', 'hvm']);
  });

  it('is registered for type xen', () => {
    assert.equal(defineDomain(hvm(), { caps, registry, random }).driver, 'xen');
  });

  it('refuses what its capabilities do not offer (in validation)', () => {
    rejects(() => defineDomain(hvm('', { type: 'kvm' }), { caps, driver: xenDriver, random }), 'INVALID_ARG', 'invalid argument: could not find capabilities for arch=x86_64 domaintype=kvm ', '/domain/os/type');
    rejects(() => defineDomain(hvm('', { type: 'kvm', os: '<type>xen</type><kernel>/k</kernel>' }), { caps, driver: xenDriver, random }), 'INVALID_ARG', 'invalid argument: could not find capabilities for ostype=xen arch=x86_64 domaintype=kvm ');
    // <type>linux</type> means xen only for domain type xen.
    rejects(() => defineDomain(hvm('', { type: 'kvm', os: PV }), { caps, driver: xenDriver, random }), 'INVALID_ARG', 'invalid argument: could not find capabilities for ostype=linux arch=x86_64 domaintype=kvm ');
    const noPvh = makeXenDriver({ buildCaps: (a) => xenCaps(a, { pvh: false }) });
    rejects(() => defineDomain(hvm('', { os: '<type>xenpvh</type><kernel>/k</kernel>' }), { caps, driver: noPvh, random }), 'INVALID_ARG', 'invalid argument: could not find capabilities for ostype=xenpvh arch=x86_64 domaintype=xen ');
    assert.ok(defineDomain(hvm('', { os: '<type>xenpvh</type><kernel>/k</kernel>' }), { caps, registry, random }));
  });
});

describe('xen driver: domain defaults', () => {
  it("generates MACs with Xen's prefix and drops vif target names", () => {
    const r = defineDomain(hvm("<interface type='bridge'><source bridge='br0'/><target dev='vif3.0'/></interface>"), { caps, registry, random });
    const net = r.def.devices?.interfaces?.[0];
    assert.equal(net?.mac?.address, '00:16:3e:2a:2a:2a');
    assert.equal(net?.target, undefined);
    assert.deepEqual(prov(r.provenance, '/domain/devices/interface[1]/target'), { value: null, driver: 'xen', rule: 'vif-target-drop' });
  });

  it('gives a PV guest a xen console, xen inputs, a xen balloon and a xenbus controller', () => {
    const r = defineDomain(hvm('', { os: PV }), { caps, registry, random });
    const d = r.def.devices!;
    assert.deepEqual(d.consoles, [{ type: 'pty', target: { type: 'xen', port: '0' } }]);
    assert.deepEqual(d.inputs?.map((i) => [i.type, i.bus]), [['mouse', 'xen'], ['keyboard', 'xen']]);
    assert.equal(d.memballoon?.model, 'xen');
    assert.deepEqual(d.controllers?.find((c) => c.type === 'xenbus'), { type: 'xenbus', index: '0' });
    assert.deepEqual(prov(r.provenance, '/domain/devices/console[1]/target/@type'), { value: 'xen', driver: 'xen', rule: 'pv-console' });
    assert.deepEqual(prov(r.provenance, '/domain/devices/input[1]/@bus'), { value: 'xen', driver: 'xen', rule: 'implicit-inputs' });
    assert.deepEqual(prov(r.provenance, '/domain/devices/memballoon/@model'), { value: 'xen', driver: 'xen', rule: 'memballoon-default' });
    assert.deepEqual(prov(r.provenance, '/domain/devices/controller[1]/@type'), { value: 'xenbus', driver: 'xen', rule: 'xenbus-controller' });
    assert.equal(r.def.os?.type?.text, 'xen');
  });

  it('gives an HVM guest ps2 inputs after the user ones, and no console', () => {
    const r = defineDomain(hvm("<input type='tablet' bus='usb'/><input type='mouse' bus='ps2'/>"), { caps, registry, random });
    assert.deepEqual(r.def.devices?.inputs?.map((i) => [i.type, i.bus]), [['tablet', 'usb'], ['mouse', 'ps2'], ['keyboard', 'ps2']]);
    assert.equal(r.def.devices?.consoles, undefined);
    assert.deepEqual(prov(r.provenance, '/domain/devices/input[3]/@type'), { value: 'keyboard', driver: 'xen', rule: 'implicit-inputs' });
  });

  it('keeps a user balloon', () => {
    const r = defineDomain(hvm("<memballoon model='none'/>"), { caps, registry, random });
    assert.equal(r.def.devices?.memballoon?.model, 'none');
  });

  it('forces PAE on x86_64 HVM, and ACPI with vNUMA', () => {
    const numa = "<cpu><numa><cell id='0' cpus='0' memory='512' unit='MiB'/></numa></cpu>";
    const r = defineDomain(hvm('', { extra: `<features><apic/></features>${numa}` }), { caps, registry, random });
    assert.deepEqual(r.def.features?.pae, {});
    assert.deepEqual(r.def.features?.acpi, {});
    assert.deepEqual(prov(r.provenance, '/domain/features/pae'), { value: '', driver: 'xen', rule: 'hvm-features' });
    const plain = defineDomain(hvm(), { caps, registry, random });
    assert.deepEqual(plain.def.features?.pae, {});
    assert.equal(plain.def.features?.acpi, undefined);
    const i686 = defineDomain(hvm('', { os: "<type arch='i686'>hvm</type>" }), { caps, registry, random });
    assert.equal(i686.def.features, undefined);
    const pv = defineDomain(hvm('', { os: PV }), { caps, registry, random });
    assert.equal(pv.def.features, undefined);
  });
});

describe('xen driver: device defaults', () => {
  /** The video as the driver receives it: a <video> without a model. */
  function withBareVideo(xml: string) {
    return produce(parseDomain(xml, { random }).def, (d) => {
      d.devices!.videos = [{}];
    });
  }

  it('picks the video model and, for HVM, the vram of the device model', () => {
    const r = postParseDomain(withBareVideo(hvm('<video/>')), { caps, registry, random });
    assert.equal(r.def.devices?.videos?.[0]?.model?.type, 'cirrus');
    assert.equal(r.def.devices?.videos?.[0]?.model?.vram, '8192');
    assert.deepEqual(prov(r.provenance, '/domain/devices/video[1]/model/@type'), { value: 'cirrus', driver: 'xen', rule: 'video-model-default' });
    assert.deepEqual(prov(r.provenance, '/domain/devices/video[1]/model/@vram'), { value: '8192', driver: 'xen', rule: 'video-model-default' });

    const trad = makeXenDriver({ deviceModel: (path) => (path.endsWith('qemu-dm') ? 'qemu-traditional' : 'qemu-xen') });
    const t = postParseDomain(withBareVideo(hvm('<emulator>/usr/lib/xen/bin/qemu-dm</emulator><video/>')), { caps, driver: trad, random });
    assert.equal(t.def.devices?.videos?.[0]?.model?.vram, '4096');

    const pv = postParseDomain(withBareVideo(hvm('<video/>', { os: PV })), { caps, registry, random });
    assert.equal(pv.def.devices?.videos?.[0]?.model?.type, 'xen');
    // libxl leaves a PV video's memory alone; libvirt's generic default for a xen video is 4096 KiB.
    assert.equal(pv.def.devices?.videos?.[0]?.model?.vram, '4096');
    assert.equal(prov(pv.provenance, '/domain/devices/video[1]/model/@vram')?.driver, 'generic');
  });

  it('gives disks the raw format, and network disks the qemu driver', () => {
    const r = defineDomain(
      hvm(`<disk type='file' device='disk'><source file='/x.img'/><target dev='xvda'/></disk>
           <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/y.qcow2'/><target dev='xvdb'/></disk>
           <disk type='network' device='disk'><source protocol='nbd' name='e'><host name='h' port='10809'/></source><target dev='xvdc'/></disk>`),
      { caps, registry, random },
    );
    const disks = r.def.devices!.disks!;
    assert.deepEqual(disks.map((d) => [d.driver?.name, d.driver?.type]), [[undefined, 'raw'], ['qemu', 'qcow2'], ['qemu', 'raw']]);
    assert.deepEqual(prov(r.provenance, '/domain/devices/disk[1]/driver/@type'), { value: 'raw', driver: 'xen', rule: 'disk-driver-default' });
    assert.deepEqual(prov(r.provenance, '/domain/devices/disk[3]/driver/@name'), { value: 'qemu', driver: 'xen', rule: 'disk-driver-default' });
  });

  it('passes PCI hostdevs through the xen backend', () => {
    const r = defineDomain(
      hvm(`<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>
           <interface type='hostdev'><source><address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x1'/></source></interface>`),
      { caps, registry, random },
    );
    assert.equal(r.def.devices?.hostdevs?.[0]?.driver?.name, 'xen');
    assert.equal(r.def.devices?.interfaces?.[0]?.driver?.name, 'xen');
    assert.deepEqual(prov(r.provenance, '/domain/devices/hostdev[1]/driver/@name'), { value: 'xen', driver: 'xen', rule: 'hostdev-backend-xen' });
  });

  it("refuses capabilities-mode hostdevs", () => {
    rejects(
      () => defineDomain(hvm("<hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>"), { caps, registry, random }),
      'CONFIG_UNSUPPORTED',
      "unsupported configuration: hostdev mode 'capabilities' is not supported in xen",
      '/domain/devices/hostdev[1]/@mode',
    );
  });
});

describe('xen driver: validation', () => {
  it('refuses secure boot', () => {
    const msg = 'unsupported configuration: Secure boot is not supported on Xen';
    rejects(() => defineDomain(hvm('', { os: "<type>hvm</type><firmware><feature enabled='no' name='secure-boot'/></firmware>" }).replace('<os>', "<os firmware='efi'>"), { caps, registry, random }), 'CONFIG_UNSUPPORTED', msg, '/domain/os/firmware');
    rejects(() => defineDomain(hvm('', { os: "<type>hvm</type><loader type='pflash' secure='yes' readonly='yes'>/ovmf.fd</loader>" }), { caps, registry, random }), 'CONFIG_UNSUPPORTED', msg, '/domain/os/loader/@secure');
    assert.ok(defineDomain(hvm('', { os: "<type>hvm</type><loader type='pflash' readonly='yes'>/ovmf.fd</loader>" }), { caps, registry, random }));
  });

  it('checks the first sound model only', () => {
    rejects(() => defineDomain(hvm("<sound model='ich9'/><sound model='ac97'/>"), { caps, registry, random }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: unsupported audio model ich9', '/domain/devices/sound[1]/@model');
    assert.ok(defineDomain(hvm("<sound model='ac97'/><sound model='ich9'/>"), { caps, registry, random }));
  });
});

describe('xen driver: the xen:commandline block', () => {
  const NS = 'http://libvirt.org/schemas/domain/xen/1.0';
  it('is written back with the xen prefix, last in <domain>', () => {
    const xml = hvm().replace("<domain type='xen'>", `<domain type='xen' xmlns:q='${NS}'>`).replace('<devices>', "<q:commandline><q:arg value='-a'/><q:arg value='b c'/></q:commandline><devices>");
    const out = formatDomainXML(defineDomain(xml, { caps, registry, random }).def);
    assert.match(out, new RegExp(`^<domain type='xen' xmlns:xen='${NS}'>`));
    assert.match(out, /<\/devices>\s*<xen:commandline>\s*<xen:arg value='-a'\/>\s*<xen:arg value='b c'\/>\s*<\/xen:commandline>\s*<\/domain>/);
  });

  it('refuses an argument without a value', () => {
    const xml = hvm().replace("<domain type='xen'>", `<domain type='xen' xmlns:xen='${NS}'>`).replace('</devices>', '</devices><xen:commandline><xen:arg/></xen:commandline>');
    rejects(() => defineDomain(xml, { caps, registry, random }), 'INTERNAL_ERROR', 'internal error: No device model command-line argument specified', '/domain/xen:commandline/xen:arg[1]/@value');
  });
});
