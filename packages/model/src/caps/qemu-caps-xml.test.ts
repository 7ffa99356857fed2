import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isVirtError } from '../errors.ts';
import { createQemuData } from '../drivers/qemu/data.ts';
import { qemuDriver } from '../drivers/qemu/index.ts';
import { defineDomain } from '../postparse/runner.ts';
import { readDomain } from '../domain/parse.ts';
import { bookwormQemuCaps } from './index.ts';
import { parseQemuCapsXml, qemuCapsToCapabilities, qemuVersionString, readQemuCapsXml, stripMachineAliases } from './qemu-caps-xml.ts';

/** A made-up cache in the shape libvirt writes: KVM and TCG, two aliased machines, one without a default CPU. */
const CACHE = `<qemuCaps>
  <emulator>/usr/bin/qemu-system-x86_64</emulator>
  <qemuctime>0</qemuctime>
  <selfctime>0</selfctime>
  <selfvers>0</selfvers>
  <flag name='kvm'/>
  <flag name='tcg'/>
  <flag name='qemu-xhci'/>
  <flag name='machine-hpet'/>
  <version>8001002</version>
  <kvmVersion>0</kvmVersion>
  <microcodeVersion>42</microcodeVersion>
  <package>v8.1.2-test</package>
  <arch>x86_64</arch>
  <hostCPU type='kvm' model='base' migratability='yes'>
    <property name='vmx' type='boolean' value='true'/>
  </hostCPU>
  <cpu type='kvm' name='qemu64' typename='qemu64-x86_64-cpu' usable='yes'/>
  <cpu type='kvm' name='486' typename='486-x86_64-cpu' usable='yes'/>
  <cpu type='kvm' name='Broadwell' typename='Broadwell-x86_64-cpu' usable='no'>
    <blocker name='hle'/>
    <blocker name='rtm'/>
  </cpu>
  <machine type='kvm' name='pc-i440fx-8.1' alias='pc' hotplugCpus='yes' maxCpus='255' default='yes' defaultCPU='qemu64-x86_64-cpu' defaultRAMid='pc.ram'/>
  <machine type='kvm' name='pc-q35-8.1' alias='q35' hotplugCpus='yes' maxCpus='1024' defaultCPU='qemu64-x86_64-cpu' defaultRAMid='pc.ram'/>
  <machine type='kvm' name='pc-i440fx-2.0' hotplugCpus='yes' maxCpus='255' defaultCPU='qemu64-x86_64-cpu' numaMemSupported='yes' defaultRAMid='pc.ram' deprecated='yes'/>
  <machine type='kvm' name='isapc' hotplugCpus='yes' maxCpus='1' defaultCPU='486-x86_64-cpu' defaultRAMid='pc.ram'/>
  <machine type='kvm' name='x-remote' maxCpus='1'/>
  <cpu type='tcg' name='qemu64' typename='qemu64-x86_64-cpu' usable='yes'/>
  <machine type='tcg' name='pc-i440fx-8.1' alias='pc' hotplugCpus='yes' maxCpus='255' default='yes' defaultCPU='qemu64-x86_64-cpu' defaultRAMid='pc.ram'/>
  <machine type='tcg' name='pc-q35-8.1' alias='q35' hotplugCpus='yes' maxCpus='1024' defaultCPU='qemu64-x86_64-cpu' defaultRAMid='pc.ram'/>
  <machine type='hvf' name='ignored-without-the-hvf-flag' maxCpus='1'/>
  <gic version='3' kernel='yes' emulated='no'/>
  <hypervCapabilities supported='yes'>
    <cap name='relaxed'/>
    <cap name='vapic'/>
  </hypervCapabilities>
</qemuCaps>
`;

const domain = (machine?: string, type = 'kvm') => `<domain type='${type}'>
  <name>g</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64'${machine ? ` machine='${machine}'` : ''}>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>`;

