/**
 * Development aid: libvirt's own output files must be a fixed point of
 * decode∘encode by our specs (no rules applied). Prints, per element path,
 * how many files disagree, with one example. Usage:
 *   node --import tsx scripts/dev/order-check.ts [FILTER]
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode } from '../../packages/model/src/codec/codec.ts';
import { domainSpec } from '../../packages/model/src/domain/spec/domain.ts';
import { readXml } from '../../packages/model/src/xml/read.ts';
import type { XmlElement } from '../../packages/model/src/xml/tree.ts';

const data = process.env.VIRTFLOW_LIBVIRT_DATA ?? join(import.meta.dirname, '../../../shared/libvirt');
const dirs = ['genericxml2xmloutdata', 'qemuxml2xmloutdata', 'lxcxml2xmldata', 'bhyvexml2xmloutdata'];
const filter = process.argv[2];

const problems = new Map<string, { n: number; example: string }>();
function note(path: string, example: string) {
  const p = problems.get(path) ?? { n: 0, example };
  p.n++;
  problems.set(path, p);
}

function compare(a: XmlElement, b: XmlElement, path: string, file: string) {
  const here = `${path}/${a.name}`;
  const aa = Object.keys(a.attrs).join(','), ba = Object.keys(b.attrs).join(',');
  if (aa !== ba) note(`${here} @(${aa})`, `${file}: ours @(${ba})`);
  const ac = a.children.filter((c) => typeof c !== 'string') as XmlElement[];
  const bc = b.children.filter((c) => typeof c !== 'string') as XmlElement[];
  const an = ac.map((c) => c.name).join(','), bn = bc.map((c) => c.name).join(',');
  if (an !== bn) { note(`${here} children`, `${file}: libvirt [${an}] ours [${bn}]`); return; }
  for (let i = 0; i < ac.length; i++) compare(ac[i]!, bc[i]!, here, file);
}

let files = 0, same = 0;
for (const d of dirs) {
  const dir = join(data, 'tests', d);
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.xml'))) {
    const xml = readFileSync(join(dir, f), 'utf8');
    if (filter && !xml.includes(filter)) continue;
    let root: XmlElement;
    try { root = readXml(xml); } catch { continue; }
    if (root.name !== 'domain') continue;
    files++;
    const out = encode('domain', decode(root, domainSpec, '/domain', []), domainSpec);
    const before = problems.size;
    compare(root, out, '', `${d}/${f}`);
    if (problems.size === before && JSON.stringify(root) === JSON.stringify(out)) same++;
  }
}
const rows = [...problems.entries()].sort((a, b) => b[1].n - a[1].n);
for (const [p, { n, example }] of rows) console.log(`${String(n).padStart(4)}  ${p}\n        ${example}`);
console.log(`${files} files, ${same} identical after decode∘encode, ${rows.length} disagreeing element paths`);
