import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { formatDomainXML } from '../domain/format.ts';
import { parseDomainXML } from '../parse.ts';
import { foldDomain } from './domain.ts';
import { asOf, definitionAt, diffDefinitions, diffVersions, formatDiff, history } from './history.ts';
import { log, U1, U2, xml } from './fixtures.ts';

const defined = { uuid: U1, name: 'vm1', domainType: 'kvm', driver: 'qemu' };

/** A domain's life, one event a minute from 10:00. */
function life() {
  const l = log();
  l.add('DomainDefined', { ...defined, xml: xml('vm1', U1) }, '2024-05-01T10:00:00.000Z');
  l.add('DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1048576, vcpus: 1 }, '2024-05-01T10:01:00.000Z');
  l.add('DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' }, '2024-05-01T10:02:00.000Z');
  l.add('DomainRedefined', { ...defined, xml: xml('vm1', U1, { memoryKiB: 2097152 }) }, '2024-05-01T10:03:00.000Z');
  l.add('DomainDeviceAttached', { uuid: U1, path: '/domain/devices/disk[2]', xml: '<disk/>', definition: xml('vm1', U1, { memoryKiB: 2097152, disks: 2 }) }, '2024-05-01T10:04:00.000Z');
  l.add('DomainStopped', { uuid: U1, hostId: 'node-a', detail: 'DESTROYED' }, '2024-05-01T10:05:00.000Z');
  return l;
}

describe('history', () => {
  it('lists every version of the definition with its aggregate version and time', () => {
    const h = history(foldDomain(life().events)!);
    assert.deepEqual(h.map((v) => [v.version, v.at, v.type]), [
      [1, '2024-05-01T10:00:00.000Z', 'DomainDefined'],
      [4, '2024-05-01T10:03:00.000Z', 'DomainRedefined'],
      [5, '2024-05-01T10:04:00.000Z', 'DomainDeviceAttached'],
    ]);
    assert.equal(h[2]!.xml, xml('vm1', U1, { memoryKiB: 2097152, disks: 2 }));
  });

  it('definitionAt gives the definition in force at any aggregate version', () => {
    const s = foldDomain(life().events)!;
    assert.equal(definitionAt(s, 3)!.version, 1);
    assert.equal(definitionAt(s, 4)!.version, 4);
    assert.equal(definitionAt(s, 0), undefined);
  });
});

describe('asOf', () => {
  const events = life().events;

  it('is undefined before the first event', () => {
    assert.equal(asOf(events, '2024-05-01T09:59:59.999Z'), undefined);
  });

  it('gives the domain as it was at an instant between events', () => {
    const s = asOf(events, new Date('2024-05-01T10:03:30.000Z'))!;
    assert.deepEqual([s.version, s.state, s.hostId, s.xml], [4, 'running', 'node-a', xml('vm1', U1, { memoryKiB: 2097152 })]);
    assert.equal(s.history.length, 2);
  });

  it('includes an event stamped exactly at the instant', () => {
    assert.equal(asOf(events, '2024-05-01T10:02:00.000Z')!.state, 'running');
  });

  it('after the last event, equals the full fold', () => {
    assert.deepEqual(asOf(events, '2030-01-01T00:00:00Z'), foldDomain(events));
  });

  it('follows the log\'s order: an event stamped late stops the fold even if a later one is stamped earlier', () => {
    const l = log();
    l.add('DomainDefined', { ...defined, xml: xml('vm1', U1) }, '2024-05-01T10:00:00.000Z');
    l.add('DomainPlaced', { uuid: U1, hostId: 'node-a', memoryKiB: 1, vcpus: 1 }, '2024-05-01T10:05:00.000Z');
    l.add('DomainStarted', { uuid: U1, hostId: 'node-a', detail: 'BOOTED' }, '2024-05-01T10:04:00.000Z');
    const s = asOf(l.events, '2024-05-01T10:04:30.000Z')!;
    assert.deepEqual([s.version, s.state, s.hostId], [1, 'shutoff', undefined]);
  });

  it('picks its domain out of a mixed log', () => {
    const l = life();
    l.add('DomainDefined', { ...defined, uuid: U2, name: 'vm2', xml: xml('vm2', U2) }, '2024-05-01T10:06:00.000Z');
    assert.equal(asOf(l.events, '2024-05-01T10:07:00.000Z', U2)!.name, 'vm2');
    assert.equal(asOf(l.events, '2024-05-01T10:07:00.000Z')!.name, 'vm1');
  });

  it('refuses a time that is not one', () => {
    assert.throws(() => asOf(events, 'yesterday'), (e: VirtError) => e.code === 'INVALID_ARG');
  });
});

