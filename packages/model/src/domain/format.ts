/** formatDomainXML / formatDeviceXML: frozen definition → libvirt's canonical XML. */
import { encode, pruneXml, writeEncoded, type Prune, type WriteHooks } from '../codec/codec.ts';
import type { AnySpec, Unknown } from '../codec/spec.ts';
import { writeElement, writeXml } from '../xml/write.ts';
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
  if (directlyWritable(def)) return writeEncoded('domain', def, domainSpec, 0, opts.secure ? domainHooks.secure : domainHooks.plain);
  const root = libvirtStyle(encode('domain', def, domainSpec));
  return writeXml(opts.secure ? root : withoutSecrets(root));
}

// ------------------------------------------------------------ direct writer
//
// formatDomainXML writes the definition in one pass (codec's writeEncoded),
// making the same changes as libvirtStyle and withoutSecrets below as it goes:
// they are written against the tree, and remain the reference (and the path
// for the rare definitions the direct writer leaves to them: without
// <devices>, or with an unmodelled child of <domain> that bears the name of
// a modelled one).

/** Elements libvirt writes as an opening and a closing tag even when empty. */
const OPEN: Record<string, readonly string[]> = { domain: ['devices'], features: ['hyperv', 'kvm', 'xen'] };

const domainChildNames = new Set(Object.keys(domainSpec.children));

function directlyWritable(def: DomainDef): boolean {
  if ((def as { devices?: unknown }).devices === undefined) return false;
  const pending = (def as { $unknown?: Unknown }).$unknown?.children;
  return !pending || !pending.some((u) => domainChildNames.has(u.node.name));
}

/** libvirt's HTTP cookies of network disks, down the backing chain (virDomainDiskSourceFormatNetworkCookies). */
const NO_COOKIES: Prune = { at: 'source', drop: 'cookies', through: ['disk', 'backingStore', 'mirror'] };

function unknownAttr(value: unknown, name: string): boolean {
  return (value as { $unknown?: Unknown }).$unknown?.attrs?.[name] !== undefined;
}

function deviceHooks(secure: boolean): WriteHooks {
  return {
    child(name, value, spec, depth) {
      const v = value as Record<string, unknown>;
      if (name === 'interface' && (v['type'] === 'hostdev' || unknownAttr(v, 'type'))) {
        const encoded = encode(name, value, spec);
        const net = encoded.attrs['type'] === 'hostdev' ? hostdevDriverFirst(encoded) : encoded;
        return writeElement(secure ? net : secretless(net), depth, false);
      }
      if (secure) return undefined;
      if (name === 'graphics' && (v['passwd'] !== undefined || unknownAttr(v, 'passwd'))) return writeElement(secretless(encode(name, value, spec)), depth, false);
      if (name === 'disk') return writeEncoded(name, value, spec, depth, undefined, false, NO_COOKIES);
      return undefined;
    },
    unknown: (node) => {
      const d = node.name === 'interface' && node.attrs['type'] === 'hostdev' ? hostdevDriverFirst(node) : node;
      return secure ? d : secretless(d);
    },
  };
}

const featuresHooks: WriteHooks = { openChildren: OPEN['features']!, unknown: (node) => restyleChild('features', node) };

function domainHooksFor(secure: boolean): WriteHooks {
  const devices = deviceHooks(secure);
  return {
    child(name, value, spec, depth) {
      if (name === 'devices') return writeEncoded(name, value, spec, depth, devices, true);
      if (name === 'features') return writeEncoded(name, value, spec, depth, featuresHooks);
      if (name === 'metadata') return writeElement({ ...(value as XmlElement), style: 'libxml' }, depth, false);
      return undefined;
    },
  };
}

const elementsOf = (el: XmlElement) => el.children.filter((c): c is XmlElement => typeof c !== 'string');

/**
 * Without VIR_DOMAIN_DEF_FORMAT_SECURE libvirt writes no graphics password
 * (virDomainGraphicsAuthDefFormatAttr) and no HTTP cookies
 * (virDomainDiskSourceFormatNetworkCookies, down the backing chain too).
 */
function withoutSecrets(root: XmlElement): XmlElement {
  if (!elementsOf(root).some((c) => c.name === 'devices')) return root;
  return { ...root, children: root.children.map((c) => (typeof c !== 'string' && c.name === 'devices' ? { ...c, children: c.children.map((d) => (typeof d === 'string' ? d : secretless(d))) } : c)) };
}

/** A device as libvirt writes it without VIR_DOMAIN_DEF_FORMAT_SECURE. */
function secretless(d: XmlElement): XmlElement {
  if (d.name === 'graphics' && d.attrs['passwd'] !== undefined) {
    const { passwd: _drop, ...attrs } = d.attrs;
    return { ...d, attrs };
  }
  return d.name === 'disk' ? pruneXml(d, NO_COOKIES) : d;
}


/**
 * The few places libvirt's own writer differs from the plain one: <devices>
 * (and <hyperv>, <kvm>, <xen> inside <features>) are never self-closed, and
 * <metadata> is written by libxml2 (double-quoted attributes). A domain
 * always has <devices>.
 */
function libvirtStyle(root: XmlElement): XmlElement {
  let out = restyle(root);
  if (!out.children.some((c) => typeof c !== 'string' && c.name === 'devices')) out = withDevices(out);
  return out;
}

function restyle(el: XmlElement): XmlElement {
  if (!OPEN[el.name] && el.name !== 'domain') return el;
  return { ...el, children: el.children.map((c) => (typeof c === 'string' ? c : restyleChild(el.name, c))) };
}

function restyleChild(parent: string, c: XmlElement): XmlElement {
  if (c.name === 'devices' && c.children.length) return { ...c, children: c.children.map((d) => (typeof d !== 'string' && d.name === 'interface' && d.attrs['type'] === 'hostdev' ? hostdevDriverFirst(d) : d)) };
  if (parent === 'domain' && c.name === 'metadata') return { ...c, style: 'libxml' as const };
  if (c.name === 'features') return restyle(c);
  return OPEN[parent]?.includes(c.name) && c.children.length === 0 ? { ...c, style: 'open' as const } : c;
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
  // Right before <source>: an unknown child kept after <mac> stays before the driver, where a reparse puts it.
  let at = rest.findIndex((c) => typeof c !== 'string' && c.name === 'source');
  if (at < 0) at = rest.findIndex((c) => typeof c !== 'string' && c.name !== 'mac');
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
  return writeEncoded(dev.kind, dev.def, child.spec, 0);
}

const domainHooks = { plain: domainHooksFor(false), secure: domainHooksFor(true) };
