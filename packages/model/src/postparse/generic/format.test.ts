/**
 * The generic format phase (libvirt's formatter spelling of what its parser
 * stored), the disk order, the metadata namespaces and the writer's own
 * forms, each on a small domain of its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookwormQemuCaps } from '../../caps/index.ts';
import { formatDomainXML } from '../../domain/format.ts';
import type { DomainDef } from '../../domain/types.ts';
import { testDriver } from '../../drivers/index.ts';
import { parseDomainXML } from '../../parse.ts';
import { defineDomain } from '../runner.ts';

const random = (b: Uint8Array) => b.fill(0x11);

interface Parts {
  devices?: string;
  /** Elements between <vcpu> and <os>. */
  tuning?: string;
  /** Children of <os> after <type>. */
  os?: string;
  /** Elements after <os>. */
  extra?: string;
  memory?: string;
  arch?: string;
  /** Elements after <devices>. */
  tail?: string;
}

function domain(p: Parts = {}): string {
  return `<domain type='kvm'>
  <name>vm1</name>
  ${p.memory ?? "<memory unit='MiB'>512</memory>"}
  <vcpu>4</vcpu>${p.tuning ?? ''}
  <os><type arch='${p.arch ?? 'x86_64'}' machine='pc'>hvm</type>${p.os ?? ''}</os>${p.extra ?? ''}
  <devices>${p.devices ?? ''}</devices>${p.tail ?? ''}
</domain>`;
}

const parse = (p: Parts): DomainDef => parseDomainXML(domain(p), { random });
const xml = (p: Parts, secure = false): string => formatDomainXML(parse(p), { secure });