describe('diffDefinitions', () => {
  const random = (b: Uint8Array) => b.fill(0xab);
  const domain = (devices: string, memory = 512) =>
    formatDomainXML(parseDomainXML(`<domain type='kvm'><name>vm1</name><memory unit='MiB'>${memory}</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>${devices}</devices></domain>`, { random }));
  const disk = (bus: string) => `<disk type='file' device='disk'><source file='/var/lib/a.img'/><target dev='hda' bus='${bus}'/></disk>`;
  const cdrom = `<disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>`;

  it('names a changed attribute by its element path, indexing repeatable devices as libvirt paths do', () => {
    const changes = diffDefinitions(domain(disk('ide')), domain(disk('virtio')));
    assert.deepEqual(changes[0], { op: 'changed', path: '/domain/devices/disk[1]/target/@bus', from: 'ide', to: 'virtio' });
    assert.equal(formatDiff(changes.slice(0, 1)), "~ /domain/devices/disk[1]/target/@bus: 'ide' → 'virtio'");
  });

  it('reports changed text, and removed and added elements, in document order', () => {
    const changes = diffDefinitions(domain(disk('ide')), domain(disk('virtio') + cdrom, 1024));
    assert.equal(
      formatDiff(changes),
      [
        "~ /domain/memory: '524288' → '1048576'",
        "~ /domain/currentMemory: '524288' → '1048576'",
        "~ /domain/devices/disk[1]/target/@bus: 'ide' → 'virtio'",
        "- /domain/devices/disk[1]/address: '<address type='drive' controller='0' bus='0' target='0' unit='0'/>'",
        "+ /domain/devices/disk[2]: '<disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='hdc' bus='ide'/><readonly/><address type='drive' controller='0' bus='1' target='0' unit='0'/></disk>'",
      ].join('\n'),
    );
  });

  it('reads a disk inserted in front as one added disk, not every later one changed', () => {
    const a = xml('vm1', U1, { disks: 2 });
    const b = a.replace('<devices>\n', "<devices>\n    <disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='sdz' bus='scsi'/></disk>\n");
    assert.deepEqual(diffDefinitions(a, b), [
      { op: 'added', path: '/domain/devices/disk[1]', to: "<disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='sdz' bus='scsi'/></disk>" },
    ]);
  });

  it('reports added and removed attributes, and ignores attribute order and layout', () => {
    const a = "<domain type='kvm'><name>vm1</name><vcpu placement='static'>2</vcpu><features><acpi/></features></domain>";
    const b = `<domain type="kvm">\n  <name>vm1</name>\n  <vcpu current="1" placement="static">2</vcpu>\n  <features>\n    <acpi/>\n  </features>\n</domain>`;
    assert.deepEqual(diffDefinitions(a, b), [{ op: 'added', path: '/domain/vcpu/@current', to: '1' }]);
    assert.deepEqual(diffDefinitions(b, a), [{ op: 'removed', path: '/domain/vcpu/@current', from: '1' }]);
    assert.deepEqual(diffDefinitions(a, a), []);
  });

  it('diffs elements it does not know, indexing siblings only when there are several', () => {
    const a = "<domain><metadata><app:x xmlns:app='urn:x'><item k='1'/></app:x></metadata></domain>";
    const b = "<domain><metadata><app:x xmlns:app='urn:x'><item k='1'/><item k='2'/></app:x></metadata></domain>";
    assert.deepEqual(diffDefinitions(a, b), [{ op: 'added', path: '/domain/metadata/app:x/item[2]', to: "<item k='2'/>" }]);
  });

  it('is deterministic', () => {
    const a = domain(disk('ide') + cdrom);
    const b = domain(cdrom + disk('sata'), 2048);
    assert.deepEqual(diffDefinitions(a, b), diffDefinitions(a, b));
  });

  it('diffVersions compares two versions from a domain\'s history', () => {
    const s = foldDomain(life().events)!;
    assert.deepEqual(diffVersions(s, 1, 4), [{ op: 'changed', path: '/domain/memory', from: '1048576', to: '2097152' }]);
    assert.equal(diffVersions(s, 4, 5)[0]!.path, '/domain/devices/disk[2]');
    assert.throws(() => diffVersions(s, 0, 5), (e: VirtError) => e.code === 'INVALID_ARG' && /no definition at version 0/.test(e.message));
  });

  it('refuses XML that is not well formed, as readXml does', () => {
    assert.throws(() => diffDefinitions('<domain>', '<domain/>'), (e: VirtError) => e.code === 'XML_DETAIL');
  });
});
