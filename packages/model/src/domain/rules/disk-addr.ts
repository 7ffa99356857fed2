/**
 * What libvirt's disk post-parse (virDomainDiskDefPostParse,
 * virDomainDiskDefAssignAddress) makes of a disk before validation sees it —
 * its target name, bus and drive address — computed from the draft without
 * changing it, for the checks that run on libvirt's post-parse state.
 */
import type { DomainDraft } from '../types.ts';

export type Disk = NonNullable<NonNullable<DomainDraft['devices']>['disks']>[number];
export type Hostdev = NonNullable<NonNullable<DomainDraft['devices']>['hostdevs']>[number];

export interface DriveAddress {
  controller: number;
  bus: number;
  target: number;
  unit: number;
}

/** <target dev> without the old Xen `ioemu:` prefix. */
export function diskDst(disk: Disk): string | undefined {
  const dev = disk.target?.dev;
  return dev?.startsWith('ioemu:') ? dev.slice(6) : dev;
}

/** The disk bus: as written, else from the device and the target name's prefix. */
export function diskBus(disk: Disk): string {
  const bus = disk.target?.bus;
  if (bus !== undefined) return bus;
  if ((disk.device ?? 'disk') === 'floppy') return 'fdc';
  const dst = diskDst(disk) ?? '';
  for (const [prefix, b] of [['hd', 'ide'], ['sd', 'scsi'], ['vd', 'virtio'], ['xvd', 'xen'], ['ubd', 'uml']] as const) {
    if (dst.startsWith(prefix)) return b;
  }
  return 'ide';
}

/** virDiskNameToIndex: `sda` → 0, `hdz` → 25, `vdaa` → 26; -1 when the name does not parse. */
export function diskNameIndex(name: string): number {
  const prefix = ['fd', 'hd', 'vd', 'sd', 'xvd', 'ubd'].find((p) => name.startsWith(p));
  if (prefix === undefined) return -1;
  const m = /^([a-z]+)([0-9]*)$/.exec(name.slice(prefix.length));
  if (!m) return -1;
  let idx = 0;
  [...m[1]!].forEach((c, i) => {
    idx = (idx + (i < 1 ? 0 : 1)) * 26 + (c.charCodeAt(0) - 97);
  });
  return idx;
}

function num(v: string | undefined): number {
  return v === undefined ? 0 : Number(v.trim());
}

/** A written drive address as numbers (absent fields are 0). */
export function writtenDrive(a: { controller?: string; bus?: string; target?: string; unit?: string } | undefined): DriveAddress {
  return { controller: num(a?.controller), bus: num(a?.bus), target: num(a?.target), unit: num(a?.unit) };
}

/** SCSI units per controller on the test driver's narrow bus (no VIR_DOMAIN_DEF_FEATURE_WIDE_SCSI). */
export const SCSI_BUS_MAX_UNIT = 7;

/**
 * The drive address a disk has after post-parse: the written one, or the one
 * virDomainDiskDefAssignAddress computes for an IDE, SCSI, SATA or floppy
 * controller bus. Undefined when it has none (or another address type).
 */
export function diskDriveAddress(disk: Disk): DriveAddress | undefined {
  if (disk.address) return disk.address.type === 'drive' ? writtenDrive(disk.address) : undefined;
  const dst = diskDst(disk);
  if (dst === undefined) return undefined;
  const idx = diskNameIndex(dst);
  if (idx < 0) return undefined;
  switch (diskBus(disk)) {
    case 'scsi':
      return { controller: Math.floor(idx / SCSI_BUS_MAX_UNIT), bus: 0, target: 0, unit: idx % SCSI_BUS_MAX_UNIT };
    case 'ide':
      return { controller: Math.floor(idx / 4), bus: Math.floor((idx % 4) / 2), target: 0, unit: idx % 2 };
    case 'sata':
      return { controller: Math.floor(idx / 6), bus: 0, target: 0, unit: idx % 6 };
    case 'fdc':
      return { controller: Math.floor(idx / 2), bus: 0, target: 0, unit: idx % 2 };
    default:
      return undefined;
  }
}

/** The address type a disk has after post-parse. */
export function diskAddressType(disk: Disk): string {
  if (disk.address) return disk.address.type ?? 'none';
  return diskDriveAddress(disk) ? 'drive' : 'none';
}

export function sameDrive(a: DriveAddress, b: DriveAddress): boolean {
  return a.controller === b.controller && a.bus === b.bus && a.target === b.target && a.unit === b.unit;
}

/** A `<hostdev mode='subsystem' type='scsi'>` (virHostdevIsSCSIDevice). */
export function isScsiHostdev(h: Hostdev): boolean {
  return (h.mode ?? 'subsystem') === 'subsystem' && h.type === 'scsi';
}