describe('format: device addresses', () => {
  it('writes PCI fields in hex, and an all-zero PCI address as none', () => {
    const d = parse({
      devices: `<memballoon model='virtio'><address type='pci' domain='0' bus='0' slot='18' function='1' multifunction='on'/></memballoon>
        <watchdog model='i6300esb'><address type='pci' domain='0' bus='0' slot='0' function='3'/></watchdog>`,
    });
    assert.deepEqual({ ...d.devices?.memballoon?.address }, { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x12', function: '0x1', multifunction: 'on' });
    assert.deepEqual({ ...d.devices?.watchdog?.address }, { type: 'pci' });
  });

  it('writes every drive, virtio-serial and CCW field, and s390 zPCI ids in full', () => {
    const d = parse({
      devices: `<disk type='file' device='disk'><source file='/a.img'/><target dev='hda' bus='ide'/><address type='drive' controller='0' bus='0' unit='1'/></disk>
        <channel type='pty'><target type='virtio' name='org.x'/><address type='virtio-serial' controller='1'/></channel>
        <hostdev mode='subsystem' type='pci'><source><address domain='0' bus='222' slot='31' function='1'/></source><address type='pci'><zpci uid='0x1'/></address></hostdev>
        <memballoon model='virtio'><address type='ccw' cssid='254' ssid='0' devno='10'/></memballoon>`,
    });
    assert.deepEqual({ ...d.devices?.disks?.[0]?.address }, { type: 'drive', controller: '0', bus: '0', target: '0', unit: '1' });
    assert.deepEqual({ ...d.devices?.channels?.[0]?.address }, { type: 'virtio-serial', controller: '1', bus: '0', port: '0' });
    const h = d.devices?.hostdevs?.[0];
    assert.deepEqual({ ...h?.source?.address }, { domain: '0x0000', bus: '0xde', slot: '0x1f', function: '0x1' });
    assert.deepEqual({ ...h?.address?.zpci }, { uid: '0x0001', fid: '0x00000000' });
    assert.deepEqual({ ...d.devices?.memballoon?.address }, { type: 'ccw', cssid: '0xfe', ssid: '0x0', devno: '0x000a' });
  });

  it('writes managed="no" for a subsystem host device not asked to be managed', () => {
    const d = parse({ devices: "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>" });
    assert.equal(d.devices?.hostdevs?.[0]?.managed, 'no');
  });

  it('upper-cases an s390 loadparm', () => {
    const d = parse({ devices: "<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/><boot order='1' loadparm='system1'/></disk>" });
    assert.equal(d.devices?.disks?.[0]?.boot?.loadparm, 'SYSTEM1');
  });
});

describe('format: CPU and features', () => {
  it('gives a custom CPU with a model its mode, match and fallback', () => {
    const cpu = parse({ extra: "<cpu match='exact'><model>core2duo</model></cpu>" }).cpu;
    assert.deepEqual([cpu?.mode, cpu?.match, cpu?.model?.fallback], ['custom', 'exact', 'allow']);
  });

  it('drops a nameless model of a host-model CPU, the model of a passthrough CPU and an empty <cpu/>', () => {
    assert.deepEqual({ ...parse({ extra: "<cpu mode='host-model'><model fallback='allow'/></cpu>" }).cpu }, { mode: 'host-model' });
    assert.equal(parse({ extra: "<cpu mode='host-passthrough'><model>qemu64</model></cpu>" }).cpu?.model, undefined);
    assert.equal(parse({ extra: '<cpu/>' }).cpu, undefined);
  });

  it('switches presence-only features on, defaults the hyperv mode and scales TSEG and HPT sizes', () => {
    const f = parse({ extra: "<features><pmu/><vmcoreinfo/><hyperv><relaxed state='on'/></hyperv><smm><tseg unit='KiB'>49152</tseg></smm><hpt resizing='required'><maxpagesize unit='GiB'>1</maxpagesize></hpt></features>" }).features;
    assert.equal(f?.pmu?.state, 'on');
    assert.equal(f?.vmcoreinfo?.state, 'on');
    assert.equal(f?.hyperv?.mode, 'custom');
    assert.deepEqual({ ...f?.smm?.tseg }, { unit: 'MiB', text: '48' });
    assert.deepEqual({ ...f?.hpt?.maxpagesize }, { unit: 'KiB', text: '1048576' });
  });
});

describe('format: memory and NUMA', () => {
  it('writes hugepage sizes in KiB and drops unlimited memory limits', () => {
    const d = parse({ tuning: "<memtune><hard_limit unit='KiB'>9007199254740991</hard_limit></memtune><memoryBacking><hugepages><page size='5' unit='MiB' nodeset='0-1,^1'/></hugepages></memoryBacking>" });
    assert.equal(d.memtune, undefined);
    assert.deepEqual({ ...d.memoryBacking?.hugepages?.pages?.[0] }, { size: '5120', unit: 'KiB', nodeset: '0' });
  });

  it('orders NUMA cells by id, in KiB, with symmetric distances', () => {
    const cells = parse({
      memory: "<memory unit='KiB'>2048</memory>",
      extra: `<cpu><numa>
        <cell id='1' cpus='2-3' memory='1' unit='MiB'/>
        <cell id='0' cpus='0-1' memory='1024'><distances><sibling id='0' value='10'/><sibling id='1' value='21'/></distances></cell>
      </numa></cpu>`,
    }).cpu?.numa?.cells;
    assert.deepEqual(cells?.map((c) => [c.id, c.memory, c.unit]), [['0', '1024', 'KiB'], ['1', '1024', 'KiB']]);
    assert.deepEqual(cells?.[1]?.distances?.siblings?.map((s) => [s.id, s.value]), [['0', '21'], ['1', '10']]);
  });

  it('resolves the numatune placement and writes node sets compactly', () => {
    assert.deepEqual({ ...parse({ tuning: "<numatune><memory nodeset='0-5,^4'/></numatune>" }).numatune?.memory }, { mode: 'strict', nodeset: '0-3,5' });
    const auto = parse({ tuning: "<numatune><memory mode='preferred' placement='auto'/></numatune>" });
    assert.deepEqual({ ...auto.numatune?.memory }, { mode: 'preferred', placement: 'auto' });
    assert.equal(auto.vcpu?.placement, 'auto');
  });

  it('takes the total memory from the NUMA cells when <memory> is absent, or always for a define that updates the ABI', () => {
    const numa = "<cpu><numa><cell id='0' cpus='0-1' memory='1024'/><cell id='1' cpus='2-3' memory='1024'/></numa></cpu>";
    assert.equal(parse({ memory: '', extra: numa }).memory?.text, '2048');
    assert.equal(parse({ extra: numa }).memory?.text, '524288');
    const driver = { ...testDriver, parseFlags: { abiUpdate: true } };
    const d = defineDomain(domain({ extra: numa }), { caps: bookwormQemuCaps, driver, random }).def;
    assert.deepEqual([d.memory?.text, d.currentMemory?.text], ['2048', '2048']);
  });

  it('writes a shared memory device size in MiB with its model', () => {
    const s = parse({ devices: "<shmem name='s'><size unit='K'>12345</size></shmem>" }).devices?.shmems?.[0];
    assert.deepEqual([s?.model?.type, s?.size?.unit, s?.size?.text], ['ivshmem', 'M', '12']);
  });
});

describe('format: interfaces', () => {
  it("spells known models libvirt's way and keeps a <driver> and a vhost backend for virtio only", () => {
    const [a, b] = parse({
      devices: `<interface type='user'><model type='ViRtIo'/><driver queues='1' txmode='iothread'/><backend tap='/dev/tap' vhost='/dev/vhost-net'/></interface>
        <interface type='user'><model type='e1000'/><driver name='vhost' queues='5'/><backend tap='/dev/tap' vhost='/dev/vhost-net'/><filterref filter='clean'/></interface>`,
    }).devices!.interfaces!;
    assert.equal(a?.model?.type, 'virtio');
    assert.deepEqual({ ...a?.driver }, { txmode: 'iothread' });
    assert.equal(a?.backend?.vhost, '/dev/vhost-net');
    assert.equal(b?.driver, undefined);
    assert.deepEqual({ ...b?.backend }, { tap: '/dev/tap' });
    assert.equal(b?.filterref, undefined);
  });

  it("writes a hostdev interface's vfio driver before its source", () => {
    const out = xml({ devices: "<interface type='hostdev'><mac address='00:11:22:33:44:55'/><source><address type='pci' domain='0' bus='0' slot='7' function='0'/></source><model type='rtl8139'/><driver name='vfio'/></interface>" });
    assert.match(out, /<mac address='00:11:22:33:44:55'\/>\s*<driver name='vfio'\/>\s*<source>\s*<address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'\/>/);
  });
});

describe('format: disks', () => {
  it("keeps disks grouped by bus in target order, as libvirt inserts them", () => {
    const d = parse({
      devices: `<disk type='file' device='disk'><source file='/b'/><target dev='vdb' bus='virtio'/></disk>
        <disk type='file' device='disk'><source file='/h'/><target dev='hdb' bus='ide'/></disk>
        <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><source file='/g'/><target dev='hda' bus='ide'/></disk>`,
    });
    assert.deepEqual(d.devices?.disks?.map((x) => x.target?.dev), ['vda', 'vdb', 'hda', 'hdb']);
  });

  it("fills a network host's default port and drops what a persistent definition does not keep", () => {
    const [n, c] = parse({
      devices: `<disk type='network' device='disk'><source protocol='gluster' name='vol/img' index='3'><host name='example.org'/></source><mirror type='file' file='/c' job='copy'><source file='/c'/></mirror><target dev='vda' bus='virtio'/></disk>
        <disk type='block' device='cdrom' snapshot='no'><source dev='/dev/sr0'/><target dev='hdc' bus='ide' tray='closed'/><readonly/></disk>`,
    }).devices!.disks!;
    assert.equal(n?.source?.hosts?.[0]?.port, '24007');
    assert.equal(n?.source?.index, undefined);
    assert.equal(n?.mirror, undefined);
    assert.equal(c?.snapshot, undefined);
    assert.equal(c?.target?.tray, undefined);
  });

  it('leaves HTTP cookies out unless asked for secrets', () => {
    const p = { devices: "<disk type='network' device='cdrom'><source protocol='https' name='i.iso'><host name='h' port='443'/><cookies><cookie name='a'>b</cookie></cookies></source><target dev='hdc' bus='ide'/><readonly/></disk><graphics type='vnc' passwd='secret'/>" };
    assert.doesNotMatch(xml(p), /cookie|passwd/);
    assert.match(xml(p, true), /<cookie name='a'>b<\/cookie>/);
    assert.match(xml(p, true), /passwd='secret'/);
  });
});

describe('format: domain-wide parts', () => {
  it('drops a disabled boot menu timeout, fills iothread ids and keeps only static labels', () => {
    const d = parse({
      tuning: "<iothreads>3</iothreads><iothreadids><iothread id='5'/></iothreadids>",
      os: "<bootmenu enable='no' timeout='3000'/>",
      tail: "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:r:t:s0</label><imagelabel>system_u:r:t:s0</imagelabel></seclabel>",
    });
    assert.deepEqual({ ...d.os?.bootmenu }, { enable: 'no' });
    assert.equal(d.iothreads, '3');
    assert.deepEqual(d.iothreadids?.iothreads?.map((t) => t.id), ['5', '1', '2']);
    assert.equal(d.seclabels?.[0]?.imagelabel, undefined);
    assert.equal(d.seclabels?.[0]?.label, 'system_u:r:t:s0');
  });

  it('implies secure boot from enrolled keys and makes a loader path a ROM', () => {
    const d = parse({ os: "<loader>/usr/share/seabios/bios.bin</loader>" });
    assert.equal(d.os?.loader?.type, 'rom');
    const efi = parseDomainXML(domain({ os: "<firmware><feature enabled='yes' name='enrolled-keys'/></firmware>" }).replace('<os>', "<os firmware='efi'>"), { random });
    assert.deepEqual(efi.os?.firmwareFeatures?.features?.map((f) => [f.name, f.enabled]), [['enrolled-keys', 'yes'], ['secure-boot', 'yes']]);
  });

  it('keeps one <metadata> element per namespace, and none without one', () => {
    const d = parse({ extra: `<metadata><a:x xmlns:a='urn:a'>1</a:x><plain/><b:x xmlns:b='urn:a'>2</b:x><c:y xmlns:c='urn:c'/></metadata>` });
    const names = (d.metadata?.children ?? []).flatMap((c) => (typeof c === 'string' ? [] : [c.name]));
    assert.deepEqual(names, ['a:x', 'c:y']);
  });

  it('drops an empty <panic/>, and a redirection filter rule is written in its canonical form', () => {
    const d = parse({ devices: "<controller type='usb' index='0'/><panic/><redirdev bus='usb' type='spicevmc'/><redirfilter><usbdev class='8' vendor='0x15e1' version='9.4' allow='yes'/><usbdev class='-1' allow='no'/></redirfilter>" });
    assert.equal(d.devices?.panics, undefined);
    assert.deepEqual(d.devices?.redirfilter?.usbdevs?.map((u) => ({ ...u })), [{ class: '0x08', vendor: '0x15E1', version: '9.40', allow: 'yes' }, { allow: 'no' }]);
  });

  it('appends implicit controllers after the existing ones', () => {
    const d = parse({ devices: "<controller type='virtio-serial' index='1'/><controller type='ide' index='0'/><channel type='pty'><target type='virtio' name='a'/></channel>" });
    assert.deepEqual(d.devices?.controllers?.map((c) => `${c.type}${c.index}`).slice(0, 3), ['virtio-serial1', 'ide0', 'virtio-serial0']);
  });
});

describe("libvirt's writer forms", () => {
  it('never self-closes <devices> and writes <metadata> as libxml2 does', () => {
    const out = formatDomainXML(parseDomainXML("<domain type='kvm'><name>a</name><memory>1024</memory><metadata><a:x xmlns:a='urn:a' v='1'/></metadata><os><type>hvm</type></os></domain>", { random }));
    assert.match(out, /<devices>\n\s*<\/devices>/);
    assert.match(out, /<a:x xmlns:a="urn:a" v="1"\/>/);
  });
});

describe('post-parse around the format phase', () => {
  it('leaves a first video of type none alone after clearing it (virDomainDefPostParseVideo)', () => {
    const v = parse({ devices: "<graphics type='vnc'/><video><model type='none'/><alias name='ua-v'/></video>" }).devices?.videos?.[0];
    assert.deepEqual({ ...v?.model }, { type: 'none' });
    assert.equal(v?.alias?.name, 'ua-v');
  });

  it("the test driver writes no element of any XML namespace, nor the namespace's declaration", () => {
    const input = domain({ tail: "<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-x'/></qemu:commandline>" }).replace("<domain type='kvm'>", "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>");
    const out = formatDomainXML(defineDomain(input, { caps: bookwormQemuCaps, driver: testDriver, random }).def);
    assert.doesNotMatch(out, /qemu/);
  });
});

describe('the console that aliases a serial port', () => {
  it('is written with the address the serial was given, as libvirt writes it from the serial', async () => {
    const { qemuDriver } = await import('../../drivers/index.ts');
    const xml = "<domain type='qemu'><name>g</name><memory>8</memory><os><type arch='ppc64' machine='pseries'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-ppc64</emulator><serial/></devices></domain>";
    const once = formatDomainXML(defineDomain(xml, { caps: bookwormQemuCaps, driver: qemuDriver, random: (b) => b.fill(1) }).def);
    const console = /<console[\s\S]*?<\/console>/.exec(once)![0];
    assert.match(console, /<address type='spapr-vio' reg='0x30000000'\/>/);
    assert.equal(formatDomainXML(defineDomain(once, { caps: bookwormQemuCaps, driver: qemuDriver, random: (b) => b.fill(1) }).def), once);
  });
});
