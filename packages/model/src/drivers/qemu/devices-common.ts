/**
 * What the QEMU device rules ask about the domain and its emulator, on top
 * of the machine predicates and capability flags of data.ts: the guest arch
 * (with the driver data's as fallback), qemuDomainHasBuiltinESP, and the
 * capability flags the device defaults consult (virQEMUCapsGet).
 */
import type { DomainDef } from '../../domain/types.ts';
import type { Ctx } from '../../postparse/types.ts';
import type { QemuData } from './data.ts';

export { isARMVirt, isI440fx, isPPC64, isPSeries, isQ35, isRISCVVirt, isS390, isX86 } from './data.ts';

/** The guest arch: `<os><type arch>` (filled at parse), else the one the driver data resolved. */
export function archOf(def: DomainDef, ctx?: Ctx<QemuData>): string {
  return def.os?.type?.arch ?? ctx?.data?.arch ?? '';
}

/** The arches libvirt's NIC default treats as ARM boards (armv6l, armv7l, aarch64; not armv7b). */
export function isARMBoardArch(arch: string): boolean {
  return arch === 'armv6l' || arch === 'armv7l' || arch === 'aarch64';
}

/** qemuDomainHasBuiltinESP: machines whose ncr53c90 (ESP) SCSI controller is built in. */
export function hasBuiltinESP(def: DomainDef): boolean {
  const arch = archOf(def);
  const m = def.os?.type?.machine ?? '';
  if (arch === 'sparc') return true;
  if ((arch === 'mips64' || arch === 'mips64el') && (m === 'magnum' || m === 'pica61')) return true;
  return arch === 'm68k' && m === 'q800';
}

/** The QEMU capability flags the device defaults read, named as in libvirt's capabilities cache. */
export type QemuDeviceCap =
  | 'rtl8139'
  | 'e1000'
  | 'virtio-net'
  | 'cirrus-vga'
  | 'VGA'
  | 'lsi'
  | 'virtio-scsi-pci'
  | 'piix3-usb-uhci'
  | 'qemu-xhci'
  | 'nec-usb-xhci'
  | 'pci-ohci'
  | 'vfio-pci.display';

/** virQEMUCapsGet: false when there is no emulator data (libvirt's NULL qemuCaps). */
export function hasQemuCap(ctx: Ctx<QemuData>, cap: QemuDeviceCap): boolean {
  return ctx.data?.has?.(cap) ?? false;
}

/** Whether the emulator's capabilities are known (libvirt's qemuCaps != NULL). */
export function haveQemuCaps(ctx: Ctx<QemuData>): boolean {
  return ctx.data?.guest !== undefined;
}

/** libvirt's name for a domain type in messages (virDomainVirtTypeToString). */
export function virtTypeOf(def: DomainDef): string {
  return def.type ?? 'none';
}
