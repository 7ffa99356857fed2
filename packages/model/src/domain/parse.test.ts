import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { formatDeviceXML, formatDomainXML } from './format.ts';
import { parseDevice, parseDomain, parseDomainXML } from '../parse.ts';

const random = (b: Uint8Array) => b.fill(0xab);

function domain(devices = '', extra = '', head = "<domain type='kvm'>"): string {
  return `${head}
  <name>vm1</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>${extra}
  <devices>${devices}</devices>
</domain>`;
}

function rejects(xml: string, code: string, message: string | RegExp, path?: string) {
  assert.throws(
    () => parseDomainXML(xml, { random }),
    (e: unknown) => {
      assert.ok(e instanceof VirtError, `a VirtError, not ${String(e)}`);
      assert.equal(e.code, code);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      if (path !== undefined) assert.equal(e.path, path);
      return true;
    },
  );
}

describe('parseDomainXML: libvirt parse-time defaults', () => {
  it('fills uuid, currentMemory, vcpu and lifecycle actions', () => {
    const def = parseDomainXML(domain(), { random });
    assert.equal(def.uuid, 'abababab-abab-4bab-abab-abababababab');
    assert.deepEqual(def.memory, { unit: 'KiB', text: '524288' });
    assert.deepEqual(def.currentMemory, { unit: 'KiB', text: '524288' });
    assert.deepEqual(def.vcpu, { text: '1', placement: 'static' });
    assert.equal(def.onPoweroff, 'destroy');
    assert.equal(def.onReboot, 'restart');
    assert.equal(def.onCrash, 'destroy');
  });

  it('writes canonical XML in libvirt order with single-quoted attributes', () => {
    const xml = formatDomainXML(parseDomainXML(domain('', '<on_crash>restart</on_crash><vcpu current="1">2</vcpu>'), { random }));
    assert.equal(
      xml,
      `<domain type='kvm'>
  <name>vm1</name>
  <uuid>abababab-abab-4bab-abab-abababababab</uuid>
  <memory unit='KiB'>524288</memory>
  <currentMemory unit='KiB'>524288</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>restart</on_crash>
  <devices>
  </devices>
</domain>
`,
    );
  });

  it('lowers currentMemory to memory', () => {
    const def = parseDomainXML(domain('', "<currentMemory unit='GiB'>4</currentMemory>"), { random });
    assert.equal(def.currentMemory?.text, '524288');
  });

  it('canonicalises the uuid and keeps the definition frozen', () => {
    const def = parseDomainXML(domain('', '<uuid>C7A5FDBD-EDAF-9455-926A-D65C16DB1809</uuid>'));
    assert.equal(def.uuid, 'c7a5fdbd-edaf-9455-926a-d65c16db1809');
    assert.ok(Object.isFrozen(def) && Object.isFrozen(def.memory));
  });

  it('keeps what it does not model, in place, and warns about it', () => {
    const { def, warnings } = parseDomain(domain('', "<frobnicate level='3'><x/></frobnicate>", "<domain type='kvm' xmlns:foo='http://example.org/foo' foo:bar='1'>"), { random });
    const xml = formatDomainXML(def);
    assert.match(xml, /<frobnicate level='3'>\n    <x\/>\n  <\/frobnicate>/);
    assert.match(xml, /foo:bar='1'/);
    assert.ok(xml.indexOf('<frobnicate') > xml.indexOf('</os>') && xml.indexOf('<frobnicate') < xml.indexOf('<on_poweroff'));
    assert.ok(warnings.some((w) => w.path === '/domain/frobnicate'));
    assert.ok(warnings.some((w) => w.path === '/domain/@foo:bar'));
  });
});

