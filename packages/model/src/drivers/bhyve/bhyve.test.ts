import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prov, rejects } from '../../testing.ts';
import { produce } from 'immer';
import { bhyveCaps, bookwormQemuCaps } from '../../caps/index.ts';
import { formatDomainXML } from '../../domain/format.ts';
import { readDomain as parseDomain } from '../../domain/parse.ts';
import { defineDomain, postParseDomain } from '../../postparse/runner.ts';
import { defaultRegistry } from '../index.ts';
import { bhyveDriver, diskNameToIndex, makeBhyveDriver } from './index.ts';

const random = (b: Uint8Array) => b.fill(0x11);
// A QEMU host's capabilities: no bhyve guest, so the driver falls back to its own.
const caps = bookwormQemuCaps;
const registry = defaultRegistry();
const UUID = '0b7b1a66-3c6e-4f8a-9d7e-2a1b0c9d8e7f';

function vm(devices = '', opts: { os?: string; type?: string; extra?: string } = {}): string {
  return `<domain type='${opts.type ?? 'bhyve'}'>
  <name>b1</name>
  <uuid>${UUID}</uuid>
  <memory unit='MiB'>256</memory>${opts.extra ?? ''}
  <os>${opts.os ?? '<type>hvm</type>'}</os>
  <devices>${devices}</devices>
</domain>`;
}

const SATA_HDA = "<disk type='file' device='disk'><source file='/a.img'/><target dev='hda' bus='sata'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>";
const NET = "<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>";



function slot(dev: { address?: { type?: string; slot?: string } } | undefined): string | undefined {
  return dev?.address?.type === 'pci' ? dev.address.slot : dev?.address?.type;
}

describe('bhyve driver: capabilities', () => {
  it('offers one guest, hvm on x86_64', () => {
    assert.deepEqual(bhyveCaps().guests.map((g) => [g.osType, g.arch, g.emulator, g.domains[0]?.type]), [['hvm', 'x86_64', 'bhyve', 'bhyve']]);
    assert.equal(defineDomain(vm(), { caps, registry, random }).driver, 'bhyve');
  });

  it('refuses what its capabilities do not offer', () => {
    rejects(() => defineDomain(vm('', { type: 'kvm' }), { caps, driver: bhyveDriver, random }), 'INVALID_ARG', 'invalid argument: could not find capabilities for arch=x86_64 domaintype=kvm ', '/domain/os/type');
    rejects(() => defineDomain(vm('', { os: "<type arch='i686'>hvm</type>" }), { caps, registry, random }), 'INVALID_ARG', 'invalid argument: could not find capabilities for arch=i686 domaintype=bhyve ');
  });
});

describe('bhyve driver: controllers', () => {
  it('appends the pci-root, and the ISA controller only when something needs it', () => {
    const plain = defineDomain(vm(NET), { caps, registry, random });
    assert.deepEqual(plain.def.devices?.controllers, [{ type: 'pci', index: '0', model: 'pci-root' }]);
    assert.deepEqual(prov(plain.provenance, '/domain/devices/controller[1]/@model'), { value: 'pci-root', driver: 'bhyve', rule: 'pci-root' });

    const serial = defineDomain(vm("<serial type='nmdm'/>"), { caps, registry, random });
    assert.deepEqual(serial.def.devices?.controllers?.map((c) => [c.type, c.index, c.model]), [['pci', '0', 'pci-root'], ['isa', '0', undefined]]);
    assert.deepEqual(prov(serial.provenance, '/domain/devices/controller[2]/@type'), { value: 'isa', driver: 'bhyve', rule: 'isa-controller' });

    for (const os of ["<type>hvm</type><loader readonly='yes' type='pflash'>/u.fd</loader>"]) {
      assert.ok(defineDomain(vm('', { os }), { caps, registry, random }).def.devices?.controllers?.some((c) => c.type === 'isa'));
    }
    const bootloader = defineDomain(vm('', { os: "<type>hvm</type><loader readonly='yes' type='pflash'>/u.fd</loader>", extra: '<bootloader>/usr/sbin/bhyveload</bootloader>' }), { caps, registry, random });
    assert.ok(!bootloader.def.devices?.controllers?.some((c) => c.type === 'isa'));
  });

  it('keeps a user pci-root and refuses one with a non-zero index', () => {
    const r = defineDomain(vm("<controller type='pci' index='0' model='pci-root'/>"), { caps, registry, random });
    assert.equal(r.def.devices?.controllers?.length, 1);
    rejects(() => defineDomain(vm("<controller type='pci' index='0' model='pci-root'/><controller type='pci' index='1' model='pci-root'/>"), { caps, registry, random }), 'XML_ERROR', 'XML error: pci-root and pcie-root controllers should have index 0', '/domain/devices/controller[2]/@index');
  });

  it('refuses a second ISA controller without saying why, as libvirt does', () => {
    rejects(() => defineDomain(vm("<controller type='isa' index='1'/>"), { caps, registry, random }), 'INTERNAL_ERROR', 'internal error: An error occurred, but the cause is unknown', '/domain/devices/controller[1]/@index');
  });
});

