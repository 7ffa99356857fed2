import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookwormQemuCaps, canonicalMachine, defaultMachine, findGuest, parseCpuHelp, parseMachineHelp } from './index.ts';

const MACHINE_HELP = `Supported machines are:
microvm              microvm (i386)
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)
pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)
pc-i440fx-1.4        Standard PC (i440FX + PIIX, 1996) (deprecated)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)
pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)
isapc                ISA-only PC
`;

describe('capabilities from QEMU listings', () => {
  it('reads machine types, aliases, the default and deprecations', () => {
    const m = parseMachineHelp(MACHINE_HELP);
    assert.deepEqual(m.find((x) => x.name === 'pc'), { name: 'pc', canonical: 'pc-i440fx-7.2', maxCpus: 255 });
    assert.deepEqual(m.find((x) => x.name === 'pc-i440fx-7.2'), { name: 'pc-i440fx-7.2', maxCpus: 255, isDefault: true });
    assert.equal(m.find((x) => x.name === 'pc-i440fx-1.4')?.deprecated, true);
    assert.equal(m.find((x) => x.name === 'q35')?.maxCpus, 288);
    assert.equal(m.find((x) => x.name === 'isapc')?.maxCpus, 1);
  });

  it('reads CPU models and their aliases', () => {
    const cpus = parseCpuHelp('Available CPUs:\nx86 Broadwell-IBRS        (alias of Broadwell-v3)\nx86 Broadwell-v1          Intel Core Processor (Broadwell)\nx86 host                  KVM processor with all supported host features\n');
    assert.deepEqual(cpus[0], { name: 'Broadwell-IBRS', aliasOf: 'Broadwell-v3' });
    assert.deepEqual(cpus[1], { name: 'Broadwell-v1', description: 'Intel Core Processor (Broadwell)' });
  });

  it('ships the Debian bookworm QEMU 7.2 snapshot', () => {
    const guest = findGuest(bookwormQemuCaps, 'hvm', 'x86_64', 'kvm');
    assert.ok(guest);
    assert.equal(guest.emulator, '/usr/bin/qemu-system-x86_64');
    assert.equal(defaultMachine(guest)?.name, 'pc-i440fx-7.2');
    assert.equal(canonicalMachine(guest, 'pc'), 'pc-i440fx-7.2');
    assert.equal(canonicalMachine(guest, 'q35'), 'pc-q35-7.2');
    assert.equal(canonicalMachine(guest, 'pc-q35-6.2'), 'pc-q35-6.2');
    assert.equal(canonicalMachine(guest, 'nope'), undefined);
    assert.ok(findGuest(bookwormQemuCaps, 'hvm', 'i686'));
    assert.ok(bookwormQemuCaps.cpuModels.some((c) => c.name === 'Skylake-Client'));
  });
});
