/** formatDomainXML / formatDeviceXML: frozen definition → libvirt's canonical XML. */
import { encode } from '../codec/codec.ts';
import type { AnySpec } from '../codec/spec.ts';
import { writeXml } from '../xml/write.ts';
import { devicesSpec } from './spec/devices.ts';
import { domainSpec } from './spec/domain.ts';
import type { DeviceDef, DomainDef } from './types.ts';
import type { XmlElement } from '../xml/tree.ts';

export function formatDomainXML(def: DomainDef): string {
  return writeXml(libvirtStyle(encode('domain', def, domainSpec)));
}

/** Elements libvirt writes as an opening and a closing tag even when empty. */
const OPEN: Record<string, readonly string[]> = { domain: ['devices'], features: ['hyperv', 'kvm', 'xen'] };

/**
 * The few places libvirt's own writer differs from the plain one: <devices>
 * (and <hyperv>, <kvm>, <xen> inside <features>) are never self-closed, and
 * <metadata> is written by libxml2 (double-quoted attributes). A domain
 * always has <devices>.
 */
function libvirtStyle(root: XmlElement): XmlElement {
  const restyle = (el: XmlElement): XmlElement => {
    const open = OPEN[el.name];
    if (!open && el.name !== 'domain') return el;
    const children = el.children.map((c) => {
      if (typeof c === 'string') return c;
      if (el.name === 'domain' && c.name === 'metadata') return { ...c, style: 'libxml' as const };
      if (c.name === 'features') return restyle(c);
      return open?.includes(c.name) && c.children.length === 0 ? { ...c, style: 'open' as const } : c;
    });
    return { ...el, children };
  };
  let out = restyle(root);
  if (!out.children.some((c) => typeof c !== 'string' && c.name === 'devices')) out = withDevices(out);
  return out;
}

/** Adds an empty <devices> where libvirt writes it: before <seclabel>, <keywrap> and <launchSecurity>. */
function withDevices(root: XmlElement): XmlElement {
  const before = Object.keys(domainSpec.children);
  const at = before.indexOf('devices');
  const kids = [...root.children];
  let i = kids.findIndex((c) => typeof c !== 'string' && before.indexOf(c.name) > at);
  if (i < 0) i = kids.length;
  kids.splice(i, 0, { name: 'devices', attrs: {}, children: [], style: 'open' });
  return { ...root, children: kids };
}

export function formatDeviceXML(dev: DeviceDef): string {
  const child = (devicesSpec.children as Record<string, { spec: AnySpec }>)[dev.kind]!;
  return writeXml(encode(dev.kind, dev.def, child.spec));
}
