/**
 * What libvirt's formatter writes for what its parser stored
 * (virDomainDefFormatInternal and the per-device formatters of
 * domain_conf.c, device_conf.c, cpu_conf.c). libvirt reads the XML into
 * numbers, booleans and enums and writes those back in one canonical
 * spelling: `slot='18'` comes back as `slot='0x12'`, an absent `managed` as
 * `managed='no'`, a custom CPU model gains `fallback='allow'`. Our model
 * keeps the strings as written, so these rules give them libvirt's spelling
 * once post-parse and validation are done — the last step before the
 * definition is stored, as formatting is libvirt's.
 */
import { current, isDraft, type Draft } from 'immer';
import type { DomainDef } from '../../domain/types.ts';
import { toUInt, toULongLong } from '../../domain/rules/xmlprop.ts';
import { domainRule } from '../rules.ts';
import { eachDevice } from '../devices.ts';

type Def = Draft<DomainDef>;
type Obj = Record<string, unknown>;

/** A number as libvirt's parser read it (absent or unreadable: 0). */
function n(v: unknown, base: 0 | 10 | 16 = 10): number {
  return typeof v === 'string' ? (toUInt(v, base) ?? 0) : 0;
}

function big(v: unknown, base: 0 | 10 | 16): bigint | undefined {
  return typeof v === 'string' ? toULongLong(v, base) : undefined;
}

const hex = (x: number | bigint, width = 0) => x.toString(16).padStart(width, '0');

function formatAddressOf(dev: Obj): void {
  if (!dev || typeof dev !== 'object') return;
  const a = dev['address'] as Obj | undefined;
  if (a && typeof a === 'object') formatDeviceAddress(a);
}

function upperLoadparm(dev: Obj): void {
  if (!dev || typeof dev !== 'object') return;
  const boot = dev['boot'] as { loadparm?: string } | undefined;
  if (boot?.loadparm !== undefined) boot.loadparm = boot.loadparm.toUpperCase();
}

/** Replaces an object's own keys (but $unknown) by `fields`, keeping the object. */
function rewrite(o: Obj, fields: Record<string, string | undefined>, keep: readonly string[] = NONE): void {
  if (spelledAs(o, fields, keep)) return;
  for (const k of Object.keys(o)) if (k !== '$unknown' && !keep.includes(k)) delete o[k];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) o[k] = v;
}

const NONE: readonly string[] = [];

/**
 * virDomainDefFormatInternal writes the console of an hvm guest that aliases
 * a serial port (target type serial or none, and a serial at its place) from
 * that serial: the model keeps it as a copy made during post-parse
 * (consoleCompat), so what the serial gained since — its address, assigned
 * with the others — is given to the copy too.
 */
export const consoleSerialAddress = domainRule(
  'console-serial-address',
  'the console that aliases a serial port is written from that serial, with its address',
  (def) => {
    if (def.os?.type?.text !== 'hvm') return;
    const consoles = def.devices?.consoles as Obj[] | undefined;
    const serials = def.devices?.serials as Obj[] | undefined;
    if (!consoles || !serials) return;
    for (let n = 0; n < consoles.length && n < serials.length; n++) {
      const c = consoles[n]!;
      const t = (c['target'] as { type?: string } | undefined)?.type;
      if (t !== 'serial' && t !== 'none') continue;
      const a = serials[n]!['address'];
      if (JSON.stringify(a) === JSON.stringify(c['address'])) continue;
      if (a === undefined) delete c['address'];
      else c['address'] = structuredClone(isDraft(a) ? current(a) : a);
    }
  },
);

/** Removes the children named `name` the decoder kept aside (under $unknown) in `o`. */
function dropUnknownChildren(o: Obj, name: string): void {
  const u = o['$unknown'] as { attrs?: unknown; children?: Array<{ node: { name: string } }> } | undefined;
  const kids = u?.children;
  if (!kids?.some((k) => k.node.name === name)) return;
  const rest = kids.filter((k) => k.node.name !== name);
  if (rest.length) u!.children = rest;
  else delete u!.children;
  if (u!.attrs === undefined && u!.children === undefined) delete o['$unknown'];
}

