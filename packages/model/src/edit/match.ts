/**
 * Finding the device of a persistent definition that a detach-device or
 * update-device XML means, as libvirt 9.0.0 does (domain_conf.c:
 * virDomainDiskIndexByName, virDomainNetFindIdx, virDomainHostdevMatch,
 * virDomainControllerFind, virDomainSoundDefEquals, virDomainChrEquals,
 * virDomainRNGFind, virDomainMemoryFindByDefInternal, virDomainShmemDefEquals,
 * virDomainRedirdevDefFind, virDomainInputDefEquals, virDomainVsockDefEquals,
 * virDomainLeaseIndex; device_conf.c: virDomainDeviceInfoAddressIsEqual).
 *
 * Both sides are post-parsed, so defaults libvirt keeps as enum values are
 * filled on both; numbers are compared as numbers (`0x01` is `1`), as
 * libvirt compares the parsed integers.
 */
import { VirtError } from '../errors.ts';

/** A device's decoded data, read loosely: the matchers look at a few fields of many shapes. */
export type Loose = { readonly [k: string]: unknown };

export const obj = (v: unknown): Loose => (typeof v === 'object' && v !== null ? (v as Loose) : {});
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** An integer as libvirt parses it (decimal or 0x hex); absent is 0, as in libvirt's zeroed structs. */
export const num = (v: unknown): number => {
  if (typeof v !== 'string' || v.trim() === '') return 0;
  const n = Number(v.trim());
  return Number.isFinite(n) ? n : NaN;
};
const at = (v: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((o, k) => obj(o)[k], v);
const sameStr = (a: unknown, b: unknown) => (str(a) ?? null) === (str(b) ?? null);
const sameNum = (a: unknown, b: unknown) => num(a) === num(b);

// ------------------------------------------------------------- addresses

/** The address type of a device's info (`none` when it has no <address>). */
export function addressType(dev: Loose): string {
  return str(at(dev, 'address', 'type')) ?? 'none';
}

const ADDRESS_FIELDS: Readonly<Record<string, readonly string[]>> = {
  pci: ['domain', 'bus', 'slot', 'function'],
  drive: ['controller', 'bus', 'target', 'unit'],
  'virtio-serial': ['controller', 'bus', 'port'],
  ccid: ['controller', 'slot'],
  'spapr-vio': ['reg'],
  ccw: ['cssid', 'ssid', 'devno'],
  isa: ['iobase', 'irq'],
  dimm: ['slot', 'base'],
};

/** virDomainDeviceInfoAddressIsEqual. */
export function sameAddress(a: Loose, b: Loose): boolean {
  const ta = addressType(a);
  if (ta !== addressType(b)) return false;
  const x = obj(a.address);
  const y = obj(b.address);
  // A USB port is a dotted path ("1.2"), compared as written.
  if (ta === 'usb') return sameNum(x.bus, y.bus) && sameStr(x.port, y.port);
  return (ADDRESS_FIELDS[ta] ?? []).every((f) => sameNum(x[f], y[f]));
}

/** `info.type != NONE && !AddressIsEqual` — the pattern of most finders. */
const addressMatches = (want: Loose, have: Loose) => addressType(want) === 'none' || sameAddress(want, have);
const alias = (d: Loose) => str(at(d, 'alias', 'name'));

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
/** virPCIDeviceAddressAsString. */
export const pciAddressString = (a: Loose) => `${hex(num(a.domain), 4)}:${hex(num(a.bus), 2)}:${hex(num(a.slot), 2)}.${num(a.function)}`;
/** virCCWDeviceAddressAsString. */
export const ccwAddressString = (a: Loose) => `${num(a.cssid).toString(16)}.${num(a.ssid).toString(16)}.${hex(num(a.devno), 4)}`;

// -------------------------------------------------------------- per kind

/** virDomainDiskIndexByName(def, name, false): a target dev, or (with a leading slash) an unambiguous source. */
export function diskIndexByName(disks: readonly Loose[], name: string): number {
  let candidate = -1;
  for (const [i, d] of disks.entries()) {
    if (!name.startsWith('/')) {
      if (str(at(d, 'target', 'dev')) === name) return i;
    } else if (diskSource(d) === name) {
      if (candidate >= 0) return -1;
      candidate = i;
    }
  }
  return candidate;
}

function diskSource(d: Loose): string | undefined {
  const s = obj(d.source);
  return str(s.file) ?? str(s.dev) ?? str(s.dir) ?? str(s.name) ?? str(s.volume);
}

/**
 * virDomainNetFindIdx: by MAC when the XML gave one, by PCI or CCW address
 * when given, by alias when both have one; exactly one must match.
 */
export function netFindIdx(nets: readonly Loose[], net: Loose, macSpecified: boolean): number {
  const mac = str(at(net, 'mac', 'address'))?.toLowerCase();
  const pci = addressType(net) === 'pci';
  const ccw = addressType(net) === 'ccw';
  let match = -1;
  for (const [i, have] of nets.entries()) {
    if (macSpecified && str(at(have, 'mac', 'address'))?.toLowerCase() !== mac) continue;
    if ((pci || ccw) && !sameAddress(net, have)) continue;
    const a = alias(net);
    const b = alias(have);
    if (a !== undefined && b !== undefined && a !== b) continue;
    if (match >= 0) {
      throw new VirtError('OPERATION_FAILED', macSpecified ? `multiple devices matching MAC address ${mac} found` : 'multiple matching devices found', '/interface');
    }
    match = i;
  }
  if (match >= 0) return match;
  const where = ccw ? ccwAddressString(obj(net.address)) : pci ? pciAddressString(obj(net.address)) : '(<null>)';
  throw new VirtError(
    'DEVICE_MISSING',
    `no device found at address '${where}' matching MAC address '${macSpecified ? mac : '(<null>)'}' and alias '${alias(net) ?? '(<null>)'}'`,
    '/interface',
  );
}

/** virDomainHostdevMatch: same mode, then the source that identifies the host device. */
export function hostdevMatch(a: Loose, b: Loose): boolean {
  const mode = (d: Loose) => str(d.mode) ?? 'subsystem';
  if (mode(a) !== mode(b) || str(a.type) !== str(b.type)) return false;
  const sa = obj(a.source);
  const sb = obj(b.source);
  if (mode(a) === 'capabilities') {
    switch (str(a.type)) {
      case 'storage': return sameStr(sa.block, sb.block);
      case 'misc': return sameStr(sa.char, sb.char);
      case 'net': return sameStr(sa.interface, sb.interface);
      default: return false;
    }
  }
  const aa = obj(sa.address);
  const ab = obj(sb.address);
  switch (str(a.type)) {
    case 'pci':
      return ['domain', 'bus', 'slot', 'function'].every((f) => sameNum(aa[f], ab[f]));
    case 'usb':
      // By bus location on the host when both are given, else by vendor and product.
      if (num(aa.bus) && num(aa.device)) return sameNum(aa.bus, ab.bus) && sameNum(aa.device, ab.device);
      return sameNum(at(sa, 'vendor', 'id'), at(sb, 'vendor', 'id')) && sameNum(at(sa, 'product', 'id'), at(sb, 'product', 'id'));
    case 'scsi': {
      const proto = (s: Loose) => str(s.protocol) ?? 'adapter';
      if (proto(sa) !== proto(sb)) return false;
      if (proto(sa) === 'iscsi') {
        return sameStr(at(sa, 'host', 'name'), at(sb, 'host', 'name')) && sameNum(at(sa, 'host', 'port'), at(sb, 'host', 'port')) && sameStr(sa.name, sb.name);
      }
      return sameStr(at(sa, 'adapter', 'name'), at(sb, 'adapter', 'name')) && ['bus', 'target', 'unit'].every((f) => sameNum(aa[f], ab[f]));
    }
    case 'scsi_host':
      return sameStr(sa.protocol, sb.protocol) && sameStr(sa.wwpn, sb.wwpn);
    case 'mdev':
      return sameStr(aa.uuid, ab.uuid);
    default:
      return false;
  }
}

/** virDomainSoundDefEquals. */
export function soundEquals(a: Loose, b: Loose): boolean {
  if (!sameStr(a.model, b.model)) return false;
  const ca = (a.codecs as readonly Loose[] | undefined) ?? [];
  const cb = (b.codecs as readonly Loose[] | undefined) ?? [];
  if (ca.length !== cb.length || ca.some((c, i) => !sameStr(c.type, cb[i]!.type))) return false;
  return addressMatches(a, b);
}

/** virDomainChrSourceDefIsEqual over the model's chardev shape (type on the device, <source>s inside). */
export function chrSourceEquals(a: Loose, b: Loose): boolean {
  const type = str(a.type) ?? 'pty';
  if (type !== (str(b.type) ?? 'pty')) return false;
  const sources = (d: Loose) => (d.sources as readonly Loose[] | undefined) ?? [];
  const src = (d: Loose, mode?: string) => obj(mode ? sources(d).find((s) => str(s.mode) === mode) : sources(d)[0]);
  const x = src(a);
  const y = src(b);
  const same = (...keys: string[]) => keys.every((k) => sameStr(x[k], y[k]));
  const reconnect = () => sameStr(at(x, 'reconnect', 'enabled'), at(y, 'reconnect', 'enabled')) && sameNum(at(x, 'reconnect', 'timeout'), at(y, 'reconnect', 'timeout'));
  switch (type) {
    case 'file':
      return same('path', 'append');
    case 'pty':
    case 'dev':
    case 'pipe':
      return same('path');
    case 'nmdm':
      return same('master', 'slave');
    case 'udp': {
      const [ab, bb, ac, bc] = [src(a, 'bind'), src(b, 'bind'), src(a, 'connect'), src(b, 'connect')];
      return sameStr(ab.host, bb.host) && sameStr(ab.service, bb.service) && sameStr(ac.host, bc.host) && sameStr(ac.service, bc.service);
    }
    case 'tcp':
      return same('mode', 'host', 'service') && sameStr(at(a, 'protocol', 'type'), at(b, 'protocol', 'type')) && reconnect();
    case 'unix':
      return same('mode', 'path') && reconnect();
    case 'spiceport':
    case 'dbus':
      return same('channel');
    case 'qemu-vdagent':
      return sameStr(at(x, 'clipboard', 'copypaste'), at(y, 'clipboard', 'copypaste')) && sameStr(at(x, 'mouse', 'mode'), at(y, 'mouse', 'mode'));
    default:
      return true;
  }
}

/** virDomainChrEquals, for chardevs of the same kind (serial, parallel, console, channel). */
export function chrEquals(kind: string, a: Loose, b: Loose): boolean {
  if (!chrSourceEquals(a, b)) return false;
  const ta = obj(a.target);
  const tb = obj(b.target);
  switch (kind) {
    case 'channel': {
      if (!sameStr(ta.type, tb.type)) return false;
      if (str(ta.type) === 'guestfwd') return sameStr(ta.address, tb.address) && sameNum(ta.port, tb.port);
      return sameStr(ta.name, tb.name);
    }
    case 'serial':
      if (!sameStr(ta.type, tb.type)) return false;
      return sameNum(ta.port, tb.port);
    default:
      return sameNum(ta.port, tb.port);
  }
}

/** virDomainRNGFind's test. */
export function rngMatches(want: Loose, have: Loose): boolean {
  const bw = obj(want.backend);
  const bh = obj(have.backend);
  if (!sameStr(want.model, have.model) || !sameStr(bw.model, bh.model)) return false;
  if (!sameNum(at(want, 'rate', 'bytes'), at(have, 'rate', 'bytes')) || !sameNum(at(want, 'rate', 'period'), at(have, 'rate', 'period'))) return false;
  if (str(bw.model) === 'random' && !sameStr(bw.text, bh.text)) return false;
  if (str(bw.model) === 'egd' && !chrSourceEquals(bw, bh)) return false;
  return addressMatches(want, have);
}

/** virDomainInputDefEquals. */
export function inputEquals(a: Loose, b: Loose): boolean {
  if (!sameStr(a.type, b.type) || !sameStr(a.bus, b.bus)) return false;
  if (str(a.type) === 'passthrough' && !sameStr(at(a, 'source', 'evdev'), at(b, 'source', 'evdev'))) return false;
  return addressMatches(a, b);
}

/** virDomainShmemDefEquals. */
export function shmemEquals(a: Loose, b: Loose): boolean {
  if (!sameStr(a.name, b.name) || kib(a.size) !== kib(b.size) || !sameStr(at(a, 'model', 'type'), at(b, 'model', 'type')) || !sameStr(a.role, b.role)) return false;
  if ((a.server === undefined) !== (b.server === undefined)) return false;
  if (a.server !== undefined && !sameStr(at(a, 'server', 'path'), at(b, 'server', 'path'))) return false;
  const msiOn = (d: Loose) => d.msi !== undefined && str(at(d, 'msi', 'enabled')) !== 'no';
  if (msiOn(a) !== msiOn(b)) return false;
  if (msiOn(a) && (!sameNum(at(a, 'msi', 'vectors'), at(b, 'msi', 'vectors')) || !sameStr(at(a, 'msi', 'ioeventfd'), at(b, 'msi', 'ioeventfd')))) return false;
  return addressMatches(a, b);
}

/** virDomainRedirdevDefFind's test. */
export function redirdevMatches(want: Loose, have: Loose): boolean {
  if (!sameStr(want.bus, have.bus) || !chrSourceEquals(want, have)) return false;
  if (!addressMatches(want, have)) return false;
  return alias(want) === undefined || alias(want) === alias(have);
}

/** virDomainVsockDefEquals. */
export function vsockEquals(a: Loose, b: Loose): boolean {
  return sameStr(a.model, b.model) && sameStr(at(a, 'cid', 'auto'), at(b, 'cid', 'auto')) && addressMatches(a, b);
}

/** virDomainMemoryFindInactiveByDef: by address first, then among the devices without one. */
export function memoryFindInactive(mems: readonly Loose[], mem: Loose): number {
  const find = (fallback: boolean) =>
    mems.findIndex((have) => {
      if (fallback ? addressType(have) !== 'none' : !addressMatches(mem, have)) return false;
      if (alias(mem) !== undefined && alias(mem) !== alias(have)) return false;
      const t = obj(mem.target);
      const u = obj(have.target);
      if (!sameStr(mem.model, have.model) || !sameNum(t.node, u.node) || kib(t.size) !== kib(u.size) || kib(t.block) !== kib(u.block) || kib(t.requested) !== kib(u.requested)) return false;
      const s = obj(mem.source);
      const r = obj(have.source);
      switch (str(mem.model)) {
        case 'dimm':
        case 'virtio-mem':
          return kib(s.pagesize) === kib(r.pagesize) && sameStr(s.nodemask, r.nodemask);
        case 'nvdimm':
        case 'virtio-pmem':
          return sameStr(s.path, r.path);
        case 'sgx-epc':
          return sameStr(s.nodemask, r.nodemask);
        default:
          return true;
      }
    });
  const i = find(false);
  return i >= 0 ? i : find(true);
}

/** virDomainMemoryFindByDeviceInfo (update-device). */
export function memoryFindByInfo(mems: readonly Loose[], mem: Loose): number {
  return mems.findIndex((have) => sameAddress(have, mem) && (alias(mem) === undefined || alias(mem) === alias(have)));
}

/** virDomainLeaseIndex: the same lockspace (or neither has one) and key. */
export function leaseIndex(leases: readonly Loose[], lease: Loose): number {
  return leases.findIndex((l) => sameStr(l.lockspace, lease.lockspace) && sameStr(l.key, lease.key));
}

const UNIT: Readonly<Record<string, number>> = { b: 1 / 1024, bytes: 1 / 1024, KB: 1000 / 1024, k: 1, KiB: 1, MB: 1e6 / 1024, M: 1024, MiB: 1024, GB: 1e9 / 1024, G: 1024 ** 2, GiB: 1024 ** 2, TB: 1e12 / 1024, T: 1024 ** 3, TiB: 1024 ** 3 };
/** A `{unit, text}` size in KiB (the model scales most sizes to KiB already); absent is 0. */
export function kib(v: unknown): number {
  const o = obj(v);
  const n = num(o.text);
  return n * (UNIT[str(o.unit) ?? 'KiB'] ?? 1);
}
