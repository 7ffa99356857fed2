import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rejects } from '../../testing.ts';
import { produce } from 'immer';
import { bookwormQemuCaps, lxcCaps, LXC_EMULATOR_FEDORA } from '../../caps/index.ts';
import { formatDomainXML } from '../../domain/format.ts';
import { readDomain as parseDomain } from '../../domain/parse.ts';
import { defineDomain, postParseDomain } from '../../postparse/runner.ts';
import { defaultRegistry } from '../index.ts';
import { lxcDriver, lxcLiveRootFilesystem, makeLxcDriver } from './index.ts';

const random = (b: Uint8Array) => b.fill(7);
// A QEMU host's capabilities: no lxc guest, so the driver falls back to its own.
const caps = bookwormQemuCaps;
const registry = defaultRegistry();

function ct(body = '<console type="pty"/>', opts: { type?: string; os?: string; name?: string; head?: string } = {}): string {
  return `<domain type='${opts.type ?? 'lxc'}'${opts.head ?? ''}>
  <name>${opts.name ?? 'c1'}</name>
  <memory unit='KiB'>500000</memory>
  <os>${opts.os ?? '<type>exe</type><init>/bin/sh</init>'}</os>
  <devices>${body}</devices>
</domain>`;
}


describe('lxc driver: registration and capabilities', () => {
  it('takes domains of type lxc from the default registry', () => {
    const r = defineDomain(ct(), { caps, registry, random });
    assert.equal(r.driver, 'lxc');
    assert.equal(r.def.os?.type?.arch, 'x86_64');
  });

  it('accepts the 32-bit personality of the host', () => {
    const r = defineDomain(ct('', { os: "<type arch='i686'>exe</type><init>/bin/sh</init>" }), { caps, registry, random });
    assert.equal(r.def.os?.type?.arch, 'i686');
  });

  it('refuses what its capabilities do not offer', () => {
    rejects(() => defineDomain(ct('', { type: 'kvm' }), { caps, driver: lxcDriver, random }), 'INVALID_ARG', 'invalid argument: could not find capabilities for ostype=exe arch=x86_64 domaintype=kvm ', '/domain/os/type');
    rejects(() => defineDomain(ct('', { os: '<type>hvm</type>' }), { caps, registry, random }), 'INVALID_ARG', 'invalid argument: could not find capabilities for arch=x86_64 domaintype=lxc ');
    rejects(() => defineDomain(ct('', { os: "<type arch='aarch64'>exe</type><init>/bin/sh</init>" }), { caps, registry, random }), 'INVALID_ARG', 'invalid argument: could not find capabilities for ostype=exe arch=aarch64 domaintype=lxc ');
  });

  it('builds LXC host capabilities: the host arch and its 32-bit alternative', () => {
    const c = lxcCaps('aarch64');
    assert.deepEqual(c.guests.map((g) => [g.osType, g.arch, g.emulator, g.domains[0]?.type]), [
      ['exe', 'aarch64', '/usr/lib/libvirt/libvirt_lxc', 'lxc'],
      ['exe', 'armv7l', '/usr/lib/libvirt/libvirt_lxc', 'lxc'],
    ]);
    assert.equal(lxcCaps('riscv64').guests.length, 1);
  });
});

describe('lxc driver: defaults', () => {
  it('fills the emulator from the capabilities, with provenance', () => {
    const r = defineDomain(ct(), { caps, registry, random });
    assert.equal(r.def.devices?.emulator, '/usr/lib/libvirt/libvirt_lxc');
    const p = r.provenance.find((x) => x.path === '/domain/devices/emulator');
    assert.deepEqual(p && { value: p.value, driver: p.driver, rule: p.rule }, { value: '/usr/lib/libvirt/libvirt_lxc', driver: 'lxc', rule: 'emulator-default' });
    assert.match(formatDomainXML(r.def), /<devices>\s*<emulator>\/usr\/lib\/libvirt\/libvirt_lxc<\/emulator>/);
  });

  it('uses the given capabilities when they describe an LXC host', () => {
    const r = defineDomain(ct(), { caps: lxcCaps('x86_64', { emulator: LXC_EMULATOR_FEDORA }), registry, random });
    assert.equal(r.def.devices?.emulator, '/usr/libexec/libvirt_lxc');
  });

  it('keeps a user emulator without checking it', () => {
    const r = defineDomain(ct('<emulator>/opt/my_lxc</emulator>'), { caps, registry, random });
    assert.equal(r.def.devices?.emulator, '/opt/my_lxc');
    assert.ok(!r.provenance.some((x) => x.rule === 'emulator-default'));
  });

  it('makes a console without a target type an lxc console', () => {
    // The driver's callback sees the console before the generic code gives it a type.
    const parsed = parseDomain(ct(), { random }).def;
    const untyped = produce(parsed, (d) => {
      for (const c of d.devices!.consoles!) delete c.target!.type;
    });
    const r = postParseDomain(untyped, { caps, registry, random });
    assert.equal(r.def.devices?.consoles?.[0]?.target?.type, 'lxc');
    const p = r.provenance.find((x) => x.path === '/domain/devices/console[1]/target/@type');
    assert.deepEqual(p && { value: p.value, driver: p.driver, rule: p.rule }, { value: 'lxc', driver: 'lxc', rule: 'console-target-lxc' });
  });

  it('keeps an explicit console target type', () => {
    const r = defineDomain(ct("<console type='pty'><target type='serial'/></console>"), { caps, registry, random });
    assert.equal(r.def.devices?.consoles?.[0]?.target?.type, 'serial');
    assert.ok(!r.provenance.some((x) => x.rule === 'console-target-lxc'));
  });

  it('adds no console, filesystem or init of its own', () => {
    const r = defineDomain(ct(''), { caps, registry, random });
    assert.equal(r.def.devices?.consoles, undefined);
    assert.equal(r.def.devices?.filesystems, undefined);
    assert.equal(r.def.os?.init, '/bin/sh');
  });
});