describe('parseDomainXML: errors name the node at fault', () => {
  it('requires a name', () => rejects(domain().replace('<name>vm1</name>', ''), 'NO_NAME', 'missing name information', '/domain/name'));
  it('refuses a / in the name', () => rejects(domain().replace('vm1', 'a/b'), 'XML_ERROR', "XML error: name a/b cannot contain '/'", '/domain/name'));
  it('refuses a malformed uuid', () => rejects(domain('', '<uuid>1234</uuid>'), 'INTERNAL_ERROR', 'internal error: malformed uuid element', '/domain/uuid'));
  it('refuses an unknown domain type', () => rejects(domain('', '', "<domain type='bogus'>"), 'CONFIG_UNSUPPORTED', 'unsupported configuration: invalid domain type bogus', '/domain/@type'));
  it('refuses a bad memory value', () => rejects(domain().replace('512', '1.5'), 'XML_ERROR', "XML error: Invalid value '1.5' for element or attribute './memory[1]'", '/domain/memory'));
  it('refuses current vcpus above the maximum', () =>
    rejects(domain('', "<vcpu current='4'>2</vcpu>"), 'CONFIG_UNSUPPORTED', 'unsupported configuration: maximum vCPU count must not be less than current vCPU count', '/domain/vcpu/@current'));
  it('refuses an unknown lifecycle action', () => rejects(domain('', '<on_poweroff>explode</on_poweroff>'), 'CONFIG_UNSUPPORTED', 'unsupported configuration: unknown on_poweroff action: explode', '/domain/on_poweroff'));
  it('refuses coredump on poweroff', () =>
    rejects(domain('', '<on_poweroff>coredump-destroy</on_poweroff>'), 'CONFIG_UNSUPPORTED', "unsupported configuration: Lifecycle event 'poweroff' doesn't support 'coredump-destroy' action"));
  it('refuses duplicate disk targets, naming the second disk', () =>
    rejects(
      domain(`<disk type='file' device='disk'><source file='/a.img'/><target dev='vda'/></disk><disk type='file'><source file='/b.img'/><target dev='vda'/></disk>`),
      'XML_ERROR',
      "XML error: target 'vda' duplicated for disk sources '/a.img' and '/b.img'",
      '/domain/devices/disk[2]/target/@dev',
    ));
  it('refuses a malformed MAC', () =>
    rejects(domain(`<interface type='user'><mac address='52:54:00:zz:00:01'/></interface>`), 'XML_ERROR', "XML error: unable to parse mac address '52:54:00:zz:00:01'", '/domain/devices/interface[1]/mac/@address'));
  it('refuses a multicast MAC', () =>
    rejects(domain(`<interface type='user'/><interface type='user'><mac address='01:00:5E:00:00:01'/></interface>`), 'XML_ERROR', "XML error: expected unicast mac address, found multicast '01:00:5E:00:00:01'", '/domain/devices/interface[2]/mac/@address'));
  it('refuses a wrong root element', () => rejects('<network/>', 'XML_ERROR', "XML error: expecting root element of 'domain', not 'network'"));
});