/**
 * Whether `o` already holds exactly `fields` (besides $unknown and `keep`):
 * then a rewrite would change nothing but the order of its keys, which no
 * writer reads. Addresses assigned by a driver are mostly in this state.
 */
function spelledAs(o: Obj, fields: Record<string, string | undefined>, keep: readonly string[]): boolean {
  let have = 0;
  for (const k in o) {
    if (k === '$unknown' || (keep.length !== 0 && keep.includes(k))) continue;
    const v = fields[k];
    if (v === undefined || v !== o[k]) return false;
    have++;
  }
  let want = 0;
  for (const k in fields) if (fields[k] !== undefined) want++;
  return have === want;
}

/** virDomainUSBAddressPortFormatBuf: the port's levels up to the first 0, dot-separated. */
function usbPort(port: unknown): string | undefined {
  if (typeof port !== 'string') return undefined;
  const levels: number[] = [];
  for (const p of port.split('.')) {
    const v = toUInt(p.trim(), 10) ?? 0;
    if (v === 0) break;
    levels.push(v);
  }
  return levels.length ? levels.join('.') : undefined;
}

/** virDomainDeviceInfoFormat's <address>, per address type. */
export function formatDeviceAddress(a: Obj): void {
  const type = a['type'] as string | undefined;
  switch (type) {
    case 'pci': {
      const d = n(a['domain'], 0);
      const b = n(a['bus'], 0);
      const s = n(a['slot'], 0);
      const f = n(a['function'], 0);
      const multi = a['multifunction'] as string | undefined;
      const zpci = a['zpci'] as { uid?: string; fid?: string } | undefined;
      rewrite(
        a,
        d || b || s
          ? { type, domain: `0x${hex(d, 4)}`, bus: `0x${hex(b, 2)}`, slot: `0x${hex(s, 2)}`, function: `0x${f}`, multifunction: multi }
          : { type, multifunction: multi },
      );
      if (zpci && (zpci.uid !== undefined || zpci.fid !== undefined)) {
        a['zpci'] = { uid: `0x${hex(n(zpci.uid, 0), 4)}`, fid: `0x${hex(n(zpci.fid, 0), 8)}` };
      }
      return;
    }
    case 'drive':
      rewrite(a, { type, controller: String(n(a['controller'])), bus: String(n(a['bus'])), target: String(n(a['target'])), unit: String(n(a['unit'])) });
      return;
    case 'virtio-serial':
      rewrite(a, { type, controller: String(n(a['controller'])), bus: String(n(a['bus'])), port: String(n(a['port'])) });
      return;
    case 'ccid':
      rewrite(a, { type, controller: String(n(a['controller'])), slot: String(n(a['slot'])) });
      return;
    case 'usb':
      rewrite(a, { type, bus: String(n(a['bus'])), port: usbPort(a['port']) });
      return;
    case 'spapr-vio': {
      const reg = big(a['reg'], 16);
      rewrite(a, { type, reg: reg === undefined ? undefined : `0x${hex(reg, 8)}` });
      return;
    }
    case 'ccw':
      rewrite(a, { type, cssid: `0x${hex(n(a['cssid'], 0))}`, ssid: `0x${hex(n(a['ssid'], 0))}`, devno: `0x${hex(n(a['devno'], 0), 4)}` });
      return;
    case 'isa': {
      const io = n(a['iobase'], 16);
      const irq = n(a['irq'], 16);
      rewrite(a, { type, iobase: io > 0 ? `0x${hex(io)}` : undefined, irq: irq > 0 ? `0x${hex(irq)}` : undefined });
      return;
    }
    case 'dimm': {
      const base = big(a['base'], 16) ?? 0n;
      rewrite(a, { type, slot: String(n(a['slot'])), base: base ? `0x${hex(base)}` : undefined });
      return;
    }
    case 'virtio-mmio':
    case 'unassigned':
      rewrite(a, { type });
      return;
  }
}

