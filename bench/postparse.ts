/**
 * Parse + QEMU post-parse + format per second over the x86_64 corpus, against
 * libvirt on the same files in the same run: test:///default (in-process C)
 * and qemu:///system (libvirtd with its QEMU driver, after the oracle's
 * setup.sh). Targets: ≥ 1.0× the test driver, ≥ 5× libvirtd's QEMU driver.
 */
import { defaultRegistry, defineDomain, formatDomainXML } from '@virtflow/model';
import { hostCapabilities } from '@virtflow/runtime';
import { corpus, libvirtRate, measure, rel, table, writeResult, type Doc } from './common.ts';

function isX86_64(xml: string): boolean {
  const arch = /<type[^>]*\sarch=['"]([^'"]+)['"]/.exec(xml)?.[1];
  if (arch !== undefined) return arch === 'x86_64';
  return !/aarch64|ppc|s390|arm|riscv|mips|sparc/.test(/<emulator>([^<]*)<\/emulator>/.exec(xml)?.[1] ?? '');
}

export async function postparseBench(): Promise<void> {
  const all = corpus(['qemuxml2argvdata'])?.filter((d) => isX86_64(d.xml.toString()));
  if (!all) return;
  const caps = await hostCapabilities();
  const registry = defaultRegistry();
  // libvirt records no provenance: the ratios compare the same work (provenance off); the
  // cost of provenance is measured and shown beside them.
  const work = (d: Doc) => void formatDomainXML(defineDomain(d.xml, { caps, registry, provenance: false }).def);
  const workWithProvenance = (d: Doc) => void formatDomainXML(defineDomain(d.xml, { caps, registry }).def);
  const files = all.filter((f) => {
    try {
      work(f);
      return true;
    } catch {
      return false;
    }
  });
  const mine = measure(files, 5000, work);
  const mineWithProvenance = measure(files, 5000, workWithProvenance);
  const sampleIn = files.filter((_, i) => i % 8 === 0);
  const testRef = libvirtRate('test:///default', sampleIn, 200);
  const qemuRef = libvirtRate('qemu:///system', sampleIn, 20);
  const onTest = testRef ? measure(testRef.files, 3000, work) : undefined;
  const onQemu = qemuRef ? measure(qemuRef.files, 3000, work) : undefined;
  const ratioTest = testRef && onTest ? onTest.docsPerS / testRef.docsPerS : undefined;
  const ratioQemu = qemuRef && onQemu ? onQemu.docsPerS / qemuRef.docsPerS : undefined;
  table([
    ['benchmark', 'files', 'docs/s'],
    ['virtflow parse+qemu post-parse+format (x86_64 corpus)', String(files.length), mine.docsPerS.toFixed(0)],
    ['  ... with provenance recorded', String(files.length), mineWithProvenance.docsPerS.toFixed(0)],
    ...(testRef && onTest ? [['virtflow (test-driver sample)', String(testRef.files.length), onTest.docsPerS.toFixed(0)], ['libvirt test:///default define+XML+undefine', String(testRef.files.length), testRef.docsPerS.toFixed(0)]] : []),
    ...(qemuRef && onQemu ? [['virtflow (qemu sample)', String(qemuRef.files.length), onQemu.docsPerS.toFixed(0)], ['libvirtd qemu:///system define+XML+undefine', String(qemuRef.files.length), qemuRef.docsPerS.toFixed(0)]] : []),
  ]);
  if (ratioTest !== undefined) console.log(`ratio virtflow / libvirt test driver: ${ratioTest.toFixed(2)}x (target ≥ 1.0x)`);
  if (ratioQemu !== undefined) console.log(`ratio virtflow / libvirtd QEMU driver: ${ratioQemu.toFixed(2)}x (target ≥ 5x)`);
  if (!testRef || !qemuRef) console.log('a libvirt reference is unavailable: run ../shared/oracle/setup.sh (libvirtd with its QEMU driver) as root');
  writeResult('postparse', {
    corpus: { files: all.length, accepted: files.length, caps: caps.source },
    ours: mine,
    oursWithProvenance: mineWithProvenance,
    testDriver: testRef && { files: testRef.files.map((f) => rel(f.path)), ours: onTest, libvirt: { docsPerS: testRef.docsPerS, docs: testRef.docs } },
    qemuDriver: qemuRef && { files: qemuRef.files.map((f) => rel(f.path)), ours: onQemu, libvirt: { docsPerS: qemuRef.docsPerS, docs: qemuRef.docs } },
    ratioTest,
    ratioQemu,
    targets: { test: 1.0, qemu: 5.0 },
  });
}
