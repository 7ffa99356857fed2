/**
 * Where libvirt's reference data lives (VIRTFLOW_LIBVIRT_DATA, default
 * ../shared/libvirt beside the checkout), and whether the real libvirt
 * (python3-libvirt, for the oracle scripts) is there to compare with.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const libvirtData = resolve(process.env.VIRTFLOW_LIBVIRT_DATA ?? join(repoRoot, '../shared/libvirt'));
export const oracleDir = resolve(libvirtData, '../oracle');

/** Undefined when the data is there; else the one line a skipped suite prints. */
export function libvirtDataMissing(): string | undefined {
  return existsSync(join(libvirtData, 'tests'))
    ? undefined
    : `needs libvirt's test data: set VIRTFLOW_LIBVIRT_DATA (looked in ${libvirtData})`;
}

let oracleOk: boolean | undefined;
/** Undefined when the real libvirt's Python binding and the oracle scripts are usable. */
export function oracleMissing(): string | undefined {
  if (!existsSync(join(oracleDir, 'define.py'))) return `needs libvirt's oracle scripts in ${oracleDir}`;
  if (oracleOk === undefined) {
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import libvirt'], { stdio: 'ignore' });
      oracleOk = true;
    } catch {
      oracleOk = false;
    }
  }
  return oracleOk ? undefined : 'needs python3-libvirt for the oracle (scripts/bootstrap installs it)';
}

/** Runs the oracle's define.py on files; returns name → {xml} | {err}. */
export function runOracle(files: readonly string[], outDir: string, uri = 'test:///default'): Map<string, { xml?: string; err?: string }> {
  execFileSync('/usr/bin/python3', [join(oracleDir, 'define.py'), '--uri', uri, '--out', outDir, ...files], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 26 });
  return readVerdicts(files, outDir);
}

export function readVerdicts(files: readonly string[], outDir: string): Map<string, { xml?: string; err?: string }> {
  const out = new Map<string, { xml?: string; err?: string }>();
  for (const f of files) {
    const name = basename(f, extname(f));
    const xmlPath = join(outDir, `${name}.xml`);
    const errPath = join(outDir, `${name}.err`);
    if (existsSync(xmlPath)) out.set(f, { xml: readFileSync(xmlPath, 'utf8') });
    else if (existsSync(errPath)) out.set(f, { err: readFileSync(errPath, 'utf8').trim() });
  }
  return out;
}
