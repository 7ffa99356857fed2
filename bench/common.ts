/** Shared pieces of the benchmarks: the corpus, timing loops, libvirt's reference rate, result files. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..');
export const data = resolve(process.env.VIRTFLOW_LIBVIRT_DATA ?? join(root, '../shared/libvirt'));
const oracle = resolve(data, '../oracle/bench.py');

export interface Doc {
  readonly path: string;
  readonly xml: Buffer;
}

export function corpus(dirs: readonly string[]): Doc[] | undefined {
  if (!existsSync(join(data, 'tests'))) {
    console.log(`benchmark needs libvirt's test data: set VIRTFLOW_LIBVIRT_DATA (looked in ${data})`);
    return undefined;
  }
  const out: Doc[] = [];
  for (const d of dirs) {
    const dir = join(data, 'tests', d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.xml')) out.push({ path: join(dir, f), xml: readFileSync(join(dir, f)) });
  }
  return out;
}

export interface Rate {
  readonly docsPerS: number;
  readonly mbPerS: number;
  readonly docs: number;
  readonly seconds: number;
}

/** Docs/s of `work` over `files`, repeated until at least `minMs` have passed (after a warm-up). */
export function measure(files: readonly Doc[], minMs: number, work: (d: Doc) => void): Rate {
  for (const f of files) work(f);
  let docs = 0;
  let bytes = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (const f of files) {
      work(f);
      bytes += f.xml.length;
    }
    docs += files.length;
    t = performance.now();
  }
  const seconds = (t - t0) / 1000;
  return { docsPerS: docs / seconds, mbPerS: bytes / seconds / 1e6, docs, seconds };
}

/**
 * Docs/s of `work` done the way the oracle's bench.py times libvirt: each file
 * `perFile` times in a row, file after file (passes repeated until `minMs`
 * have passed, after a warm-up pass); the rate is all documents over all time.
 */
export function measurePerFile(files: readonly Doc[], perFile: number, minMs: number, work: (d: Doc) => void): Rate {
  for (const f of files) work(f);
  let docs = 0;
  let bytes = 0;
  let ms = 0;
  while (ms < minMs) {
    for (const f of files) {
      const t = performance.now();
      for (let i = 0; i < perFile; i++) work(f);
      ms += performance.now() - t;
      docs += perFile;
      bytes += perFile * f.xml.length;
    }
  }
  return { docsPerS: docs / (ms / 1000), mbPerS: bytes / (ms / 1000) / 1e6, docs, seconds: ms / 1000 };
}

export interface LibvirtRate {
  readonly uri: string;
  readonly docsPerS: number;
  readonly docs: number;
  readonly seconds: number;
  /** The files libvirt accepted (those it rejects are left out of both sides). */
  readonly files: Doc[];
}

/** libvirt's define + XML + undefine rate (the oracle's bench.py), per file, N iterations each. */
export function libvirtRate(uri: string, files: readonly Doc[], perFile: number): LibvirtRate | undefined {
  if (!existsSync(oracle)) return undefined;
  let n = 0;
  let seconds = 0;
  const defined: Doc[] = [];
  for (const f of files) {
    let out: string;
    try {
      out = execFileSync('/usr/bin/python3', [oracle, uri, f.path, String(perFile)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
    } catch {
      continue;
    }
    const r = JSON.parse(out.trim().split('\n').pop()!) as { n: number; per_s: number };
    n += r.n;
    seconds += r.n / r.per_s;
    defined.push(f);
  }
  if (defined.length === 0) return undefined;
  return { uri, docsPerS: n / seconds, docs: n, seconds, files: defined };
}

export function table(rows: ReadonlyArray<readonly string[]>): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join(' | '));
}

export function writeResult(name: string, result: object): void {
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, `bench/results/${name}.json`), JSON.stringify({ name, at: new Date().toISOString(), node: process.version, ...result }, null, 2) + '\n');
  console.log(`wrote bench/results/${name}.json`);
}

export function rel(path: string): string {
  return path.startsWith(data) ? path.slice(data.length + 1) : path;
}
