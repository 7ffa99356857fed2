/**
 * The drivers' post-parse against the real libvirt on the same input in the
 * same run: libvirtd's QEMU driver (qemu:///system, QEMU 7.2), libvirt's test
 * driver (test:///default), and libvirt's own expected outputs for the QEMU,
 * LXC and bhyve drivers. Each suite prints its figures and the mismatches
 * grouped by element.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { libvirtDataMissing, oracleMissing } from '../support/libvirt-data.ts';
import { libvirtdMissing, stopLibvirtdIfStarted } from '../support/libvirtd.ts';
import { compareWithLibvirt, printComparison } from '../support/oracle-compare.ts';
import { suites } from '../support/suites.ts';

const skipData = libvirtDataMissing();
const skipOracle = skipData ?? oracleMissing();

describe('post-parse against the real libvirt', { skip: skipData }, async () => {
  const all = await suites();
  after(stopLibvirtdIfStarted);

  it('qemu: agrees with libvirtd on accept/reject (≥ 90%) and on the inactive XML (≥ 60%)', { skip: skipOracle ?? libvirtdMissing() }, () => {
    const c = compareWithLibvirt(all.qemu!);
    printComparison('qemu vs qemu:///system (x86_64 qemuxml2argvdata)', c);
    assert.deepEqual(c.crashed, []);
    assert.ok(c.agreement >= 0.9, `agreement ${(100 * c.agreement).toFixed(1)}%`);
    assert.ok(c.equality >= 0.6, `equality ${(100 * c.equality).toFixed(1)}%`);
  });

  it("qemu: equals libvirt's expected outputs (qemuxml2xmloutdata x86_64-latest, ≥ 60%)", () => {
    const c = compareWithLibvirt(all['qemu-out']!);
    printComparison('qemu vs qemuxml2xmloutdata *.x86_64-latest.xml', c);
    assert.deepEqual(c.crashed, []);
    assert.ok(c.equality >= 0.6, `equality ${(100 * c.equality).toFixed(1)}%`);
  });

  it('test driver: equals test:///default on the generic and qemu corpora (≥ 95%)', { skip: skipOracle }, () => {
    const c = compareWithLibvirt(all.test!);
    printComparison('test driver vs test:///default', c);
    assert.deepEqual(c.crashed, []);
    assert.ok(c.equality >= 0.95, `equality ${(100 * c.equality).toFixed(1)}%`);
  });

  it("lxc: equals libvirt's lxcxml2xmldata pairs (≥ 80%)", () => {
    const c = compareWithLibvirt(all.lxc!);
    printComparison('lxc vs lxcxml2xmldata', c);
    assert.ok(c.equality >= 0.8 && c.bothAccept > 0, `equality ${(100 * c.equality).toFixed(1)}%`);
  });

  it("bhyve: equals libvirt's bhyvexml2xmloutdata (≥ 60%)", () => {
    const c = compareWithLibvirt(all.bhyve!);
    printComparison('bhyve vs bhyvexml2xmloutdata', c);
    assert.ok(c.equality >= 0.6 && c.bothAccept > 0, `equality ${(100 * c.equality).toFixed(1)}%`);
  });
});
