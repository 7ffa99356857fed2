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
const NO_FLAGS: InfoFlags = {};

export function checkDeviceInfo(info: DeviceInfoLike, path: string, flags: InfoFlags = NO_FLAGS): void {
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

const DEC = { base: 10 } as const;
const DEC_REQUIRED = { base: 10, required: true } as const;
const HEX = { base: 16 } as const;
const ANY_BASE = { base: 0 } as const;

/** virDomainDeviceAddressParseXML and the per-type parsers. */
export function checkAddress(a: AddressLike, at: string): void {
  if (a.type === undefined) throw new VirtError('INTERNAL_ERROR', 'No type specified for device address', attrPath(at, 'type'));
  const i = (ADDRESS_TYPES as readonly string[]).indexOf(a.type);
  if (i <= 0) throw new VirtError('CONFIG_UNSUPPORTED', `unknown address type '${a.type}'`, attrPath(at, 'type'));
  switch (a.type) {
    case 'pci':
      checkPCIAddress(a, at, 'address');
      break;
    case 'drive':
      propUInt(a.controller, 'controller', 'address', at, DEC);
      propUInt(a.bus, 'bus', 'address', at, DEC);
      propUInt(a.target, 'target', 'address', at, DEC);
      propUInt(a.unit, 'unit', 'address', at, DEC);
      break;
    case 'virtio-serial':
      propUInt(a.controller, 'controller', 'address', at, DEC);
      propUInt(a.bus, 'bus', 'address', at, DEC);
      propUInt(a.port, 'port', 'address', at, DEC);
      break;
    case 'ccid':
      propUInt(a.controller, 'controller', 'address', at, DEC);
      propUInt(a.slot, 'slot', 'address', at, DEC);
      break;
    case 'usb':
      if (a.port !== undefined && !usbPortValid(a.port)) throw new VirtError('INTERNAL_ERROR', "Cannot parse <address> 'port' attribute", attrPath(at, 'port'));
      propUInt(a.bus, 'bus', 'address', at, DEC);
      break;
    case 'spapr-vio':
      propULongLong(a.reg, 'reg', 'address', at, HEX);
      break;
    case 'ccw':
      checkCCWAddress(a, at);
      break;
    case 'isa':
      propUInt(a.iobase, 'iobase', 'address', at, HEX);
      propUInt(a.irq, 'irq', 'address', at, HEX);
      break;
    case 'virtio-s390':
      throw new VirtError('XML_ERROR', "virtio-s390 bus doesn't have an address", attrPath(at, 'type'));
    case 'dimm':
      propUInt(a.slot, 'slot', 'address', at, DEC_REQUIRED);
      propULongLong(a.base, 'base', 'address', at, HEX);
      break;
  }
}

/**
 * virPCIDeviceAddressParseXML: fields in any base; range-checked unless
 * domain, bus and slot are all 0 (an address still to be assigned).
 */
export function checkPCIAddress(a: AddressLike, at: string, elem: string): void {
  const domain = propUInt(a.domain, 'domain', elem, at, ANY_BASE) ?? 0;
  const bus = propUInt(a.bus, 'bus', elem, at, ANY_BASE) ?? 0;
  const slot = propUInt(a.slot, 'slot', elem, at, ANY_BASE) ?? 0;
  const fn = propUInt(a.function, 'function', elem, at, ANY_BASE) ?? 0;
  propOnOff(a.multifunction, 'multifunction', elem, at);
  if (domain || bus || slot) {
    if (bus > 0xff) throw new VirtError('XML_ERROR', `Invalid PCI address bus='0x${bus.toString(16)}', must be <= 0xFF`, attrPath(at, 'bus'));
    if (slot > 0x1f) throw new VirtError('XML_ERROR', `Invalid PCI address slot='0x${slot.toString(16)}', must be <= 0x1F`, attrPath(at, 'slot'));
    if (fn > 7) throw new VirtError('XML_ERROR', `Invalid PCI address function=0x${fn.toString(16)}, must be <= 7`, attrPath(at, 'function'));
  }
  if (a.zpci) {
    propUInt(a.zpci.uid, 'uid', 'zpci', `${at}/zpci`, ANY_BASE);
    propUInt(a.zpci.fid, 'fid', 'zpci', `${at}/zpci`, ANY_BASE);
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
