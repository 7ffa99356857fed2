/**
 * Runs our define (parse + driver post-parse + format) and the real
 * libvirt's on the same files, and measures how often we agree: on
 * accept/reject, and on the inactive XML where both accept.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { type Capabilities, type DriverConf, type DriverRegistry, type ParseFlags, defineDomain, formatDomainXML, isVirtError } from '@virtflow/model';
import { firstDifference, normalise } from './compare.ts';
import { readVerdicts, runOracle } from './libvirt-data.ts';

export interface Comparison {
  readonly files: number;
  readonly bothAccept: number;
  readonly bothReject: number;
  readonly onlyWeAccept: string[];
  readonly onlyWeReject: string[];
  readonly equal: number;
  readonly crashed: string[];
  /** First differing element → files. */
  readonly mismatches: Map<string, string[]>;
  readonly agreement: number;
  readonly equality: number;
}

export interface CompareOptions {
  readonly files: readonly string[];
  readonly uri: string;
  readonly caps: Capabilities;
  readonly registry: DriverRegistry;
  /** Force one driver whatever the domain type (libvirt's test driver takes every type). */
  readonly driver?: DriverConf<any>;
  /** Where the oracle writes; reused when it already holds a verdict for every file. */
  readonly oracleDir: string;
  /** Expected outputs instead of a live oracle: NAME → libvirt's XML (e.g. qemuxml2xmloutdata). */
  readonly expected?: (file: string) => string | undefined;
  readonly random?: (b: Uint8Array) => Uint8Array;
  /** Parse flags other than a define's (libvirt's tests parse without ABI_UPDATE). */
  readonly flags?: Partial<ParseFlags>;
}

/**
 * The oracle's verdicts, cached in `oracleDir` by file name. Files of
 * different folders may share a name (genericxml2xmlindata and
 * qemuxml2argvdata both have a cputune.xml): those keep their verdicts
 * apart, under `by-folder/FOLDER`.
 */
function oracleVerdicts(opts: CompareOptions): Map<string, { xml?: string; err?: string }> {
  const count = new Map<string, number>();
  for (const f of opts.files) count.set(basename(f), (count.get(basename(f)) ?? 0) + 1);
  const groups = new Map<string, string[]>();
  for (const f of opts.files) {
    const dir = count.get(basename(f))! > 1 ? join(opts.oracleDir, 'by-folder', basename(dirname(f))) : opts.oracleDir;
    groups.set(dir, [...(groups.get(dir) ?? []), f]);
  }
  const out = new Map<string, { xml?: string; err?: string }>();
  for (const [dir, files] of groups) {
    mkdirSync(dir, { recursive: true });
    let v = readVerdicts(files, dir);
    if (v.size < files.length) v = runOracle(files, dir, opts.uri);
    for (const [k, x] of v) out.set(k, x);
  }
  return out;
}

export function compareWithLibvirt(opts: CompareOptions): Comparison {
  let verdicts: Map<string, { xml?: string; err?: string }>;
  if (opts.expected) {
    verdicts = new Map(opts.files.map((f) => [f, { xml: opts.expected!(f) }]));
  } else {
    verdicts = oracleVerdicts(opts);
  }
  const r = { files: opts.files.length, bothAccept: 0, bothReject: 0, onlyWeAccept: [] as string[], onlyWeReject: [] as string[], equal: 0, crashed: [] as string[], mismatches: new Map<string, string[]>() };
  for (const file of opts.files) {
    const input = readFileSync(file, 'utf8');
    const libvirt = verdicts.get(file);
    const name = basename(file, extname(file));
    let ours: string | undefined;
    let err: string | undefined;
    try {
      // libvirt's own xml2xml tests format with VIR_DOMAIN_DEF_FORMAT_SECURE; a live XMLDesc does not.
      ours = formatDomainXML(defineDomain(input, { caps: opts.caps, registry: opts.registry, ...(opts.driver ? { driver: opts.driver } : {}), ...(opts.random ? { random: opts.random } : {}), ...(opts.flags ? { flags: opts.flags } : {}) }).def, { secure: opts.expected !== undefined });
    } catch (e) {
      if (!isVirtError(e)) {
        r.crashed.push(`${name}: ${(e as Error).stack?.split('\n').slice(0, 3).join(' | ')}`);
        continue;
      }
      err = e.describe();
    }
    if (libvirt?.xml === undefined) {
      if (ours === undefined) r.bothReject++;
      else r.onlyWeAccept.push(`${name}: libvirt: ${libvirt?.err ?? '(no verdict)'}`);
      continue;
    }
    if (ours === undefined) {
      r.onlyWeReject.push(`${name}: ours: ${err}`);
      continue;
    }
    r.bothAccept++;
    const a = normalise(libvirt.xml, input);
    const b = normalise(ours, input);
    if (a === b) r.equal++;
    else {
      const where = firstDifference(a, b);
      const list = r.mismatches.get(where) ?? [];
      list.push(name);
      r.mismatches.set(where, list);
    }
  }
  const agree = r.bothAccept + r.bothReject;
  return { ...r, agreement: agree / Math.max(1, r.files - r.crashed.length), equality: r.equal / Math.max(1, r.bothAccept) };
}

export function printComparison(title: string, c: Comparison, limit = 25): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(`# ${title}: ${c.files} files; accept/reject agree ${pct(c.agreement)} (both accept ${c.bothAccept}, both reject ${c.bothReject}, only we accept ${c.onlyWeAccept.length}, only we reject ${c.onlyWeReject.length}); equal XML ${c.equal}/${c.bothAccept} (${pct(c.equality)})`);
  const groups = [...c.mismatches.entries()].sort((a, b) => b[1].length - a[1].length);
  for (const [where, files] of groups.slice(0, limit)) console.log(`#   ${String(files.length).padStart(3)} differ first at ${where} (e.g. ${files.slice(0, 3).join(', ')})`);
  for (const l of c.onlyWeReject.slice(0, limit)) console.log(`#   only we reject: ${l}`);
  for (const l of c.onlyWeAccept.slice(0, limit)) console.log(`#   only we accept: ${l}`);
  for (const l of c.crashed.slice(0, limit)) console.log(`#   CRASH ${l}`);
}

export { existsSync };
