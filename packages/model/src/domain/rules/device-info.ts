/**
 * The device info every device carries (virDomainDeviceInfoParseXML and the
 * address parsers of device_conf.c): <master>, <boot>, <rom>, <acpi> and
 * <address>, checked as libvirt reads them at parse time.
 */
import type { AddressDef } from '../types.ts';
import { VirtError } from '../../errors.ts';
import { attrPath, propOnOff, propUInt, propULongLong, propYesNo } from './xmlprop.ts';

/** An <address> as decoded: every attribute a string. */
export type AddressLike = AddressDef;

export interface DeviceInfoLike {
  boot?: { order?: string; loadparm?: string };
  master?: { startport?: string };
  rom?: { enabled?: string; bar?: string; file?: string };
  acpi?: { index?: string };
  address?: AddressLike;
}

/** virDomainDeviceAddressType, in enum order (0 is `none`). */
export const ADDRESS_TYPES = ['none', 'pci', 'drive', 'virtio-serial', 'ccid', 'usb', 'spapr-vio', 'virtio-s390', 'ccw', 'virtio-mmio', 'isa', 'dimm', 'unassigned'] as const;

/** The address type a device ends up with: `none` when it has no <address>. */
export function addressType(info: DeviceInfoLike | undefined): string {
  return info?.address?.type ?? 'none';
}

export interface InfoFlags {
  /** The device parses <boot> (VIR_DOMAIN_DEF_PARSE_ALLOW_BOOT). */
  readonly boot?: boolean;
  /** The device parses <rom> (VIR_DOMAIN_DEF_PARSE_ALLOW_ROM). */
  readonly rom?: boolean;
}

/** virDomainDeviceInfoParseXML: `path` is the device element's path. */
export function checkDeviceInfo(info: DeviceInfoLike, path: string, flags: InfoFlags = {}): void {
  if (info.master) propUInt(info.master.startport, 'startport', 'master', `${path}/master`);
  if (flags.boot && info.boot) checkBoot(info.boot, `${path}/boot`);
  if (flags.rom && info.rom) {
    const rom = info.rom;
    const at = `${path}/rom`;
    const enabled = propYesNo(rom.enabled, 'enabled', 'rom', at);
    const bar = propOnOff(rom.bar, 'bar', 'rom', at);
    if (enabled === 'no' && (bar !== undefined || rom.file !== undefined)) {
      throw new VirtError('CONFIG_UNSUPPORTED', 'ROM tuning is not supported when ROM is disabled', at);
    }
  }
  if (info.acpi) propUInt(info.acpi.index, 'index', 'acpi', `${path}/acpi`, { nonzero: true });
  if (info.address) checkAddress(info.address, `${path}/address`);
}

/** virDomainDeviceBootParseXML: a non-zero order and an optional s390 loadparm. */
function checkBoot(boot: { order?: string; loadparm?: string }, at: string): void {
  propUInt(boot.order, 'order', 'boot', at, { required: true, nonzero: true });
  if (boot.loadparm === undefined) return;
  const lp = boot.loadparm.toUpperCase();
  const where = attrPath(at, 'loadparm');
  if (lp.trim() === '' || lp.length > 8) throw new VirtError('INTERNAL_ERROR', `loadparm value '${lp}' must be between 1 and 8 characters`, where);
  if (!/^[A-Za-z0-9. ]*$/.test(lp)) {
    throw new VirtError('INTERNAL_ERROR', `invalid loadparm value '${lp}', expecting chars in set of [a-zA-Z0-9.] and blank spaces`, where);
  }
}

