/**
 * Parse + format throughput over libvirt's corpus (one process), against
 * libvirt's own rate on the same files in the same run: the oracle's bench.py
 * on test:///default (define + XML + undefine, in-process C).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatDomainXML, parseDomainXML } from '@virtflow/model';

const root = resolve(import.meta.dirname, '..');
const data = resolve(process.env.VIRTFLOW_LIBVIRT_DATA ?? join(root, '../shared/libvirt'));
const oracle = resolve(data, '../oracle/bench.py');
const DIRS = ['genericxml2xmlindata', 'qemuxml2argvdata', 'lxcxml2xmldata', 'bhyvexml2argvdata', 'domainschemadata'];

function corpus(): Array<{ path: string; xml: Buffer }> {
  const out: Array<{ path: string; xml: Buffer }> = [];
  for (const d of DIRS) {
    const dir = join(data, 'tests', d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.xml')) out.push({ path: join(dir, f), xml: readFileSync(join(dir, f)) });
  }
  return out;
}

function accepted(files: Array<{ path: string; xml: Buffer }>) {
  return files.filter((f) => {
    try {
      formatDomainXML(parseDomainXML(f.xml));
      return true;
    } catch {
      return false;
    }
  });
}

/** Our docs/s over `files`, repeated until at least `minMs` have passed. */
function ours(files: Array<{ xml: Buffer }>, minMs: number) {
  let docs = 0;
  let bytes = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (const f of files) {
      formatDomainXML(parseDomainXML(f.xml));
      bytes += f.xml.length;
    }
    docs += files.length;
    t = performance.now();
  }
  const s = (t - t0) / 1000;
  return { docsPerS: docs / s, mbPerS: bytes / s / 1e6, docs, seconds: s };
}

/**
 * libvirt's define rate on a sample of the same files (bench.py per file, N
 * iterations each); files libvirt rejects are left out of both sides.
 */
function libvirtRate<F extends { path: string }>(files: F[], perFile: number) {
  let n = 0;
  let seconds = 0;
  const defined: F[] = [];
  for (const f of files) {
    let out: string;
    try {
      out = execFileSync('/usr/bin/python3', [oracle, 'test:///default', f.path, String(perFile)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue;
    }
    const r = JSON.parse(out.trim().split('\n').pop()!) as { n: number; per_s: number };
    n += r.n;
    seconds += r.n / r.per_s;
    defined.push(f);
  }
  return { docsPerS: n / seconds, docs: n, seconds, files: defined };
}

export async function parseBench(): Promise<void> {
  if (!existsSync(join(data, 'tests'))) {
    console.log(`parse benchmark needs libvirt's test data: set VIRTFLOW_LIBVIRT_DATA (looked in ${data})`);
    return;
  }
  const all = corpus();
  // Compare on what both sides accept: a rejection is cheaper than a define.
  const files = accepted(all);
  ours(files, 500); // warm-up: JIT and caches
  const mine = ours(files, 5000);
  const sample = files.filter((_, i) => i % 10 === 0);
  let ref: ReturnType<typeof libvirtRate<(typeof sample)[number]>> | undefined;
  let sampleOurs: ReturnType<typeof ours> | undefined;
  if (existsSync(oracle)) {
    try {
      ref = libvirtRate(sample, 200);
      sampleOurs = ours(ref.files, 3000);
    } catch (e) {
      console.log(`libvirt reference unavailable: ${(e as Error).message.split('\n')[0]} (scripts/bootstrap installs python3-libvirt)`);
    }
  }
  const ratio = ref && sampleOurs ? sampleOurs.docsPerS / ref.docsPerS : undefined;
  const rows = [
    ['virtflow parse+format (corpus)', `${files.length} files`, mine.docsPerS.toFixed(0), mine.mbPerS.toFixed(2)],
    ...(sampleOurs && ref ? [['virtflow parse+format (sample)', `${ref.files.length} files`, sampleOurs.docsPerS.toFixed(0), sampleOurs.mbPerS.toFixed(2)]] : []),
    ...(ref ? [['libvirt test:///default define+XML+undefine (sample)', `${ref.files.length} files`, ref.docsPerS.toFixed(0), '']] : []),
  ];
  console.log(['benchmark', 'input', 'docs/s', 'MB/s'].join(' | '));
  for (const r of rows) console.log(r.join(' | '));
  if (ratio !== undefined) console.log(`ratio virtflow / libvirt test driver: ${ratio.toFixed(2)}x (target ≥ 1.0x)`);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const result = {
    name: 'parse',
    at: new Date().toISOString(),
    node: process.version,
    corpus: { files: all.length, accepted: files.length },
    ours: mine,
    sample: { files: ref?.files.map((f) => f.path.slice(data.length + 1)), ours: sampleOurs, libvirtTestDriver: ref && { docsPerS: ref.docsPerS, docs: ref.docs, seconds: ref.seconds } },
    ratio,
    target: 1.0,
  };
  writeFileSync(join(root, 'bench/results/parse.json'), JSON.stringify(result, null, 2) + '\n');
  console.log('wrote bench/results/parse.json');
}
