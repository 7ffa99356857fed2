/**
 * The rejections of libvirt's generic post-parse (src/conf/domain_postparse.c
 * and the address assignment it calls in domain_conf.c) as the test driver
 * runs it: per device (disk addresses, SCSI hostdev addresses, mediated
 * device address types, the driver features a device needs), then for the
 * whole domain (memory sizes, firmware features, the CPU check).
 */
import { VirtError } from '../../errors.ts';
import { parseScaledKiB } from '../../util/units.ts';
import type { DomainDraft } from '../types.ts';
import { type Disk, diskBus, diskDriveAddress, diskDst, diskNameIndex, isScsiHostdev, sameDrive, SCSI_BUS_MAX_UNIT, writtenDrive } from './disk-addr.ts';
import type { ParseRule } from './index.ts';
import { cellMemoryKiB, numaCells } from './numa.ts';

/** virDomainDiskDefAssignAddress's rejections, and the DISK_FD feature the test driver lacks. */
function diskPostParse(def: DomainDraft, disk: Disk, at: string): void {
  const dst = diskDst(disk);
  if (!disk.address && dst !== undefined) {
    const idx = diskNameIndex(dst);
    if (idx < 0) throw new VirtError('XML_ERROR', `Unknown disk name '${dst}' and no address specified`, `${at}/target/@dev`);
    if (diskBus(disk) === 'scsi') {
      const mine = diskDriveAddress(disk)!;
      const clash = (def.devices?.hostdevs ?? []).some((h) => isScsiHostdev(h) && h.address?.type === 'drive' && sameDrive(writtenDrive(h.address), mine));
      if (clash) {
        throw new VirtError(
          'CONFIG_UNSUPPORTED',
          // libvirt's message really lacks the closing quote.
          `using disk target name '${dst}' conflicts with SCSI host device address controller='${mine.controller}' bus='0' target='0' unit='${idx % SCSI_BUS_MAX_UNIT}`,
          `${at}/target/@dev`,
        );
      }
    }
  }
  if (disk.source?.fdgroup !== undefined) {
    throw new VirtError('CONFIG_UNSUPPORTED', `driver does not support FD passing for disk '${dst ?? '(null)'}'`, `${at}/source/@fdgroup`);
  }
}

/** virDomainHostdevDefPostParse: explicit SCSI addresses against SCSI disks; mediated devices' address types. */
function hostdevPostParse(def: DomainDraft, h: NonNullable<NonNullable<DomainDraft['devices']>['hostdevs']>[number], at: string): void {
  if ((h.mode ?? 'subsystem') !== 'subsystem') return;
  if (h.type === 'scsi' && h.address?.type === 'drive') {
    const addr = writtenDrive(h.address);
    const used = (def.devices?.disks ?? []).some((d) => diskBus(d) === 'scsi' && (d.address === undefined || d.address.type === 'drive') && sameDrive(diskDriveAddress(d) ?? { controller: -1, bus: -1, target: -1, unit: -1 }, addr));
    if (used) {
      throw new VirtError('XML_ERROR', `SCSI host address controller='${addr.controller}' bus='${addr.bus}' target='${addr.target}' unit='${addr.unit}' in use by a SCSI disk`, `${at}/address`);
    }
  }
  if (h.type === 'mdev' && h.address?.type !== undefined) {
    const t = h.address.type;
    if ((h.model === 'vfio-pci' && t !== 'pci') || (h.model === 'vfio-ccw' && t !== 'ccw')) {
      throw new VirtError('XML_ERROR', `Unsupported address type '${t}' with mediated device model '${h.model}'`, `${at}/address/@type`);
    }
  }
}

/** The per-device part, in virDomainDeviceInfoIterate's order (disks, then hostdevs). */
export const devicePostParseChecks: ParseRule = (def) => {
  (def.devices?.disks ?? []).forEach((d, i) => diskPostParse(def, d, `/domain/devices/disk[${i + 1}]`));
  (def.devices?.hostdevs ?? []).forEach((h, i) => hostdevPostParse(def, h, `/domain/devices/hostdev[${i + 1}]`));
};

function memoryDeviceKiB(def: DomainDraft): number {
  let sum = 0;
  (def.devices?.memoryDevices ?? []).forEach((m, i) => {
    const size = m.target?.size;
    if (size?.text === undefined || size.text.trim() === '') return;
    const at = `/domain/devices/memory[${i + 1}]/target/size`;
    sum += parseScaledKiB({ value: size.text, unit: size.unit, path: at, xpath: './size' });
  });
  return sum;
}

