/** The corpora compared with the real libvirt, each with its reference and capabilities. */
import type { CompareOptions } from './oracle-compare.ts';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultRegistry, readQemuCapsXml, testDriver, type Capabilities } from '@virtflow/model';
import { hostCapabilities } from '@virtflow/runtime';
import { isX86_64 } from './compare.ts';
import { libvirtData } from './libvirt-data.ts';

/** A suite is what compareWithLibvirt takes: its files, its reference, its capabilities and driver. */
export type Suite = CompareOptions & { readonly files: string[] };

function xmlFiles(dir: string): string[] {
  const d = join(libvirtData, 'tests', dir);
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((f) => f.endsWith('.xml')).sort().map((f) => join(d, f));
}

const cacheRoot = '/tmp/virtflow-oracle';

/**
 * The capabilities libvirt's `*.x86_64-latest` outputs were made with: its
 * QEMU caps cache tests/qemucapabilitiesdata/caps_8.0.0.x86_64.xml, read as
 * libvirt's tests read the "latest" caps, with virQEMUCapsStripMachineAliases
 * applied (every alias becomes a machine of its own, so `pc` and `q35` stay
 * as written instead of turning into pc-i440fx-8.0 / pc-q35-8.0; the
 * preferred machine for a domain without one stays the cache's first,
 * pc-i440fx-8.0). On an x86_64 host, as libvirt's tests pretend to be.
 */
export function latestQemuCaps(): Capabilities | undefined {
  const file = join(libvirtData, 'tests', 'qemucapabilitiesdata', 'caps_8.0.0.x86_64.xml');
  if (!existsSync(file)) return undefined;
  return readQemuCapsXml(readFileSync(file), {
    stripMachineAliases: true,
    hostArch: 'x86_64',
    source: "libvirt's tests/qemucapabilitiesdata/caps_8.0.0.x86_64.xml, machine aliases stripped as libvirt's tests do",
  });
}

export async function suites(): Promise<Record<string, Suite>> {
  const caps = await hostCapabilities();
  const registry = defaultRegistry();
  const qemuFiles = xmlFiles('qemuxml2argvdata').filter((f) => isX86_64(readFileSync(f, 'utf8')));
  const outDir = join(libvirtData, 'tests', 'qemuxml2xmloutdata');
  const latest = xmlFiles('qemuxml2xmloutdata').filter((f) => f.endsWith('.x86_64-latest.xml'));
  return {
    qemu: { files: qemuFiles, uri: 'qemu:///system', caps, registry, oracleDir: `${cacheRoot}/qemu` },
    'qemu-out': {
      // Inputs whose expected output libvirt's own tests keep, with the 8.0.0 capabilities they used.
      files: latest.map((f) => join(libvirtData, 'tests', 'qemuxml2argvdata', f.slice(outDir.length + 1).replace('.x86_64-latest.xml', '.xml'))).filter(existsSync),
      uri: 'qemu:///system',
      caps: latestQemuCaps() ?? caps,
      // libvirt's xml2xml tests parse without VIR_DOMAIN_DEF_PARSE_ABI_UPDATE (a define sets it): their
      // outputs leave USB devices without a port where qemuDomainAssignUSBAddresses, for a domain that
      // is not new, assigns none unless every USB device already has one.
      flags: { abiUpdate: false },
      registry,
      oracleDir: `${cacheRoot}/qemu-out`,
      expected: (file) => {
        const name = file.split('/').pop()!.replace(/\.xml$/, '');
        const p = join(outDir, `${name}.x86_64-latest.xml`);
        return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
      },
    },
    test: { files: [...xmlFiles('genericxml2xmlindata'), ...xmlFiles('qemuxml2argvdata')], uri: 'test:///default', caps, registry, driver: testDriver, oracleDir: `${cacheRoot}/test` },
    lxc: {
      files: xmlFiles('lxcxml2xmldata'),
      uri: 'lxc',
      caps,
      registry,
      oracleDir: `${cacheRoot}/lxc`,
      // lxcxml2xmldata holds pairs in one folder: the input is also libvirt's expected output.
      expected: (file) => readFileSync(file, 'utf8'),
    },
    bhyve: {
      // Pairs: bhyvexml2argvdata/bhyvexml2argv-NAME.xml → bhyvexml2xmloutdata/bhyvexml2xmlout-NAME.xml.
      files: xmlFiles('bhyvexml2xmloutdata').map((f) => f.replace('bhyvexml2xmloutdata/bhyvexml2xmlout-', 'bhyvexml2argvdata/bhyvexml2argv-')).filter(existsSync),
      uri: 'bhyve',
      caps,
      registry,
      oracleDir: `${cacheRoot}/bhyve`,
      expected: (file) => readFileSync(file.replace('bhyvexml2argvdata/bhyvexml2argv-', 'bhyvexml2xmloutdata/bhyvexml2xmlout-'), 'utf8'),
    },
  };
}