/** virPCIDeviceAddressFormat: all four fields, in hex (the function as 0x%d). */
function pciSourceAddress(a: Obj, withType: boolean): void {
  const [d, b, s, f] = (['domain', 'bus', 'slot', 'function'] as const).map((k) => n(a[k], 0)) as [number, number, number, number];
  rewrite(a, { type: withType ? 'pci' : undefined, domain: `0x${hex(d, 4)}`, bus: `0x${hex(b, 2)}`, slot: `0x${hex(s, 2)}`, function: `0x${f}` });
}

/** The <source><address> of a subsystem host device (virDomainHostdevDefFormatSubsys*). */
function hostdevSourceAddress(type: string | undefined, source: Obj | undefined, key: string, withType: boolean): void {
  const a = source?.[key] as Obj | undefined;
  if (!source || !a) return;
  switch (type) {
    case 'pci':
      pciSourceAddress(a, withType);
      return;
    case 'usb': {
      const bus = n(a['bus']);
      const device = n(a['device']);
      if (!bus && !device) delete source[key];
      else rewrite(a, { type: withType ? 'usb' : undefined, bus: String(bus), device: String(device) });
      return;
    }
    case 'scsi':
      if (source['protocol'] === 'iscsi') return;
      rewrite(a, { type: withType ? 'scsi' : undefined, bus: String(n(a['bus'])), target: String(n(a['target'])), unit: String(n(a['unit'])) });
      return;
  }
}

export const formatAddresses = domainRule(
  'format-addresses',
  "libvirt reads device addresses as numbers and writes them in one spelling: PCI fields in hex (an all-zero PCI address as none), drive, virtio-serial and CCID fields in decimal with every field, CCW and s390 zPCI ids in hex",
  (def) => {
    eachDevice(def as DomainDef, formatAddressOf);
    for (const h of (def.devices?.hostdevs ?? []) as Obj[]) {
      if ((h['mode'] ?? 'subsystem') !== 'subsystem') continue;
      hostdevSourceAddress(h['type'] as string | undefined, h['source'] as Obj | undefined, 'address', false);
    }
    for (const net of (def.devices?.interfaces ?? []) as Obj[]) {
      if (net['type'] !== 'hostdev') continue;
      const source = net['source'] as Obj | undefined;
      const a = source?.['hostdevAddress'] as Obj | undefined;
      const type = (a?.['type'] as string | undefined) ?? ((source?.['vendor'] as unknown) ? 'usb' : undefined);
      hostdevSourceAddress(type, source, 'hostdevAddress', true);
    }
  },
);

export const formatHostdevManaged = domainRule(
  'format-hostdev-managed',
  "a subsystem host device is managed or not: libvirt writes managed='no' when it was not asked to manage it",
  (def) => {
    for (const h of def.devices?.hostdevs ?? []) {
      if ((h.mode ?? 'subsystem') !== 'subsystem') continue;
      const m = h as { managed?: string };
      m.managed = m.managed === 'yes' ? 'yes' : 'no';
    }
  },
);

export const formatCpu = domainRule(
  'format-cpu',
  "a guest CPU is in custom mode unless told otherwise; a custom CPU with a model matches it exactly and may fall back to another model unless forbidden; a model element without a name says nothing",
  (def) => {
    const cpu = def.cpu;
    if (!cpu) return;
    const mode = cpu.mode ?? 'custom';
    const withModel = mode === 'custom' || mode === 'host-model';
    const model = cpu.model;
    const hasModel = model?.text !== undefined && model.text !== '';
    if (!withModel) {
      // virCPUDefFormatBuf writes <model> and <vendor> for custom and host-model CPUs only.
      delete cpu.model;
      delete cpu.vendor;
    } else if (model && !hasModel) {
      delete model.text;
      delete model.fallback;
      if (model.vendorId === undefined) delete cpu.model;
    }
    if (mode !== 'custom' || hasModel) {
      cpu.mode = mode;
      if (mode === 'custom') cpu.match ??= 'exact';
    }
    if (hasModel && withModel) cpu.model!.fallback ??= 'allow';
    // virXMLFormatElement writes nothing for a <cpu> with neither attributes nor children.
    if (Object.values(cpu).every((v) => v === undefined)) delete def.cpu;
  },
);

