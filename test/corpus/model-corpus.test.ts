/**
 * The domain model over libvirt's own test corpus, compared with the real
 * libvirt's test driver (test:///default) on the same files in the same run.
 * Each file either parses — and then its output validates against libvirt's
 * RelaxNG schema, format∘parse is idempotent and no input value is lost — or
 * is rejected with a VirtError, as libvirt rejects it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { formatDomainXML, isVirtError, parseDomainXML, readXml } from '@virtflow/model';
import { libvirtData, libvirtDataMissing, oracleMissing, runOracle } from '../support/libvirt-data.ts';
import { lostValues } from '../support/values.ts';
import { validateWithSchema } from '../support/xmllint.ts';

const DIRS = ['genericxml2xmlindata', 'qemuxml2argvdata', 'lxcxml2xmldata', 'bhyvexml2argvdata', 'domainschemadata'];
const skip = libvirtDataMissing();

/** Fixed randomness: generated UUIDs and MACs are the same in both passes. */
const random = (b: Uint8Array) => b.fill(7);

describe('domain model over libvirt corpus', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'virtflow-corpus-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('parses what libvirt accepts, rejects only what it rejects, and writes schema-valid XML', () => {
    const files: string[] = [];
    for (const d of DIRS) {
      const dir = join(libvirtData, 'tests', d);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).sort()) {
        if (!f.endsWith('.xml')) continue;
        const path = join(dir, f);
        if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<domain[\s>]/.test(readFileSync(path, 'utf8'))) files.push(path);
      }
    }
    const oracleSkip = oracleMissing();
    const verdicts = new Map<string, { xml?: string; err?: string }>();
    if (!oracleSkip) {
      for (const d of DIRS) {
        const inDir = files.filter((f) => f.includes(`/${d}/`));
        if (inDir.length) for (const [k, v] of runOracle(inDir, join(tmp, 'oracle', d))) verdicts.set(k, v);
      }
    } else console.log(`# oracle comparison skipped: ${oracleSkip}`);

    const outputs = new Map<string, string>();
    mkdirSync(join(tmp, 'ours'), { recursive: true });
    const problems: string[] = [];
    const weRejectLibvirtAccepts: string[] = [];
    let rejectedBoth = 0;
    let acceptedWeOnly = 0;
    for (const file of files) {
      const xml = readFileSync(file);
      const libvirt = verdicts.get(file);
      let out: string;
      try {
        // With secrets, as libvirt's own xml2xml tests format (VIR_DOMAIN_DEF_FORMAT_SECURE): nothing is lost.
        out = formatDomainXML(parseDomainXML(xml, { random }), { secure: true });
      } catch (e) {
        if (!isVirtError(e)) {
          problems.push(`${file}: crashed with ${(e as Error).stack}`);
          continue;
        }
        if (libvirt?.xml !== undefined) weRejectLibvirtAccepts.push(`${file}: ours: ${e.describe()}`);
        else rejectedBoth++;
        continue;
      }
      if (libvirt?.err !== undefined) acceptedWeOnly++;
      const again = formatDomainXML(parseDomainXML(out, { random }), { secure: true });
      if (again !== out) problems.push(`${file}: format∘parse is not idempotent`);
      const lost = lostValues(readXml(xml), out, libvirt?.xml);
      if (lost.length) problems.push(`${file}: lost ${lost.slice(0, 3).join(', ')}${lost.length > 3 ? ` and ${lost.length - 3} more` : ''}`);
      const outFile = join(tmp, 'ours', `${outputs.size}.xml`);
      writeFileSync(outFile, out);
      outputs.set(outFile, file);
    }
    const invalid = validateWithSchema(join(libvirtData, 'schemas', 'domain.rng'), [...outputs.keys()]);
    for (const [outFile, msg] of invalid) problems.push(`${outputs.get(outFile)}: output fails the schema: ${msg}`);

    const libvirtAccepts = files.filter((f) => verdicts.get(f)?.xml !== undefined);
    const bad = new Set([...problems.map((p) => p.split(':')[0]!), ...weRejectLibvirtAccepts.map((p) => p.split(':')[0]!)]);
    const goodOfAccepted = libvirtAccepts.filter((f) => !bad.has(f)).length;
    console.log(`# corpus: ${files.length} files; libvirt accepts ${libvirtAccepts.length}, rejects ${verdicts.size - libvirtAccepts.length}`);
    console.log(`# ours: parsed ${outputs.size} (schema-invalid ${invalid.size}), rejected ${files.length - outputs.size}; both reject ${rejectedBoth}, only we accept ${acceptedWeOnly}, only we reject ${weRejectLibvirtAccepts.length}`);
    console.log(`# of what libvirt accepts: ${goodOfAccepted} parsed, schema-valid, idempotent and lossless (${pct(goodOfAccepted, libvirtAccepts.length)})`);
    for (const p of [...weRejectLibvirtAccepts, ...problems].slice(0, 60)) console.log(`#   ${p.replace(libvirtData + '/tests/', '')}`);
    assert.deepEqual(problems.filter((p) => p.includes('crashed')), [], 'every rejection is a VirtError');
    if (!oracleSkip) assert.ok(goodOfAccepted / libvirtAccepts.length >= 0.98, `≥ 98% of what libvirt accepts: got ${pct(goodOfAccepted, libvirtAccepts.length)}`);
    assert.ok(problems.length <= Math.floor(files.length * 0.02), `problems: ${problems.length}`);
  });

  it("matches libvirt's expected output for the generic parser cases", () => {
    const inDir = join(libvirtData, 'tests', 'genericxml2xmlindata');
    const outDir = join(libvirtData, 'tests', 'genericxml2xmloutdata');
    const pairs = readdirSync(outDir).filter((f) => f.endsWith('.xml') && existsSync(join(inDir, f)));
    const differ: string[] = [];
    for (const f of pairs) {
      const expected = norm(readFileSync(join(outDir, f), 'utf8'));
      let ours: string;
      try {
        ours = norm(formatDomainXML(parseDomainXML(readFileSync(join(inDir, f)), { random }), { secure: true }));
      } catch (e) {
        differ.push(`${f}: rejected: ${(e as Error).message}`);
        continue;
      }
      if (ours !== expected) differ.push(`${f}: ${firstDifference(expected, ours)}`);
    }
    const equal = pairs.length - differ.length;
    console.log(`# genericxml2xmloutdata: ${equal}/${pairs.length} equal (${pct(equal, pairs.length)})`);
    for (const d of differ) console.log(`#   ${d}`);
    assert.ok(equal / pairs.length >= 0.9, `≥ 90% equal: got ${pct(equal, pairs.length)}`);
  });
});

function norm(xml: string): string {
  return xml.split('\n').map((l) => l.trim()).filter(Boolean).join('\n');
}

function firstDifference(expected: string, ours: string): string {
  const a = expected.split('\n');
  const b = ours.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return `line ${i + 1}: libvirt «${a[i] ?? ''}» ours «${b[i] ?? ''}»`;
  return 'same lines';
}

function pct(n: number, d: number): string {
  return d === 0 ? 'n/a' : `${((100 * n) / d).toFixed(1)}%`;
}