describe('parseDomainXML: hostile input', () => {
  it('refuses a DOCTYPE (no XXE)', () =>
    rejects(`<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<domain type='kvm'><name>&xxe;</name></domain>`, 'XML_DETAIL', /DOCTYPE and entity declarations are not accepted/));
  it('refuses entity expansion (billion laughs)', () =>
    rejects(`<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><domain type='kvm'><name>&lol2;</name></domain>`, 'XML_DETAIL', /DOCTYPE/));
  it('refuses an undefined entity', () => rejects(domain().replace('vm1', 'vm&nope;'), 'XML_DETAIL', "Entity 'nope' not defined", '/domain/name'));
  it('expands the predefined entities and character references', () => {
    assert.equal(parseDomainXML(domain().replace('vm1', 'a&amp;b&#65;&#x42;&lt;'), { random }).name, 'a&bAB<');
  });
  it('refuses documents over the size limit', () => {
    rejects(domain('', `<description>${'x'.repeat(1024 * 1024)}</description>`), 'XML_DETAIL', /larger than the limit of 1048576 bytes/);
    assert.throws(() => parseDomainXML(domain(), { maxBytes: 100 }), /larger than the limit of 100 bytes/);
  });
  it('refuses deep nesting without recursing', () => {
    const deep = `<domain type='kvm'><name>x</name><metadata>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</metadata></domain>`;
    rejects(deep, 'XML_DETAIL', /nests elements deeper than the limit of 64/);
  });
  it('refuses invalid UTF-8', () => {
    const bytes = Buffer.concat([Buffer.from(domain().slice(0, 40)), Buffer.from([0xc3, 0x28]), Buffer.from(domain().slice(40))]);
    assert.throws(() => parseDomainXML(bytes), (e: VirtError) => e.code === 'XML_DETAIL' && /not valid UTF-8 \(first bad byte at offset 40\)/.test(e.message));
    assert.throws(() => parseDomainXML(domain().replace('vm1', 'vm\ud800')), /not valid UTF-8/);
  });
  it('reports malformed XML with line and a pointer', () => {
    assert.throws(
      () => parseDomainXML("<domain type='kvm'>\n  <name>x</nam>\n</domain>"),
      (e: VirtError) => e.code === 'XML_DETAIL' && e.message.startsWith('(domain_definition):2: ') && e.message.includes('\n  <name>x</nam>\n') && e.path === '/ (line 2, column 10)',
    );
  });
  it('refuses an empty document', () => rejects('', 'XML_DETAIL', '(domain_definition):1: Document is empty'));
});

describe('parseDevice: one device, as attach-device', () => {
  it('parses and formats a device in canonical order', () => {
    const { def } = parseDevice(`<interface type='network'><model type='virtio'/><source network='default'/><mac address='52:54:00:AA:BB:CC'/></interface>`);
    assert.equal(def.kind, 'interface');
    assert.equal(formatDeviceXML(def), `<interface type='network'>\n  <mac address='52:54:00:aa:bb:cc'/>\n  <source network='default'/>\n  <model type='virtio'/>\n</interface>\n`);
  });
  it('names the device in its error paths', () => {
    assert.throws(() => parseDevice(`<interface type='user'><mac address='nope'/></interface>`), (e: VirtError) => e.path === '/interface/mac/@address');
  });
  it('refuses an unknown device', () => {
    assert.throws(() => parseDevice('<toaster/>'), (e: VirtError) => e.code === 'XML_ERROR' && e.path === '/toaster');
  });
});