/** virDomainNetModel, matched ignoring case (virDomainNetSetModelString); `unknown` is no model. */
const NET_MODELS = ['unknown', 'netfront', 'rtl8139', 'virtio', 'e1000', 'e1000e', 'virtio-transitional', 'virtio-non-transitional', 'usb-net', 'spapr-vlan', 'lan9118', 'scm91c111', 'vlance', 'vmxnet', 'vmxnet2', 'vmxnet3', 'Am79C970A', 'Am79C973', '82540EM', '82545EM', '82543GC'];
/** The same, by lower-case name. */
const NET_MODEL_BY_LOWER = new Map(NET_MODELS.map((m) => [m.toLowerCase(), m]));
const VIRTIO_NET = ['virtio', 'virtio-transitional', 'virtio-non-transitional'];
/** Interface types whose <filterref> libvirt reads (virDomainNetDefParseXML's parse_filterref). */
const FILTERREF_TYPES = ['network', 'bridge', 'ethernet'];

export const formatInterfaces = domainRule(
  'format-interfaces',
  "libvirt writes a known NIC model in its own spelling, a <driver> and a vhost backend only for virtio models (a hostdev interface's driver is its PCI backend), no single queue, rx coalescing only when set, a filter only for network, bridge and ethernet interfaces, and no network port id in a persistent definition",
  (def) => {
    for (const net of def.devices?.interfaces ?? []) {
      const model = net.model?.type;
      if (model !== undefined) {
        const known = NET_MODEL_BY_LOWER.get(model.toLowerCase());
        if (known === 'unknown') delete net.model;
        else if (known !== undefined) net.model!.type = known;
      }
      if (net.filterref && !FILTERREF_TYPES.includes(net.type ?? '')) delete net.filterref;
      if (net.type === 'network' && net.source?.portid !== undefined) delete net.source.portid;
      const virtio = net.type !== 'hostdev' && VIRTIO_NET.includes(net.model?.type ?? '');
      // virDomainNetBackendParseXML: a vhost device only for virtio models.
      const backend = net.backend as Record<string, unknown> | undefined;
      if (backend) {
        if (!virtio) delete backend['vhost'];
        if (Object.values(backend).every((v) => v === undefined)) delete net.backend;
      }
      // virDomainNetDefCoalesceParseXML: only rx frames, and 0 is none.
      const coalesce = net.coalesce as { rx?: { frames?: { max?: string } } } | undefined;
      if (coalesce) {
        // libvirt reads the first <coalesce> (./coalesce) and never writes another: one kept
        // aside would come back as the first once this one is written as none.
        dropUnknownChildren(net as Obj, 'coalesce');
        const max = coalesce.rx?.frames?.max;
        if (max === undefined || toUInt(max, 10) === 0) delete net.coalesce;
        else net.coalesce = { rx: { frames: { max: String(toUInt(max, 10) ?? max) } } };
      }
      const driver = net.driver as Record<string, unknown> | undefined;
      if (!driver) continue;
      // There is always one queue: libvirt stores queues='1' as none.
      if (virtio && driver['queues'] !== undefined && (toUInt(driver['queues'] as string, 10) ?? 2) <= 1) delete driver['queues'];
      if (net.type === 'hostdev') {
        const name = driver['name'] as string | undefined;
        if (name === undefined || name === 'default') delete net.driver;
        else net.driver = { name };
      } else if (!VIRTIO_NET.includes(net.model?.type ?? '') || Object.values(driver).every((v) => v === undefined)) delete net.driver;
    }
  },
);

export const formatGraphicsAuth = domainRule(
  'format-graphics-auth',
  'a graphics password expiry and the connected policy belong to a password: without one, libvirt writes neither',
  (def) => {
    for (const g of def.devices?.graphics ?? []) {
      const a = g as { passwd?: string; passwdValidTo?: string; connected?: string };
      if (a.passwd !== undefined) continue;
      delete a.passwdValidTo;
      delete a.connected;
    }
  },
);