describe("libvirt's QEMU capabilities cache", () => {
  it('reads flags, version, arch and, per accelerator, machines, CPU models and the host CPU', () => {
    const q = parseQemuCapsXml(CACHE);
    assert.equal(q.emulator, '/usr/bin/qemu-system-x86_64');
    assert.deepEqual(q.flags, ['kvm', 'tcg', 'qemu-xhci', 'machine-hpet']);
    assert.equal(q.version, 8001002);
    assert.equal(qemuVersionString(q.version), '8.1.2');
    assert.equal(q.package, 'v8.1.2-test');
    assert.equal(q.arch, 'x86_64');
    assert.deepEqual(Object.keys(q.accels), ['kvm', 'tcg'], 'hvf is read only with its flag');
    const kvm = q.accels.kvm!;
    assert.deepEqual(kvm.hostCPU, { model: 'base', migratability: true });
    assert.deepEqual(kvm.machines[0], {
      name: 'pc-i440fx-8.1', alias: 'pc', maxCpus: 255, hotplugCpus: true, qemuDefault: true, numaMemSupported: false,
      defaultCPU: 'qemu64-x86_64-cpu', defaultRAMid: 'pc.ram', deprecated: false,
    });
    assert.equal(kvm.machines[2]!.deprecated, true);
    assert.equal(kvm.machines[2]!.numaMemSupported, true);
    assert.deepEqual(kvm.machines[4], { name: 'x-remote', maxCpus: 1, hotplugCpus: false, qemuDefault: false, numaMemSupported: false, deprecated: false });
    assert.deepEqual(kvm.cpuModels[2], { name: 'Broadwell', typename: 'Broadwell-x86_64-cpu', usable: 'no', blockers: ['hle', 'rtm'], deprecated: false });
    assert.equal(q.accels.tcg!.machines.length, 2);
    assert.deepEqual(q.gic, [{ version: 3, kernel: true, emulated: false }]);
    assert.deepEqual(q.hyperv, { supported: 'yes', features: ['relaxed', 'vapic'] });
  });

  it('fails where virQEMUCapsLoadCache fails', () => {
    const bad = (xml: string, message: RegExp) =>
      assert.throws(() => parseQemuCapsXml(xml), (e: unknown) => isVirtError(e) && message.test(e.message));
    bad('<domain/>', /expecting root element of 'qemuCaps', not 'domain'/);
    bad(CACHE.replace(/<emulator>.*<\/emulator>/, ''), /missing emulator in QEMU capabilities cache/);
    bad(CACHE.replace('<selfctime>0</selfctime>', ''), /missing selfctime in QEMU capabilities XML/);
    bad(CACHE.replace('<version>8001002</version>', '<version>8.1.2</version>'), /missing version in QEMU capabilities cache/);
    bad(CACHE.replace("name='isapc'", ''), /missing machine name in QEMU capabilities cache/);
    bad(CACHE.replace("maxCpus='1024'", "maxCpus='many'"), /malformed machine cpu count/);
    bad(CACHE.replace("usable='no'", "usable='maybe'"), /unknown value 'maybe' in attribute 'usable'/);
    bad(CACHE.replace("<flag name='tcg'/>", "<flag name='tcg'/><flag name='sev-guest'/>"), /missing SEV platform data/);
    bad(CACHE.replace("kernel='yes'", "kernel='perhaps'"), /malformed in-kernel GIC information/);
  });

  it('strips machine aliases as libvirt\'s tests do: each alias a machine of its own, appended', () => {
    const s = stripMachineAliases(parseQemuCapsXml(CACHE));
    const names = s.accels.kvm!.machines.map((m) => m.name);
    assert.deepEqual(names, ['pc-i440fx-8.1', 'pc-q35-8.1', 'pc-i440fx-2.0', 'isapc', 'x-remote', 'pc', 'q35']);
    assert.ok(s.accels.kvm!.machines.every((m) => m.alias === undefined));
    const pc = s.accels.kvm!.machines[5]!;
    assert.equal(pc.defaultCPU, 'qemu64-x86_64-cpu');
    assert.equal(pc.qemuDefault, true, 'the copy keeps QEMU\'s default mark');
    assert.deepEqual(s.accels.tcg!.machines.map((m) => m.name), ['pc-i440fx-8.1', 'pc-q35-8.1', 'pc', 'q35']);
  });

  it('builds one hvm guest for the binary with its flags and a machine list per domain type', () => {
    const caps = qemuCapsToCapabilities(parseQemuCapsXml(CACHE));
    assert.equal(caps.host.arch, 'x86_64');
    assert.equal(caps.qemuVersion, '8.1.2');
    assert.equal(caps.qemuVersionNumber, 8001002);
    assert.equal(caps.guests.length, 1);
    const g = caps.guests[0]!;
    assert.equal(g.emulator, '/usr/bin/qemu-system-x86_64');
    assert.equal(g.wordsize, 64);
    assert.deepEqual(g.qemuFlags, ['kvm', 'tcg', 'qemu-xhci', 'machine-hpet']);
    assert.deepEqual(g.domains.map((d) => d.type), ['qemu', 'kvm']);
    // virQEMUCapsGetMachineTypesCaps: the KVM list, each machine then its alias naming it.
    assert.deepEqual(g.machines.slice(0, 2), [
      { name: 'pc-i440fx-8.1', maxCpus: 255, isDefault: true, defaultCPU: 'qemu64', hotplugCpus: true, defaultRAMid: 'pc.ram' },
      { name: 'pc', canonical: 'pc-i440fx-8.1', maxCpus: 255 },
    ]);
    assert.equal(g.machines.find((m) => m.name === 'isapc')?.defaultCPU, '486');
    assert.equal(g.machines.find((m) => m.name === 'x-remote')?.defaultCPU, undefined);
    assert.equal(g.domains[0]!.machines!.length, 4);
    assert.deepEqual(caps.cpuModels[2], { name: 'Broadwell', typename: 'Broadwell-x86_64-cpu', usable: 'no' });
    assert.deepEqual(JSON.parse(JSON.stringify(caps)), caps, 'plain data');
  });

  it('gives the QEMU driver the binary\'s flags, its preferred machine and its default CPUs', () => {
    const caps = readQemuCapsXml(CACHE);
    const def = readDomain(domain('pc')).def;
    const d = createQemuData(caps, def);
    assert.ok(d.has('machine-hpet'));
    assert.ok(!d.has('no-hpet'), 'not the assumed QEMU 7.2 list');
    assert.equal(d.preferredMachine, 'pc-i440fx-8.1');
    assert.equal(d.canonicalMachine('pc'), 'pc-i440fx-8.1');
    assert.equal(d.canonicalMachine('pc-q35-8.1'), undefined);
    assert.equal(d.machineDefaultCPU('isapc'), '486');
    assert.equal(d.machineDefaultCPU('x-remote'), undefined);
    assert.equal(d.machineDefaultCPU('pc'), undefined, 'an alias has no machine entry of its own');
    // TCG has its own list.
    const tcg = createQemuData(caps, readDomain(domain('pc', 'qemu')).def);
    assert.equal(tcg.machines.some((m) => m.name === 'isapc'), false);
    // Address assignment sees the binary's PCI flags.
    assert.deepEqual(d.addressCaps, { virtioPciTransitional: false, pciePciBridge: false, pcieRootPort: false, virtioMmio: false });
    // Without flags in the caps, the assumed list stays, and addresses assume a modern QEMU.
    assert.ok(createQemuData(bookwormQemuCaps, def).has('no-hpet'));
    assert.equal(createQemuData(bookwormQemuCaps, def).addressCaps, undefined);
    // A domain type the binary lacks has no machines, hence no preferred one.
    assert.equal(createQemuData(readQemuCapsXml(CACHE.replace("<flag name='kvm'/>", '')), def).preferredMachine, undefined);
  });

  it('with aliases stripped, `pc` stays `pc` and a domain without a machine still gets the preferred one', () => {
    const caps = readQemuCapsXml(CACHE, { stripMachineAliases: true });
    const define = (xml: string) => defineDomain(xml, { caps, driver: qemuDriver, random: (b) => b.fill(1) }).def;
    assert.equal(define(domain('pc')).os?.type?.machine, 'pc');
    assert.equal(define(domain()).os?.type?.machine, 'pc-i440fx-8.1');
    assert.equal(define(domain('pc')).cpu?.model?.text, 'qemu64');
    // Unstripped, the alias is resolved (validation left out: the made-up binary lacks q35's devices).
    const q35 = defineDomain(domain('q35'), { caps: readQemuCapsXml(CACHE), driver: qemuDriver, random: (b) => b.fill(1), flags: { skipValidate: true } });
    assert.equal(q35.def.os?.type?.machine, 'pc-q35-8.1');
  });
});
