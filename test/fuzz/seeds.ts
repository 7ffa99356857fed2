/**
 * The seeds the fuzzer mutates: the repository's own documents always
 * (examples/*.xml, test/fixtures/*.xml), and libvirt's test corpus read in
 * place when it is there (VIRTFLOW_LIBVIRT_DATA). Device fragments are the
 * children of every seed's <devices> plus libvirt's hotplug device files.
 * Also the vocabulary (element names, attribute names and values seen) the
 * mutators draw from, so a random document speaks libvirt's language.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isVirtError, readXml } from '@virtflow/model';
import { libvirtData, libvirtDataMissing, repoRoot } from '../support/libvirt-data.ts';
import { type FEl, elements, fromXml, isEl } from './tree.ts';

export interface Seeds {
  readonly domains: readonly FEl[];
  readonly devices: readonly FEl[];
  readonly vocab: Vocabulary;
  /** Where the seeds came from, one line; says so when libvirt's corpus is absent. */
  readonly source: string;
}

export interface Vocabulary {
  readonly elements: readonly string[];
  readonly attributes: readonly string[];
  readonly values: readonly string[];
}

const CORPUS_DIRS = ['genericxml2xmlindata', 'qemuxml2argvdata', 'qemuxml2xmloutdata', 'lxcxml2xmldata', 'bhyvexml2argvdata', 'domainschemadata'];

function xmlFilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.xml')).sort().map((f) => join(dir, f));
}

/** A seed is any file the model's reader takes whose root is the expected element. */
function read(file: string, root: string): FEl | undefined {
  try {
    const el = readXml(readFileSync(file));
    return el.name === root ? fromXml(el) : undefined;
  } catch (e) {
    if (isVirtError(e)) return undefined;
    throw e;
  }
}

let cached: Seeds | undefined;

export function loadSeeds(): Seeds {
  if (cached) return cached;
  const repoFiles = [...xmlFilesIn(join(repoRoot, 'examples')), ...xmlFilesIn(join(repoRoot, 'test/fixtures'))];
  const missing = libvirtDataMissing();
  const corpusFiles = missing ? [] : CORPUS_DIRS.flatMap((d) => xmlFilesIn(join(libvirtData, 'tests', d)));
  const hotplugFiles = missing ? [] : xmlFilesIn(join(libvirtData, 'tests', 'qemuhotplugtestdevices'));

  // The repository's seeds first: fast-check shrinks the seed index towards 0, so minimal
  // counterexamples start from the repo's own small documents where they can.
  const domains = [...repoFiles, ...corpusFiles].map((f) => read(f, 'domain')).filter((d): d is FEl => d !== undefined);
  const devices: FEl[] = [];
  const seen = new Set<string>();
  const addDevice = (el: FEl) => {
    const key = JSON.stringify(el);
    if (!seen.has(key)) {
      seen.add(key);
      devices.push(el);
    }
  };
  for (const d of domains) for (const c of d.children) if (isEl(c) && c.name === 'devices') for (const dev of c.children) if (isEl(dev)) addDevice(dev);
  for (const f of hotplugFiles) {
    try {
      const el = readXml(readFileSync(f));
      addDevice(fromXml(el));
    } catch (e) {
      if (!isVirtError(e)) throw e;
    }
  }

  const el = new Set<string>();
  const at = new Set<string>();
  const val = new Set<string>();
  for (const d of [...domains, ...devices]) {
    for (const { el: e } of elements(d)) {
      el.add(e.name);
      for (const [k, v] of e.attrs) {
        at.add(k);
        if (v.length <= 64) val.add(v);
      }
      for (const c of e.children) if (typeof c === 'string' && c.length <= 64 && c.trim() !== '') val.add(c.trim());
    }
  }
  const source = missing
    ? `seeds: ${domains.length} domains and ${devices.length} devices from the repository only (${missing})`
    : `seeds: ${domains.length} domains and ${devices.length} devices from the repository and libvirt's corpus in ${libvirtData}`;
  cached = { domains, devices, vocab: { elements: [...el].sort(), attributes: [...at].sort(), values: [...val].sort() }, source };
  return cached;
}