export const formatBootLoadparm = domainRule(
  'format-boot-loadparm',
  "libvirt stores an s390 boot loadparm in upper case (virDomainDeviceBootParseXML)",
  (def) => {
    eachDevice(def as DomainDef, upperLoadparm);
  },
);

export const formatFilesystemModes = domainRule(
  'format-filesystem-modes',
  "libvirt reads a filesystem's file and directory creation modes as octal numbers and writes them with four digits",
  (def) => {
    for (const fs of def.devices?.filesystems ?? []) {
      const f = fs as { fmode?: string; dmode?: string };
      for (const k of ['fmode', 'dmode'] as const) {
        if (f[k] === undefined) continue;
        const v = toUInt(f[k]!, 8);
        if (v === undefined) continue;
        if (v === 0) delete f[k];
        else f[k] = v.toString(8).padStart(4, '0');
      }
    }
  },
);

/** virXMLPropInt base 0 with -1 for absent. */
function signedOrAbsent(v: string | undefined): number {
  if (v === undefined) return -1;
  const t = v.trim();
  const neg = t.startsWith('-');
  const body = neg || t.startsWith('+') ? t.slice(1) : t;
  const m = toUInt(body, 0);
  return m === undefined ? -1 : neg ? -m : m;
}

/** virDomainRedirFilterUSBVersionHelper: `M.m` as BCD, with `J.M` meaning `J.M0`. */
function usbVersion(v: string | undefined): number {
  if (v === undefined || v === '-1') return -1;
  const m = /^\s*\+?(\d+)\.\s*\+?(\d+)/.exec(v);
  if (!m) return -1;
  const major = Number(m[1]);
  let minor = Number(m[2]);
  if (v.slice(v.indexOf('.') + 1).length === 1) minor *= 10;
  return (Math.floor(major / 10) << 12) | ((major % 10) << 8) | (Math.floor(minor / 10) << 4) | (minor % 10);
}

export const formatRedirFilter = domainRule(
  'format-redirfilter',
  "libvirt writes a USB redirection filter's class, vendor and product in upper-case hex and its version as major.minor with two minor digits; -1 (any) is not written",
  (def) => {
    const rf = def.devices?.redirfilter;
    if (!rf) return;
    const usbdevs = rf.usbdevs ?? [];
    if (!usbdevs.length) {
      delete def.devices!.redirfilter;
      return;
    }
    const hexUp = (x: number, w: number) => `0x${x.toString(16).toUpperCase().padStart(w, '0')}`;
    for (const u of usbdevs) {
      const d = u as { class?: string; vendor?: string; product?: string; version?: string };
      const cls = signedOrAbsent(d.class);
      const vendor = signedOrAbsent(d.vendor);
      const product = signedOrAbsent(d.product);
      const version = usbVersion(d.version);
      if (cls >= 0) d.class = hexUp(cls, 2);
      else delete d.class;
      if (vendor >= 0) d.vendor = hexUp(vendor, 4);
      else delete d.vendor;
      if (product >= 0) d.product = hexUp(product, 4);
      else delete d.product;
      if (version >= 0) {
        const major = ((version & 0xf000) >> 12) * 10 + ((version & 0x0f00) >> 8);
        const minor = ((version & 0x00f0) >> 4) * 10 + (version & 0x000f);
        d.version = `${major}.${String(minor).padStart(2, '0')}`;
      } else delete d.version;
    }
  },
);

export const formatPanics = domainRule(
  'format-panics',
  'a panic device with neither a model nor an alias or address has nothing libvirt would write (virXMLFormatElement drops an empty <panic/>)',
  (def) => {
    const panics = def.devices?.panics;
    if (!panics?.length) return;
    const kept = panics.filter((p) => Object.entries(p).some(([, v]) => v !== undefined));
    if (kept.length === panics.length) return;
    if (kept.length) def.devices!.panics = kept;
    else delete def.devices!.panics;
  },
);