/** virDomainDeviceAddressParseXML and the per-type parsers. */
export function checkAddress(a: AddressLike, at: string): void {
  if (a.type === undefined) throw new VirtError('INTERNAL_ERROR', 'No type specified for device address', attrPath(at, 'type'));
  const i = (ADDRESS_TYPES as readonly string[]).indexOf(a.type);
  if (i <= 0) throw new VirtError('CONFIG_UNSUPPORTED', `unknown address type '${a.type}'`, attrPath(at, 'type'));
  const u = (attr: keyof AddressLike & string, base: 0 | 10 | 16, required = false) => propUInt(a[attr] as string | undefined, attr, 'address', at, { base, required });
  switch (a.type) {
    case 'pci':
      checkPCIAddress(a, at, 'address');
      break;
    case 'drive':
      for (const k of ['controller', 'bus', 'target', 'unit'] as const) u(k, 10);
      break;
    case 'virtio-serial':
      for (const k of ['controller', 'bus', 'port'] as const) u(k, 10);
      break;
    case 'ccid':
      for (const k of ['controller', 'slot'] as const) u(k, 10);
      break;
    case 'usb':
      if (a.port !== undefined && !usbPortValid(a.port)) throw new VirtError('INTERNAL_ERROR', "Cannot parse <address> 'port' attribute", attrPath(at, 'port'));
      u('bus', 10);
      break;
    case 'spapr-vio':
      propULongLong(a.reg, 'reg', 'address', at, { base: 16 });
      break;
    case 'ccw':
      checkCCWAddress(a, at);
      break;
    case 'isa':
      u('iobase', 16);
      u('irq', 16);
      break;
    case 'virtio-s390':
      throw new VirtError('XML_ERROR', "virtio-s390 bus doesn't have an address", attrPath(at, 'type'));
    case 'dimm':
      u('slot', 10, true);
      propULongLong(a.base, 'base', 'address', at, { base: 16 });
      break;
  }
}

/**
 * virPCIDeviceAddressParseXML: fields in any base; range-checked unless
 * domain, bus and slot are all 0 (an address still to be assigned).
 */
export function checkPCIAddress(a: AddressLike, at: string, elem: string): void {
  const u = (attr: 'domain' | 'bus' | 'slot' | 'function') => propUInt(a[attr], attr, elem, at, { base: 0 }) ?? 0;
  const domain = u('domain');
  const bus = u('bus');
  const slot = u('slot');
  const fn = u('function');
  propOnOff(a.multifunction, 'multifunction', elem, at);
  if (domain || bus || slot) {
    const hex = (n: number) => n.toString(16);
    if (bus > 0xff) throw new VirtError('XML_ERROR', `Invalid PCI address bus='0x${hex(bus)}', must be <= 0xFF`, attrPath(at, 'bus'));
    if (slot > 0x1f) throw new VirtError('XML_ERROR', `Invalid PCI address slot='0x${hex(slot)}', must be <= 0x1F`, attrPath(at, 'slot'));
    if (fn > 7) throw new VirtError('XML_ERROR', `Invalid PCI address function=0x${hex(fn)}, must be <= 7`, attrPath(at, 'function'));
  }
  if (a.zpci) {
    propUInt(a.zpci.uid, 'uid', 'zpci', `${at}/zpci`, { base: 0 });
    propUInt(a.zpci.fid, 'fid', 'zpci', `${at}/zpci`, { base: 0 });
  }
}

/** virCCWDeviceAddressParseXML: all three fields or none, within the channel subsystem's ranges. */
function checkCCWAddress(a: AddressLike, at: string): void {
  const cssid = propUInt(a.cssid, 'cssid', 'address', at, { base: 0 });
  const ssid = propUInt(a.ssid, 'ssid', 'address', at, { base: 0 });
  const devno = propUInt(a.devno, 'devno', 'address', at, { base: 0 });
  const c = cssid ?? 0;
  const s = ssid ?? 0;
  const d = devno ?? 0;
  if (c > 0xfe || s > 3 || d > 0xffff) {
    throw new VirtError('INTERNAL_ERROR', `Invalid specification for virtio ccw address: cssid='0x${c.toString(16)}' ssid='0x${s.toString(16)}' devno='0x${d.toString(16).padStart(4, '0')}'`, at);
  }
  const given = [cssid, ssid, devno].filter((v) => v !== undefined).length;
  if (given > 0 && given < 3) throw new VirtError('INTERNAL_ERROR', 'Invalid partial specification for virtio ccw address', at);
}

/** virDomainDeviceUSBAddressParsePort: up to 4 dot-separated unsigned numbers. */
function usbPortValid(port: string): boolean {
  const parts = port.split('.');
  if (parts.length > 4) return false;
  return parts.every((p) => /^\s*\+?[0-9]+$/.test(p) && Number(p.trim()) <= 0xffffffff);
}