describe('parseDomainXML: what libvirt refuses and how it writes what it keeps (fuzz findings)', () => {
  it('refuses a second memballoon, watchdog or vsock as libvirt does', () => {
    rejects(domain('<memballoon model="none"/><interface type="user"/><memballoon model="none"/>'), 'INTERNAL_ERROR', 'internal error: only a single memory balloon device is supported', '/domain/devices/memballoon[2]');
    rejects(domain('<watchdog model="i6300esb"/><watchdog model="ib700"/>'), 'INTERNAL_ERROR', /only a single watchdog device is supported/, '/domain/devices/watchdog[2]');
    rejects(domain('<vsock model="virtio"/><vsock model="virtio"/>'), 'XML_ERROR', /only a single vsock device is supported/, '/domain/devices/vsock[2]');
  });

  it('refuses a nameless shmem, and a shmem size libvirt would write as 0 MiB', () => {
    rejects(domain('<shmem><size>6</size></shmem>'), 'XML_ERROR', "XML error: shmem element must contain 'name' attribute", '/domain/devices/shmem[1]');
    rejects(domain("<shmem name='s'><size unit='K'>16</size></shmem>"), 'CONFIG_UNSUPPORTED', /shmem size must be at least 1 MiB \(1024 KiB\)/, '/domain/devices/shmem[1]/size');
    const out = formatDomainXML(parseDomainXML(domain("<shmem name='s'><size unit='K'>1536</size></shmem>"), { random }));
    assert.match(out, /<size unit='M'>1<\/size>/);
    assert.equal(formatDomainXML(parseDomainXML(out, { random })), out);
  });

  it('drops a second <coalesce> with the first, as libvirt reads only the first', () => {
    const out = formatDeviceXML(parseDevice("<interface type='user'><coalesce/><coalesce><rx><frames max='7'/></rx></coalesce></interface>", { random }).def);
    assert.doesNotMatch(out, /coalesce/);
  });

  it('keeps a second <clock> right after the first, so that it reads back the same', () => {
    const xml = "<domain type='qemu'><name>1</name><clock/><title>i</title><memory>1</memory><os><type>hvm</type></os><uuid>c7a5fdbdedaf9455926ad65c16db1809</uuid><clock offset='localtime'/></domain>";
    const out = formatDomainXML(parseDomainXML(xml, { random }));
    assert.match(out, /<clock offset='utc'\/>\n {2}<clock offset='localtime'\/>\n/);
    assert.equal(formatDomainXML(parseDomainXML(out, { random })), out);
  });

  it('keeps a leaf not in the expected form after its name, beside the value a rule fills', () => {
    const out = formatDomainXML(parseDomainXML(domain('', "<on_reboot s=''></on_reboot>"), { random }));
    assert.match(out, /<on_reboot>restart<\/on_reboot>\n {2}<on_reboot s=''\/>\n/);
    assert.equal(formatDomainXML(parseDomainXML(out, { random })), out);
  });

  it('reads several <devices> as one, in document order, as libvirt does', () => {
    const xml = domain("<disk type='file'><source file='/a'/><target dev='vda' bus='virtio'/></disk>", "<devices><disk type='file'><source file='/b'/><target dev='vdb' bus='virtio'/></disk></devices>");
    const def = parseDomainXML(xml, { random });
    assert.deepEqual(def.devices?.disks?.map((d) => d.target?.dev), ['vda', 'vdb']);
    assert.equal(formatDomainXML(def).match(/<devices>/g)?.length, 1);
  });

  it('refuses an unknown or missing sound codec type, and empty cpu mode, match or check', () => {
    rejects(domain("<sound model='ich6'><codec/></sound>"), 'CONFIG_UNSUPPORTED', "unsupported configuration: unknown codec type '(null)'", '/domain/devices/sound[1]/codec[1]/@type');
    rejects(domain('', "<cpu check=''><model/></cpu>"), 'XML_ERROR', "XML error: Invalid value for attribute 'check' in element 'cpu': ''.", '/domain/cpu/@check');
    rejects(domain('', "<cpu match=''/>"), 'XML_ERROR', "XML error: Invalid value for attribute 'match' in element 'cpu': ''.", '/domain/cpu/@match');
    rejects(domain('', "<cpu mode=''/>"), 'CONFIG_UNSUPPORTED', "unsupported configuration: Invalid mode attribute ''", '/domain/cpu/@mode');
    rejects(domain('', "<cpu check='full'><model/></cpu>"), 'CONFIG_UNSUPPORTED', 'unsupported configuration: check attribute specified for CPU with no model', '/domain/cpu/@check');
  });

  it('reads an interface without a type as a user one, and a non-virtio driver without its virtio-net settings', () => {
    const out = formatDomainXML(parseDomainXML(domain("<interface><model type='e1000'/><driver name='qemu' queues=''/></interface>"), { random }));
    assert.match(out, /<interface type='user'>/);
    assert.doesNotMatch(out, /<driver/);
  });

  it('limits a device document to the depth it will have inside its domain', () => {
    const nest = (n: number) => `<filesystem><source dir='/a'/><target dir='/b'/>${'<x>'.repeat(n)}${'</x>'.repeat(n)}</filesystem>`;
    assert.throws(() => parseDevice(nest(62)), (e: VirtError) => e.code === 'XML_DETAIL' && /deeper than the limit of 62/.test(e.message));
    assert.equal(parseDevice(nest(61)).def.kind, 'filesystem');
  });
});
