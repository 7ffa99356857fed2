/**
 * Pieces shared by many devices: <address> of every type and the device info
 * children (virDomainDeviceInfoFormat: boot, alias, master, rom, acpi, address).
 */
import { el, one } from '../../codec/spec.ts';

/**
 * <address>: the union of every address type's attributes. libvirt writes each
 * type's attributes in this relative order (pci: domain bus slot function
 * multifunction; drive: controller bus target unit; virtio-serial: controller
 * bus port; ccid: controller slot; usb: bus port; dimm: slot base; ccw: cssid
 * ssid devno; isa: iobase irq; spapr-vio: reg).
 */
export const addressSpec = el(
  ['type', 'domain', 'controller', 'bus', 'slot', 'function', 'multifunction', 'target', 'unit', 'port', 'base', 'reg', 'cssid', 'ssid', 'devno', 'iobase', 'irq'],
  { zpci: one(el(['uid', 'fid'])) },
);

export const bootSpec = el(['order', 'loadparm']);
export const aliasSpec = el(['name']);
export const masterSpec = el(['startport']);
export const romSpec = el(['enabled', 'bar', 'file']);
export const acpiSpec = el(['index']);

/** The device info children, in libvirt's order; spread at the end of a device's children. */
export const deviceInfo = {
  boot: one(bootSpec),
  alias: one(aliasSpec),
  master: one(masterSpec),
  rom: one(romSpec),
  acpi: one(acpiSpec),
  address: one(addressSpec),
} as const;

/** Device info for devices that cannot boot or carry a ROM. */
export const deviceInfoNoBoot = {
  alias: one(aliasSpec),
  acpi: one(acpiSpec),
  address: one(addressSpec),
} as const;