/**
 * virDomainDefPostParseMemory: the initial memory comes from <memory> or the
 * NUMA cells. The cells' sum (plus the memory devices) becomes the total when
 * <memory> is absent, or always for a define that may update the ABI (QEMU's;
 * the test driver defines without VIR_DOMAIN_DEF_PARSE_ABI_UPDATE); the
 * current memory then never exceeds it.
 */
function memoryPostParse(def: DomainDraft, abiUpdate: boolean): void {
  const hotplug = memoryDeviceKiB(def);
  const memory = Number(def.memory?.text ?? '0');
  const numa = !memory || abiUpdate ? numaCells(def).reduce((s, c, i) => s + cellMemoryKiB(c, `/domain/cpu/numa/cell[${i + 1}]`), 0) : 0;
  let total = memory;
  if (numa) {
    total = numa + hotplug;
    if (total !== memory) def.memory = { ...def.memory, unit: 'KiB', text: String(total) };
  } else if (hotplug > memory) throw new VirtError('XML_ERROR', 'Total size of memory devices exceeds the total memory size', '/domain/memory');
  if (total - hotplug === 0) throw new VirtError('XML_ERROR', 'Memory size must be specified via <memory> or in the <numa> configuration', '/domain/memory');
  const cur = Number(def.currentMemory?.text ?? '0');
  if (cur > total || cur === 0) def.currentMemory = { ...def.currentMemory, unit: 'KiB', text: String(total) };
  const max = Number(def.maxMemory?.text ?? '0');
  const slots = Number(def.maxMemory?.slots?.trim() || '0');
  if ((max || slots) && !(max && slots)) throw new VirtError('XML_ERROR', 'both maximum memory size and memory slot count must be specified', '/domain/maxMemory');
  if (max && max < total) throw new VirtError('XML_ERROR', 'maximum memory size must be equal or greater than the actual memory size', '/domain/maxMemory');
}

/** virDomainOsDefFirmwareFeature, in enum (and output) order. */
const FIRMWARE_FEATURES = ['enrolled-keys', 'secure-boot'];

/**
 * virDomainDefPostParseOs: enrolled keys need secure boot, and imply it
 * (written out); a loader given by path is a ROM unless its type says otherwise.
 */
function osPostParse(def: DomainDraft): void {
  const loader = def.os?.loader;
  if (loader && loader.type === undefined && (loader.text ?? '') !== '') loader.type = 'rom';
  // Firmware features are read only with <os firmware> (see validate-domain.ts).
  if (def.os?.type?.text !== 'hvm' || def.os.firmware === undefined) return;
  const features = def.os?.firmwareFeatures?.features ?? [];
  if (features.find((f) => f.name === 'enrolled-keys')?.enabled !== 'yes') return;
  if (features.find((f) => f.name === 'secure-boot')?.enabled === 'no') {
    throw new VirtError('XML_DETAIL', "firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled", '/domain/os/firmware');
  }
  const sb = features.find((f) => f.name === 'secure-boot');
  if (sb) sb.enabled = 'yes';
  else features.push({ enabled: 'yes', name: 'secure-boot' });
  features.sort((a, b) => FIRMWARE_FEATURES.indexOf(a.name ?? '') - FIRMWARE_FEATURES.indexOf(b.name ?? ''));
}

/**
 * virDomainDefPostParseCPU: a custom CPU without a model cannot ask for a
 * check. A <model/> without a name is no model (virXPathString reads '' as
 * NULL), and is not written back.
 */
function cpuPostParse(def: DomainDraft): void {
  const cpu = def.cpu;
  if (!cpu || (cpu.mode ?? 'custom') !== 'custom' || (cpu.model?.text ?? '') !== '') return;
  if (cpu.check !== undefined && cpu.check !== 'default') throw new VirtError('CONFIG_UNSUPPORTED', 'check attribute specified for CPU with no model', '/domain/cpu/@check');
}

/** The domain-wide part (virDomainDefPostParseCommon), in its order. */
export const domainPostParseChecks: ParseRule = (def, ctx) => {
  memoryPostParse(def, ctx.abiUpdate ?? false);
  osPostParse(def);
  cpuPostParse(def);
};
