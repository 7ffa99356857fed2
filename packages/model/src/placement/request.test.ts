import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookwormQemuCaps } from '../caps/index.ts';
import { defaultRegistry } from '../drivers/index.ts';
import { VirtError } from '../errors.ts';
import { parseDomain } from '../parse.ts';
import { defineDomain } from '../postparse/index.ts';
import { parseCpuSet } from './numa.ts';
import { placementRequest, validateSchedulerHints } from './request.ts';
import { GiB } from './fixtures.ts';

const UUID = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';

const XML = `<domain type='kvm'>
  <name>web-1</name>
  <uuid>${UUID}</uuid>
  <metadata>
    <vf:scheduling xmlns:vf="https://virtflow.dev/xmlns/scheduling/1.0">
      <vf:group name="web" policy="anti-affinity" maxPerHost="2"/>
      <vf:label key="zone" value="eu-1a"/>
      <vf:label key="zone" value="eu-1b"/>
      <vf:label key="disk" value="ssd"/>
      <vf:preferredHost>node-3</vf:preferredHost>
    </vf:scheduling>
    <app:owner xmlns:app="urn:example:app">team-a</app:owner>
  </metadata>
  <memory unit='GiB'>4</memory>
  <vcpu current='2'>4</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <cpu mode='custom' match='exact'>
    <model>Haswell</model>
    <numa>
      <cell id='0' cpus='0-1' memory='2' unit='GiB'/>
      <cell id='1' cpus='2,3' memory='2097152' unit='KiB'/>
    </numa>
  </cpu>
</domain>`;

describe('placementRequest', () => {
  it("reads what a host must offer off the driver's enriched definition", () => {
    const { def } = defineDomain(XML, { caps: bookwormQemuCaps, registry: defaultRegistry() });
    const req = placementRequest(def);
    assert.equal(req.uuid, UUID);
    assert.equal(req.name, 'web-1');
    assert.equal(req.memoryKiB, 4 * GiB);
    assert.equal(req.vcpus, 4, 'the <vcpu> maximum: vCPUs up to it come online without the scheduler');
    assert.equal(req.domainType, 'kvm');
    assert.equal(req.osType, 'hvm');
    assert.equal(req.arch, 'x86_64');
    assert.equal(req.machine, 'pc-i440fx-7.2', 'the canonical machine post-parse pinned');
    assert.equal(req.emulator, '/usr/bin/qemu-system-x86_64');
    assert.equal(req.cpuModel, 'Haswell');
    assert.deepEqual(req.numaCells, [
      { id: 0, memoryKiB: 2 * GiB, vcpus: 2 },
      { id: 1, memoryKiB: 2 * GiB, vcpus: 2 },
    ]);
  });

  it("reads the hints in virtflow's metadata namespace, and nothing from other namespaces", () => {
    const req = placementRequest(parseDomain(XML).def);
    assert.deepEqual(req.hints, {
      group: { name: 'web', policy: 'anti-affinity', maxPerHost: 2 },
      requiredLabels: { zone: ['eu-1a', 'eu-1b'], disk: 'ssd' },
      preferredHost: 'node-3',
    });
    assert.deepEqual(placementRequest(parseDomain(XML).def, { metadata: false }).hints, {});
  });

  it("lets the job's hints win field by field", () => {
    const req = placementRequest(parseDomain(XML).def, { hints: { preferredHost: 'node-1', excludeHosts: ['node-2'] } });
    assert.equal(req.hints.preferredHost, 'node-1');
    assert.deepEqual(req.hints.excludeHosts, ['node-2']);
    assert.equal(req.hints.group?.name, 'web');
  });

  it('ignores a scheduling element of another namespace', () => {
    const xml = XML.replace('https://virtflow.dev/xmlns/scheduling/1.0', 'urn:someone-else');
    assert.deepEqual(placementRequest(parseDomain(xml).def).hints, {});
  });

  it('refuses a bad group policy in metadata with its path', () => {
    const xml = XML.replace('policy="anti-affinity"', 'policy="sometimes"');
    assert.throws(() => placementRequest(parseDomain(xml).def), (e: unknown) => e instanceof VirtError && e.code === 'INVALID_ARG' && e.path === '/domain/metadata/scheduling/group/policy');
  });

  it('takes no cpu model from host-passthrough, and one vCPU when <vcpu> is absent', () => {
    const xml = `<domain type='qemu'><name>a</name><uuid>${UUID}</uuid><memory>1024</memory><os><type>hvm</type></os><cpu mode='host-passthrough'/></domain>`;
    const req = placementRequest(parseDomain(xml).def);
    assert.equal(req.cpuModel, undefined);
    assert.equal(req.cpuMode, 'host-passthrough');
    assert.equal(req.vcpus, 1);
    assert.equal(req.domainType, 'qemu');
  });
});

describe('validateSchedulerHints', () => {
  it('accepts every hint', () => {
    const hints = { group: { name: 'g', policy: 'soft-anti-affinity' }, requiredLabels: { zone: 'a', disk: ['ssd', 'nvme'] }, preferredHost: 'h1', requestedHost: 'h2', excludeHosts: ['h3'] };
    assert.deepEqual(validateSchedulerHints(hints), hints);
  });

  it('names the field at fault', () => {
    const path = (v: unknown) => {
      const r = validateSchedulerHints(v);
      return r instanceof VirtError ? r.path : 'ok';
    };
    assert.equal(path([]), '/schedulerHints');
    assert.equal(path({ group: { name: 'g', policy: 'nearby' } }), '/schedulerHints/group/policy');
    assert.equal(path({ group: { name: 'g', policy: 'affinity', maxPerHost: 2 } }), '/schedulerHints/group/maxPerHost');
    assert.equal(path({ requiredLabels: { zone: 3 } }), '/schedulerHints/requiredLabels/zone');
    assert.equal(path({ excludeHosts: ['a', ''] }), '/schedulerHints/excludeHosts/1');
    assert.equal(path({ prefferedHost: 'x' }), '/schedulerHints/prefferedHost');
  });
});

describe('parseCpuSet', () => {
  it("reads libvirt's cpuset syntax", () => {
    assert.deepEqual(parseCpuSet('0-3,^2,8'), [0, 1, 3, 8]);
    assert.deepEqual(parseCpuSet('5'), [5]);
    assert.equal(parseCpuSet('3-1'), undefined);
    assert.equal(parseCpuSet('a'), undefined);
    assert.equal(parseCpuSet('1,,2'), undefined);
  });
});
