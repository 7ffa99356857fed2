/**
 * virDomainDiskDefPostParse (domain_postparse.c §5.3), after the driver's
 * device callback: the bus from the target name, cdrom read-only, LUN 0 for
 * iSCSI names, nvme managed, vhost-user snapshot, the drive address for
 * controller buses, and the iotune group copied to its members.
 */
import type { Draft } from 'immer';
import type { DomainDef } from '../../domain/types.ts';
import { diskBus, diskDriveAddress, diskDst } from '../../domain/rules/disk-addr.ts';
import { domainRule } from '../rules.ts';
import { deepClone } from '../../util/clone.ts';

type Disk = NonNullable<NonNullable<Draft<DomainDef>['devices']>['disks']>[number];

function diskDefaults(disk: Disk): void {
  const dst = diskDst(disk);
  if (dst !== undefined && disk.target!.dev !== dst) disk.target!.dev = dst;
  if (disk.device === 'cdrom') disk.readonly ??= {};
  if (disk.target && disk.target.bus === undefined) disk.target.bus = diskBus(disk);
  const src = disk.source as { protocol?: string; name?: string; managed?: string } | undefined;
  if (disk.type === 'network' && src?.protocol === 'iscsi' && src.name !== undefined && !src.name.includes('/')) src.name = `${src.name}/0`;
  if (disk.type === 'nvme' && src && src.managed === undefined) src.managed = 'yes';
  if (disk.type === 'vhostuser' && disk.snapshot === undefined) disk.snapshot = 'no';
  if (disk.address === undefined && dst !== undefined) {
    const a = diskDriveAddress(disk);
    if (a) disk.address = { type: 'drive', controller: String(a.controller), bus: String(a.bus), target: String(a.target), unit: String(a.unit) };
  }
}

const IOTUNE_LIMITS = /(_sec|_max|_length)$/;

function hasLimits(iotune: Record<string, unknown> | undefined): boolean {
  return !!iotune && Object.entries(iotune).some(([k, v]) => IOTUNE_LIMITS.test(k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) && v !== undefined && Number(v) !== 0);
}

export const genericDiskDefaults = domainRule(
  'disk-defaults',
  "libvirt's generic disk defaults: the bus from the target name's prefix (hd → ide, sd → scsi, vd → virtio, xvd → xen), cdroms read-only, and the drive address of a disk on an IDE, SCSI, SATA or floppy controller from its target name",
  (def) => {
    const disks = def.devices?.disks;
    if (!disks) return;
    for (const d of disks) diskDefaults(d);
    // virDomainDiskExpandGroupIoTune: a group member without limits takes the group's.
    for (const d of disks) {
      const it = d.iotune as Record<string, unknown> | undefined;
      const group = it?.['groupName'];
      if (group === undefined || hasLimits(it)) continue;
      const leader = disks.find((o) => (o.iotune as Record<string, unknown> | undefined)?.['groupName'] === group && hasLimits(o.iotune as Record<string, unknown>));
      if (leader) d.iotune = deepClone(leader.iotune as object) as typeof d.iotune;
    }
  },
);