describe('lxc driver: the lxc:namespace block', () => {
  const NS = "http://libvirt.org/schemas/domain/lxc/1.0";

  it('writes it back canonically: lxc prefix, fixed order, none skipped, last in <domain>', () => {
    const xml = ct('', { head: ` xmlns:x='${NS}'` }).replace(
      '<devices>',
      "<x:namespace><x:shareuts type='name' value='c1'/><x:sharenet type='netns' value='red'/><x:shareipc type='none' value='0'/></x:namespace><devices>",
    );
    const r = defineDomain(xml, { caps, registry, random });
    const out = formatDomainXML(r.def);
    assert.match(out, new RegExp(`^<domain type='lxc' xmlns:lxc='${NS}'>`));
    assert.match(out, /<\/devices>\s*<lxc:namespace>\s*<lxc:sharenet type='netns' value='red'\/>\s*<lxc:shareuts type='name' value='c1'\/>\s*<\/lxc:namespace>\s*<\/domain>/);
    assert.ok(!out.includes('xmlns:x'));
  });

  it('refuses what lxcDomainDefNamespaceParse refuses', () => {
    const withNs = (inner: string) => ct('', { head: ` xmlns:lxc='${NS}'` }).replace('</devices>', `</devices><lxc:namespace>${inner}</lxc:namespace>`);
    rejects(() => defineDomain(withNs("<lxc:sharepid type='name' value='x'/>"), { caps, registry, random }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: unsupported Namespace feature: sharepid', '/domain/lxc:namespace/lxc:sharepid');
    rejects(() => defineDomain(withNs("<lxc:sharenet value='x'/>"), { caps, registry, random }), 'INTERNAL_ERROR', 'internal error: No lxc environment type specified', '/domain/lxc:namespace/lxc:sharenet/@type');
    rejects(() => defineDomain(withNs("<lxc:sharenet type='ns' value='x'/>"), { caps, registry, random }), 'INTERNAL_ERROR', "internal error: Unknown LXC namespace source 'ns'", '/domain/lxc:namespace/lxc:sharenet/@type');
    rejects(() => defineDomain(withNs("<lxc:sharenet type='netns'/>"), { caps, registry, random }), 'INTERNAL_ERROR', 'internal error: No lxc environment type specified', '/domain/lxc:namespace/lxc:sharenet/@value');
  });
});

describe('lxc driver: define', () => {
  it('refuses interfaces on a host without network namespaces', () => {
    const driver = makeLxcDriver({ netns: false });
    rejects(() => defineDomain(ct("<interface type='network'><source network='default'/></interface>"), { caps, driver, random }), 'OPERATION_INVALID', 'Requested operation is not valid: System lacks NETNS support', '/domain/devices/interface[1]');
    assert.ok(defineDomain(ct(), { caps, driver, random }));
  });

  it('refuses a newline in the name', () => {
    rejects(() => defineDomain(ct('', { name: 'a&#10;b' }), { caps, registry, random }), 'XML_DETAIL', 'invalid char in name: \n', '/domain/name');
  });
});

describe('lxc driver: start-time root filesystem (not at define)', () => {
  it('puts the host root first in the live definition when nothing is mounted at /', () => {
    const def = defineDomain(ct("<filesystem type='mount'><source dir='/srv'/><target dir='/srv'/></filesystem>"), { caps, registry, random }).def;
    assert.equal(def.devices?.filesystems?.length, 1);
    const live = lxcLiveRootFilesystem(def);
    assert.deepEqual(live.devices?.filesystems?.map((f) => [f.source?.dir, f.target?.dir]), [['/', '/'], ['/srv', '/srv']]);
    const rooted = defineDomain(ct("<filesystem type='mount'><source dir='/c'/><target dir='/'/></filesystem>"), { caps, registry, random }).def;
    assert.equal(lxcLiveRootFilesystem(rooted), rooted);
  });
});
