/**
 * Parse + format throughput over libvirt's corpus (one process), against
 * libvirt's own rate on the same files in the same run: the oracle's bench.py
 * on test:///default (define + XML + undefine, in-process C).
 */
import { formatDomainXML, parseDomainXML } from '@virtflow/model';
import { corpus, libvirtRate, measure, rel, table, writeResult, type Doc } from './common.ts';

const DIRS = ['genericxml2xmlindata', 'qemuxml2argvdata', 'lxcxml2xmldata', 'bhyvexml2argvdata', 'domainschemadata'];
const work = (d: Doc) => void formatDomainXML(parseDomainXML(d.xml));

function accepted(files: readonly Doc[]): Doc[] {
  return files.filter((f) => {
    try {
      work(f);
      return true;
    } catch {
      return false;
    }
  });
}

export async function parseBench(): Promise<void> {
  const all = corpus(DIRS);
  if (!all) return;
  // Compare on what both sides accept: a rejection is cheaper than a define.
  const files = accepted(all);
  const mine = measure(files, 5000, work);
  const ref = libvirtRate('test:///default', files.filter((_, i) => i % 10 === 0), 200);
  const sample = ref ? measure(ref.files, 3000, work) : undefined;
  const ratio = ref && sample ? sample.docsPerS / ref.docsPerS : undefined;
  table([
    ['benchmark', 'files', 'docs/s', 'MB/s'],
    ['virtflow parse+format (corpus)', String(files.length), mine.docsPerS.toFixed(0), mine.mbPerS.toFixed(2)],
    ...(ref && sample
      ? [
          ['virtflow parse+format (sample)', String(ref.files.length), sample.docsPerS.toFixed(0), sample.mbPerS.toFixed(2)],
          ['libvirt test:///default define+XML+undefine (sample)', String(ref.files.length), ref.docsPerS.toFixed(0), ''],
        ]
      : []),
  ]);
  if (ratio !== undefined) console.log(`ratio virtflow / libvirt test driver: ${ratio.toFixed(2)}x (target ≥ 1.0x)`);
  else console.log('libvirt reference unavailable (the oracle needs python3-libvirt: scripts/bootstrap installs it)');
  writeResult('parse', {
    corpus: { files: all.length, accepted: files.length },
    ours: mine,
    sample: ref && { files: ref.files.map((f) => rel(f.path)), ours: sample, libvirtTestDriver: { docsPerS: ref.docsPerS, docs: ref.docs, seconds: ref.seconds } },
    ratio,
    target: 1.0,
  });
}
