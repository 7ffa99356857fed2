/**
 * Development aid: compare our define with the real libvirt's on a corpus.
 *   node --import tsx scripts/dev/compare.ts qemu [FILTER]     qemuxml2argvdata x86_64 vs qemu:///system
 *   node --import tsx scripts/dev/compare.ts qemu-out [FILTER] vs qemuxml2xmloutdata *.x86_64-latest.xml
 *   node --import tsx scripts/dev/compare.ts test [FILTER]     generic + qemu corpora vs test:///default
 *   node --import tsx scripts/dev/compare.ts lxc|bhyve [FILTER]
 *   node --import tsx scripts/dev/compare.ts show qemu NAME   print both XMLs for one file
 * The oracle's verdicts are cached under /tmp/virtflow-oracle/<suite>.
 */
import { readFileSync } from 'node:fs';
import { suites } from '../../test/support/suites.ts';
import { compareWithLibvirt, printComparison } from '../../test/support/oracle-compare.ts';
import { normalise } from '../../test/support/compare.ts';
import { defineDomain, formatDomainXML } from '@virtflow/model';

const [cmd, a1, a2] = process.argv.slice(2);
if (cmd === 'show') {
  const suite = (await suites())[a1!]!;
  const file = suite.files.find((f) => f.endsWith(`/${a2}.xml`))!;
  const input = readFileSync(file, 'utf8');
  const c = compareWithLibvirt({ ...suite, files: [file] });
  void c;
  const expected = suite.expected ? suite.expected(file) : (() => { try { return readFileSync(`${suite.oracleDir}/${a2}.xml`, 'utf8'); } catch { return readFileSync(`${suite.oracleDir}/${a2}.err`, 'utf8'); } })();
  let ours: string;
  try { ours = formatDomainXML(defineDomain(input, { caps: suite.caps, registry: suite.registry, ...(suite.driver ? { driver: suite.driver } : {}), ...(suite.flags ? { flags: suite.flags } : {}) }).def, { secure: suite.expected !== undefined }); } catch (e) { ours = String((e as Error).message); }
  console.log('--- libvirt\n' + normalise(expected ?? '', input) + '\n--- ours\n' + normalise(ours, input));
} else {
  const suite = (await suites())[cmd!];
  if (!suite) throw new Error(`unknown suite ${cmd}`);
  const files = a1 ? suite.files.filter((f) => f.includes(a1)) : suite.files;
  printComparison(cmd!, compareWithLibvirt({ ...suite, files }), 60);
}