describe('bhyve driver: devices', () => {
  it('reads disk names as libvirt does', () => {
    assert.deepEqual(['sda', 'hdz', 'vdaa', 'xvdb3', 'ubdc', 'fdb'].map(diskNameToIndex), [0, 25, 26, 1, 2, 1]);
    assert.deepEqual(['da0', 'hd', 'sdA', 'sda1x', 'nvme0n1'].map(diskNameToIndex), [-1, -1, -1, -1, -1]);
  });

  it('gives explicit SATA disks their AHCI port, 32 per controller', () => {
    const disk = (dev: string) => `<disk type='file' device='disk'><source file='/${dev}.img'/><target dev='${dev}' bus='sata'/></disk>`;
    const r = defineDomain(vm(disk('hdb') + disk('sdah')), { caps, registry, random });
    const [a, b] = r.def.devices!.disks!;
    assert.deepEqual(a?.address, { type: 'drive', controller: '0', bus: '0', target: '0', unit: '1' });
    assert.deepEqual(b?.address, { type: 'drive', controller: '1', bus: '0', target: '0', unit: '1' });
    assert.deepEqual(prov(r.provenance, '/domain/devices/disk[1]/address/@unit'), { value: '1', driver: 'bhyve', rule: 'sata-drive-address' });
    const legacy = defineDomain(vm(disk('hdb')), { caps, driver: makeBhyveDriver({ ahci32slot: false }), random });
    assert.deepEqual(legacy.def.devices?.disks?.[0]?.address, { type: 'drive', controller: '1', bus: '0', target: '0', unit: '0' });
  });

  it('refuses a disk name it cannot read when there is no address', () => {
    rejects(() => defineDomain(vm("<disk type='file' device='disk'><source file='/a'/><target dev='da0' bus='virtio'/></disk>"), { caps, registry, random }), 'XML_ERROR', "XML error: Unknown disk name 'da0' and no address specified", '/domain/devices/disk[1]/target/@dev');
  });

  it("makes the default video bhyve's GOP framebuffer", () => {
    const parsed = produce(parseDomain(vm("<graphics type='vnc'/><video/>"), { random }).def, (d) => {
      d.devices!.videos = [{}];
    });
    const r = postParseDomain(parsed, { caps, registry, random });
    assert.equal(r.def.devices?.videos?.[0]?.model?.type, 'gop');
    assert.deepEqual(prov(r.provenance, '/domain/devices/video[1]/model/@type'), { value: 'gop', driver: 'bhyve', rule: 'video-model-default' });
  });

  it('names nmdm devices after the domain UUID', () => {
    const r = defineDomain(vm("<serial type='nmdm'/><console type='nmdm'><source master='/dev/nmdm0A' slave='/dev/nmdm0B'/></console>"), { caps, registry, random });
    const src = r.def.devices?.serials?.[0]?.sources?.[0];
    assert.deepEqual(src, { master: `/dev/nmdm${UUID}A`, slave: `/dev/nmdm${UUID}B` });
    assert.deepEqual(prov(r.provenance, '/domain/devices/serial[1]/source[1]/@master'), { value: `/dev/nmdm${UUID}A`, driver: 'bhyve', rule: 'nmdm-paths' });
  });
});

