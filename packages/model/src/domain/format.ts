/** formatDomainXML / formatDeviceXML: frozen definition → libvirt's canonical XML. */
import { encode } from '../codec/codec.ts';
import type { AnySpec } from '../codec/spec.ts';
import { writeXml } from '../xml/write.ts';
import { devicesSpec } from './spec/devices.ts';
import { domainSpec } from './spec/domain.ts';
import type { DeviceDef, DomainDef } from './types.ts';
import type { XmlElement } from '../xml/tree.ts';

export interface FormatOptions {
  /**
   * Include secrets (graphics passwords, HTTP cookies of network disks), as
   * libvirt does with VIR_DOMAIN_XML_SECURE only. Default false, as
   * libvirt's virDomainGetXMLDesc.
   */
  readonly secure?: boolean;
}

export function formatDomainXML(def: DomainDef, opts: FormatOptions = {}): string {
  const root = libvirtStyle(encode('domain', def, domainSpec));
  return writeXml(opts.secure ? root : withoutSecrets(root));
}

const elementsOf = (el: XmlElement) => el.children.filter((c): c is XmlElement => typeof c !== 'string');

/**
 * Without VIR_DOMAIN_DEF_FORMAT_SECURE libvirt writes no graphics password
 * (virDomainGraphicsAuthDefFormatAttr) and no HTTP cookies
 * (virDomainDiskSourceFormatNetworkCookies, down the backing chain too).
 */
function withoutSecrets(root: XmlElement): XmlElement {
  const noCookies = (el: XmlElement): XmlElement => {
    if (el.name === 'source') return { ...el, children: el.children.filter((c) => typeof c === 'string' || c.name !== 'cookies') };
    if (el.name !== 'disk' && el.name !== 'backingStore' && el.name !== 'mirror') return el;
    return { ...el, children: el.children.map((c) => (typeof c === 'string' ? c : noCookies(c))) };
  };
  const device = (d: XmlElement): XmlElement => {
    if (d.name === 'graphics' && d.attrs['passwd'] !== undefined) {
      const { passwd: _drop, ...attrs } = d.attrs;
      return { ...d, attrs };
    }
    return d.name === 'disk' ? noCookies(d) : d;
  };
  if (!elementsOf(root).some((c) => c.name === 'devices')) return root;
  return { ...root, children: root.children.map((c) => (typeof c !== 'string' && c.name === 'devices' ? { ...c, children: c.children.map((d) => (typeof d === 'string' ? d : device(d))) } : c)) };
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
      if (c.name === 'devices' && c.children.length) return { ...c, children: c.children.map((d) => (typeof d !== 'string' && d.name === 'interface' && d.attrs['type'] === 'hostdev' ? hostdevDriverFirst(d) : d)) };
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

/**
 * A hostdev interface's <driver name='vfio'/> is its PCI backend, which
 * libvirt writes before <source> (virDomainHostdevDefFormatSubsys), where a
 * virtio <driver> goes after <model>.
 */
function hostdevDriverFirst(net: XmlElement): XmlElement {
  const driver = net.children.find((c) => typeof c !== 'string' && c.name === 'driver');
  if (!driver) return net;
  const rest = net.children.filter((c) => c !== driver);
  const at = rest.findIndex((c) => typeof c !== 'string' && c.name !== 'mac');
  rest.splice(at < 0 ? rest.length : at, 0, driver);
  return { ...net, children: rest };
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
