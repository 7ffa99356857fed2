/**
 * Comparing our XML with libvirt's: whitespace normalised, UUIDs masked, and
 * generation ids and MAC addresses masked where libvirt generated them (not in the input), since
 * both sides draw those at random. Mismatches are grouped by the first
 * element where the two differ.
 */
import { readXml, type XmlElement } from '@virtflow/model';

const UUID_RE = /<uuid>[0-9a-f-]{36}<\/uuid>/g;
/** A <genid> libvirt generated (the input asked for one with an empty <genid/>). */
const GENID_RE = /<genid>([0-9a-f-]{36})<\/genid>/g;
const MAC_RE = /(<mac address=')([0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}):[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}'/g;

export function normalise(xml: string, input: string): string {
  const lowerInput = input.toLowerCase();
  return xml
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('\n')
    .replace(UUID_RE, '<uuid>UUID</uuid>')
    .replace(GENID_RE, (m, id: string) => (lowerInput.includes(id.toLowerCase()) ? m : '<genid>GENID</genid>'))
    .replace(MAC_RE, (m, head: string, prefix: string) => (lowerInput.includes(m.slice(head.length, -1)) ? m : `${head}${prefix}:XX:XX:XX'`));
}

/** The path (by names) of the first element where the two documents differ, for grouping. */
export function firstDifference(expected: string, actual: string): string {
  let a: XmlElement, b: XmlElement;
  try {
    a = readXml(expected);
    b = readXml(actual);
  } catch {
    return '(unreadable)';
  }
  return diffAt(a, b, '') ?? '(same)';
}

function diffAt(a: XmlElement, b: XmlElement, path: string): string | undefined {
  const here = `${path}/${a.name}`;
  if (a.name !== b.name) return `${path}/${a.name}|${b.name}`;
  if (JSON.stringify(a.attrs) !== JSON.stringify(b.attrs)) return `${here}/@`;
  const ac = a.children.filter((c): c is XmlElement => typeof c !== 'string');
  const bc = b.children.filter((c): c is XmlElement => typeof c !== 'string');
  for (let i = 0; i < Math.min(ac.length, bc.length); i++) {
    const d = diffAt(ac[i]!, bc[i]!, here);
    if (d) return d;
  }
  if (ac.length !== bc.length) {
    const extra = ac.length > bc.length ? `libvirt has <${ac[bc.length]!.name}>` : `we have <${bc[ac.length]!.name}>`;
    return `${here}: ${extra}`;
  }
  const at = a.children.filter((c) => typeof c === 'string').join('');
  const bt = b.children.filter((c) => typeof c === 'string').join('');
  return at === bt ? undefined : `${here}/text()`;
}

/** libvirt-style: is the file an x86_64 guest (arch x86_64, or none and an x86 or no emulator)? */
export function isX86_64(xml: string): boolean {
  const arch = /<type[^>]*\sarch=['"]([^'"]+)['"]/.exec(xml)?.[1];
  if (arch !== undefined) return arch === 'x86_64';
  const emulator = /<emulator>([^<]*)<\/emulator>/.exec(xml)?.[1] ?? '';
  return !/aarch64|ppc|s390|arm|riscv|mips|sparc/.test(emulator);
}
