/**
 * The rest of libvirt's generic per-device defaults (domain_postparse.c §5.5,
 * §5.7) and the implicit video of §8.10(c).
 */
import { domainRule } from '../rules.ts';
import { diskBus, diskDriveAddress, isScsiHostdev, SCSI_BUS_MAX_UNIT, writtenDrive } from '../../domain/rules/disk-addr.ts';

export const rngVsockMemoryDefaults = domainRule('rng-vsock-memory-defaults', "libvirt's generic defaults of RNG, vsock and memory devices: a random backend reads /dev/random, a vsock cid is automatic unless an address is given, a virtio-pmem device is shared", (def) => {
  for (const rng of def.devices?.rngs ?? []) {
    const b = rng.backend as { model?: string; text?: string } | undefined;
    if (b?.model === 'random' && (b.text ?? '') === '') b.text = '/dev/random';
  }
  const vsock = def.devices?.vsock as { cid?: { auto?: string; address?: string } } | undefined;
  if (vsock) {
    const cid = (vsock.cid ??= {});
    if (cid.auto === undefined) cid.auto = Number(cid.address ?? 0) !== 0 ? 'no' : 'yes';
  }
  for (const mem of def.devices?.memoryDevices ?? []) {
    const m = mem as { model?: string; access?: string };
    if (m.model === 'virtio-pmem' && m.access === undefined) m.access = 'shared';
  }
});

export const filesystemAccessmode = domainRule(
  'filesystem-defaults',
  "a filesystem is a 'mount', and one that virtiofsd is not launched for outside libvirt passes guest permissions through (accessmode='passthrough')",
  (def) => {
    for (const fs of def.devices?.filesystems ?? []) {
      const f = fs as { type?: string; accessmode?: string; source?: { socket?: string } };
      f.type ??= 'mount';
      if (f.accessmode === undefined && f.source?.socket === undefined) f.accessmode = 'passthrough';
    }
  },
);

export const hostdevDefaults = domainRule(
  'hostdev-defaults',
  'an iSCSI host device names LUN 0 when no LUN is given, and a SCSI host device without an address takes the first free unit of the first SCSI controller that has one',
  (def) => {
    const hostdevs = def.devices?.hostdevs ?? [];
    const disks = def.devices?.disks ?? [];
    const used = new Set<string>();
    for (const d of disks) if (diskBus(d) === 'scsi') {
      const a = diskDriveAddress(d);
      if (a) used.add(`${a.controller}:${a.bus}:${a.target}:${a.unit}`);
    }
    for (const h of hostdevs) if (isScsiHostdev(h) && h.address?.type === 'drive') {
      const a = writtenDrive(h.address);
      used.add(`${a.controller}:${a.bus}:${a.target}:${a.unit}`);
    }
    for (const h of hostdevs) {
      if (!isScsiHostdev(h)) continue;
      const src = h.source as { protocol?: string; name?: string } | undefined;
      if (src?.protocol === 'iscsi' && src.name !== undefined && !src.name.includes('/')) src.name = `${src.name}/0`;
      if (h.address !== undefined) continue;
      for (let c = 0; ; c++) {
        const u = [...Array(SCSI_BUS_MAX_UNIT).keys()].find((k) => !used.has(`${c}:0:0:${k}`));
        if (u === undefined) continue;
        used.add(`${c}:0:0:${u}`);
        h.address = { type: 'drive', controller: String(c), bus: '0', target: '0', unit: String(u) };
        break;
      }
    }
  },
);

export const implicitVideo = domainRule(
  'implicit-video',
  'a guest with a graphical display and no video device gets one; the driver picks its model',
  (def, ctx) => {
    const devs = def.devices;
    if (!devs?.graphics?.length || devs.videos?.length) return;
    // Only a driver can name the model: the generic layer alone has none to give.
    if (!ctx.driver.devicePostParse) return;
    devs.videos = [{ model: { type: 'default', heads: '1' } }];
  },
);