describe('bhyve driver: PCI slots', () => {
  it('keeps slot 1 for the LPC bridge, then controllers, interfaces and virtio disks in order', () => {
    const vdb = "<disk type='file' device='disk'><source file='/b.img'/><target dev='vdb' bus='virtio'/></disk>";
    const r = defineDomain(vm(SATA_HDA + NET + vdb + "<serial type='nmdm'/>"), { caps, registry, random });
    const d = r.def.devices!;
    const byType = (t: string) => d.controllers!.find((c) => c.type === t);
    assert.equal(byType('pci')?.address, undefined);
    assert.equal(slot(byType('isa')), '0x01');
    assert.equal(slot(byType('sata')), '0x02');
    assert.equal(slot(d.interfaces![0]), '0x03');
    assert.equal(slot(d.disks![1]), '0x04');
    assert.equal(slot(d.disks![0]), 'drive');
    assert.deepEqual(prov(r.provenance, '/domain/devices/interface[1]/address/@slot'), { value: '0x03', driver: 'bhyve', rule: 'pci-slots' });
    assert.match(formatDomainXML(r.def), /<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'\/>/);
  });

  it('reserves slot 1 even without an ISA controller, and gives the ISA controller another slot when slot 1 is taken', () => {
    const plain = defineDomain(vm(NET), { caps, registry, random });
    assert.equal(slot(plain.def.devices!.interfaces![0]), '0x02');
    const taken = NET.replace('</interface>', "<address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></interface>");
    const r = defineDomain(vm(taken + "<serial type='nmdm'/>"), { caps, registry, random });
    assert.equal(slot(r.def.devices!.interfaces![0]), '0x01');
    assert.equal(slot(r.def.devices!.controllers!.find((c) => c.type === 'isa')), '0x02');
  });

  it('refuses PCI addresses bhyve cannot give', () => {
    const at = (addr: string, n = 1) => vm(NET.replace('</interface>', `<address type='pci' ${addr}/></interface>`).repeat(n));
    rejects(() => defineDomain(at("domain='0x0001' bus='0x00' slot='0x03' function='0x0'"), { caps, registry, random }), 'XML_ERROR', 'XML error: Invalid PCI address 0001:00:03.0. Only PCI domain 0 is available', '/domain/devices/interface[1]/address');
    rejects(() => defineDomain(at("domain='0x0000' bus='0x01' slot='0x03' function='0x0'"), { caps, registry, random }), 'XML_ERROR', 'XML error: Invalid PCI address 0000:01:03.0. Only PCI buses up to 0 are available');
    rejects(() => defineDomain(at("domain='0x0000' bus='0x00' slot='0x03' function='0x0'", 2), { caps, registry, random }), 'XML_ERROR', 'XML error: Attempted double use of PCI Address 0000:00:03.0', '/domain/devices/interface[2]/address');
  });

  it('runs out of slots after 31', () => {
    rejects(() => defineDomain(vm(NET.repeat(31)), { caps, registry, random }), 'INTERNAL_ERROR', 'internal error: No more available PCI slots', '/domain/devices/interface[31]/address');
    assert.ok(defineDomain(vm(NET.repeat(30)), { caps, registry, random }));
  });
});

describe('bhyve driver: the bhyve:commandline block', () => {
  const NS = 'http://libvirt.org/schemas/domain/bhyve/1.0';
  it('is written back with the bhyve prefix, last in <domain>', () => {
    const xml = vm().replace("<domain type='bhyve'>", `<domain type='bhyve' xmlns:bhyve='${NS}'>`).replace('<memory', "<bhyve:commandline><bhyve:arg value='-H'/></bhyve:commandline><memory");
    const out = formatDomainXML(defineDomain(xml, { caps, registry, random }).def);
    assert.match(out, /<\/devices>\s*<bhyve:commandline>\s*<bhyve:arg value='-H'\/>\s*<\/bhyve:commandline>\s*<\/domain>/);
    const empty = vm().replace("<domain type='bhyve'>", `<domain type='bhyve' xmlns:bhyve='${NS}'>`).replace('</devices>', '</devices><bhyve:commandline/>');
    assert.doesNotMatch(formatDomainXML(defineDomain(empty, { caps, registry, random }).def), /bhyve:|xmlns:bhyve/);
  });

  it('refuses an argument without a value', () => {
    const xml = vm().replace("<domain type='bhyve'>", `<domain type='bhyve' xmlns:bhyve='${NS}'>`).replace('</devices>', "</devices><bhyve:commandline><bhyve:arg value='a'/><bhyve:arg/></bhyve:commandline>");
    rejects(() => defineDomain(xml, { caps, registry, random }), 'INTERNAL_ERROR', 'internal error: No bhyve command-line argument specified', '/domain/bhyve:commandline/bhyve:arg[2]/@value');
  });
});
