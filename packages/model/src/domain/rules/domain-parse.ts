/**
 * Domain-level parse-time checks of virDomainDefParseXML
 * (src/conf/domain_conf.c) outside memory, vCPUs and NUMA: the domain's
 * <seclabel>s (virSecurityLabelDefsParseXML), the <gic> and <ioapic>
 * features, and <sysinfo> (virSysinfoParseXML), whose SMBIOS UUID stands in
 * for a missing domain UUID and must otherwise match it.
 */
import { VirtError } from '../../errors.ts';
import { parseUUID } from '../../util/uuid.ts';
import type { DomainDraft } from '../types.ts';
import type { ParseRule } from './index.ts';
import { propEnum, propYesNo, toInt } from './xmlprop.ts';

/** virSecurityLabelDefParseXML for each domain <seclabel>, then the cross-label checks. */
export const seclabelsParse: ParseRule = (def, ctx) => {
  const labels = def.seclabels ?? [];
  const models: Array<string | undefined> = [];
  labels.forEach((l, i) => {
    const at = `/domain/seclabel[${i + 1}]`;
    const type = propEnum(l.type, 'type', 'seclabel', at, ['default', 'none', 'dynamic', 'static'], { nonzero: true }) ?? 'dynamic';
    const relabelAttr = propYesNo(l.relabel, 'relabel', 'seclabel', at);
    const relabel = relabelAttr !== undefined ? relabelAttr === 'yes' : type === 'dynamic';
    if (type === 'dynamic' && !relabel) throw new VirtError('CONFIG_UNSUPPORTED', 'dynamic label type must use resource relabeling', `${at}/@relabel`);
    if (type === 'none' && relabel) throw new VirtError('CONFIG_UNSUPPORTED', "resource relabeling is not compatible with 'none' label type", `${at}/@relabel`);
    if (l.model !== 'none' && (type === 'static' || (!ctx.inactive && type !== 'none')) && !l.label) {
      throw new VirtError('XML_ERROR', 'security label is missing', `${at}/label`);
    }
    if (models.some((m) => m === l.model)) throw new VirtError('XML_DETAIL', `seclabel for model ${l.model ?? '(null)'} is already provided`, `${at}/@model`);
    models.push(l.model);
  });
  // The test driver has no default security model, so a lone label may go without one.
  if (labels.length > 1) {
    for (let i = labels.length - 1; i >= 0; i--) {
      if (labels[i]!.model === undefined) throw new VirtError('XML_ERROR', 'missing security model when using multiple labels', `/domain/seclabel[${i + 1}]`);
    }
  }
};

/** <features>: the enums read with virXMLPropEnum. */
export const featuresParse: ParseRule = (def) => {
  const f = def.features;
  if (!f) return;
  if (f.gic) propEnum(f.gic.version, 'version', 'gic', '/domain/features/gic', ['none', 'host', '2', '3'], { nonzero: true });
  if (f.ioapic) propEnum(f.ioapic.driver, 'driver', 'ioapic', '/domain/features/ioapic', ['none', 'qemu', 'kvm'], { nonzero: true });
};

type Sysinfo = NonNullable<DomainDraft['sysinfo']>[number];
type Block = NonNullable<Sysinfo['system']>;

function entry(block: Block | undefined, name: string): string | undefined {
  return block?.entries?.find((e) => e.name === name)?.text;
}

/**
 * Runs before the domain UUID is generated: a domain without <uuid> takes
 * the SMBIOS system UUID (libvirt replaces its generated UUID with it).
 */
export const sysinfoUuidDefault: ParseRule = (def) => {
  if (def.uuid !== undefined && def.uuid.trim() !== '') return;
  for (const s of def.sysinfo ?? []) {
    if (s.type !== 'smbios') continue;
    const text = entry(s.system, 'uuid');
    if (text === undefined) continue;
    if (parseUUID(text)) def.uuid = text;
    return;
  }
};

/** virSysinfoParseXML: type, the BIOS date's format, and the SMBIOS UUID against the domain's. */
export const sysinfoParse: ParseRule = (def) => {
  (def.sysinfo ?? []).forEach((s, i) => {
    const at = `/domain/sysinfo[${i + 1}]`;
    const type = propEnum(s.type, 'type', 'sysinfo', at, ['smbios', 'fwcfg'], { required: true });
    if (type !== 'smbios') return;
    const date = entry(s.bios, 'date');
    if (date !== undefined && date !== '' && !biosDateValid(date)) throw new VirtError('XML_DETAIL', "Invalid BIOS 'date' format", `${at}/bios`);
    const uuid = entry(s.system, 'uuid');
    if (uuid === undefined || uuid === '') return;
    const bytes = parseUUID(uuid);
    if (!bytes) throw new VirtError('XML_DETAIL', 'malformed <sysinfo> uuid element', `${at}/system`);
    const mine = parseUUID(def.uuid ?? '');
    if (!mine || mine.some((b, k) => b !== bytes[k])) throw new VirtError('XML_DETAIL', 'UUID mismatch between <uuid> and <sysinfo>', `${at}/system`);
  });
};

/** mm/dd/yy or mm/dd/yyyy (a four-digit year from 1900), each part read by strtol. */
function biosDateValid(date: string): boolean {
  const parts = date.split('/');
  if (parts.length !== 3) return false;
  const [m, d, y] = parts.map((p) => toInt(p, 10));
  if (m === undefined || d === undefined || y === undefined) return false;
  return m >= 1 && m <= 12 && d >= 1 && d <= 31 && y >= 0 && !(y >= 100 && y < 1900);
}
