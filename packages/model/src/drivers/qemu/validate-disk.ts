/**
 * QEMU device-info and disk validation: qemuValidateDomainDeviceInfo (run
 * for every device that has device info) and qemuValidateDomainDeviceDefDisk
 * (src/qemu/qemu_validate.c).
 */
import type { DeviceKind, DiskDef, DomainDef } from '../../domain/types.ts';
import type { Ctx } from '../../postparse/types.ts';
import type { DeviceValidator } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { validateStorageSource } from './validate-storage.ts';
import { arch, capsOf, fail, iothreadIds, isS390, kib, machineName, num, requireSharedMemory, unsupported, type Has } from './validate-util.ts';

type Address = {
  readonly type?: string;
  readonly controller?: string;
  readonly bus?: string;
  readonly target?: string;
  readonly unit?: string;
  readonly reg?: string;
  readonly zpci?: { readonly uid?: string; readonly fid?: string };
};
type Info = {
  readonly address?: Address;
  readonly alias?: { readonly name?: string };
  readonly acpi?: { readonly index?: string };
  readonly rom?: { readonly enabled?: string; readonly bar?: string; readonly file?: string };
};

/** The disk bus the parser settles on when <target bus> is absent (virDomainDiskDefParseXML). */
export function diskBus(d: DiskDef): string {
  if (d.target?.bus) return d.target.bus;
  if (d.device === 'floppy') return 'fdc';
  const dev = d.target?.dev ?? '';
  if (dev.startsWith('hd')) return 'ide';
  if (dev.startsWith('sd')) return 'scsi';
  if (dev.startsWith('vd')) return 'virtio';
  if (dev.startsWith('xvd')) return 'xen';
  if (dev.startsWith('ubd')) return 'uml';
  return 'ide';
}

/** The SCSI controller model after post-parse: an absent or `auto` model is lsilogic with QEMU 7.2 (it has `lsi`). */
export function scsiModel(model: string | undefined, has: Has): string {
  return model === undefined || model === 'auto' ? (has('lsi') ? 'lsilogic' : 'virtio-scsi') : model;
}

/** qemuValidateDomainDeviceDefAddressDrive. */
function driveAddress(addr: Address, bus: string, def: DomainDef, at: string, has: Has): void {
  const controller = num(addr.controller) ?? 0;
  const b = num(addr.bus) ?? 0;
  const target = num(addr.target) ?? 0;
  const unit = num(addr.unit) ?? 0;
  switch (bus) {
    case 'scsi': {
      if (b !== 0) fail('INTERNAL_ERROR', 'SCSI controller only supports 1 bus', `${at}/@bus`);
      const cont = (def.devices?.controllers ?? []).find((c) => c.type === 'scsi' && (num(c.index) ?? 0) === controller);
      if (!cont) break;
      if (scsiModel(cont.model, has) === 'lsilogic') {
        if (target !== 0) unsupported("target must be 0 for controller model 'lsilogic'", `${at}/@target`);
      } else if (!has('scsi-disk.channel')) {
        if (target > 7) unsupported("This QEMU doesn't support target greater than 7", `${at}/@target`);
        if (b !== 0 && unit !== 0) unsupported('This QEMU only supports both bus and unit equal to 0', at);
      }
      break;
    }
    case 'ide':
      if (controller !== 0) fail('INTERNAL_ERROR', 'Only 1 IDE controller is supported', `${at}/@controller`);
      if (target !== 0) unsupported('target must be 0 for ide controller', `${at}/@target`);
      break;
    case 'fdc':
      if (controller !== 0) fail('INTERNAL_ERROR', 'Only 1 fdc controller is supported', `${at}/@controller`);
      if (b !== 0) fail('INTERNAL_ERROR', 'Only 1 fdc bus is supported', `${at}/@bus`);
      if (target !== 0) unsupported('target must be 0 for controller fdc', `${at}/@target`);
      break;
    case 'sata':
      if (b !== 0) unsupported('bus must be 0 for sata controller', `${at}/@bus`);
      if (target !== 0) unsupported('target must be 0 for sata controller', `${at}/@target`);
      break;
    default:
      break;
  }
}

/** Device kinds without device info (graphics, audio, lease): qemuValidateDomainDeviceInfo skips them. */
const WITH_INFO: DeviceKind[] = [
  'disk', 'interface', 'sound', 'hostdev', 'video', 'controller', 'smartcard', 'serial', 'parallel', 'channel', 'console',
  'input', 'filesystem', 'watchdog', 'memballoon', 'rng', 'nvram', 'hub', 'shmem', 'tpm', 'panic', 'memory', 'redirdev',
  'iommu', 'vsock',
];

/** qemuValidateDomainDeviceInfo: the address, ACPI index and ROM settings of any device. */
export const deviceInfo: DeviceValidator<QemuData, DeviceKind> = {
  name: 'device-info',
  kinds: WITH_INFO,
  check(dev, def, ctx, kind) {
    const has = capsOf(ctx);
    const info = dev as Info;
    const p = ctx.devicePath ?? `/${kind}`;
    const addr = info.address;
    const at = `${p}/address`;
    switch (addr?.type) {
      case 'pci': {
        const z = addr.zpci;
        if (z && (z.uid !== undefined || z.fid !== undefined) && !has('zpci')) unsupported("This QEMU binary doesn't support zPCI", `${at}/zpci`);
        const uid = num(z?.uid);
        if (uid !== undefined && (uid === 0 || uid > 0xffff)) {
          fail('XML_ERROR', `Invalid PCI address uid='0x${uid.toString(16).padStart(4, '0')}', must be > 0x0000 and <= 0xffff`, `${at}/zpci/@uid`);
        }
        break;
      }
      case 'spapr-vio': {
        const reg = num(addr.reg);
        if (reg !== undefined && reg > 0xffffffff) unsupported(`spapr-vio reg='0x${reg.toString(16)}' exceeds maximum possible value (0xffffffff)`, `${at}/@reg`);
        break;
      }
      case 'virtio-s390':
        unsupported("'virtio-s390' addresses are no longer supported", `${at}/@type`);
      case 'ccw': {
        // Not an s390-ccw machine on x86; libvirt prints the alias, which at define only a user alias has.
        const m = machineName(def, ctx);
        const alias = info.alias?.name?.startsWith('ua-') ? info.alias.name : '<null>';
        if (!(isS390(arch(def, ctx)) && m.startsWith('s390-ccw'))) unsupported(`cannot use CCW address type for device '${alias}' using machine type '${m}'`, `${at}/@type`);
        break;
      }
      case 'drive':
        driveAddress(addr, kind === 'disk' ? diskBus(dev as DiskDef) : 'scsi', def, at, has);
        break;
      default:
        break;
    }
    if ((num(info.acpi?.index) ?? 0) > 0) {
      if (!has('acpi-index')) unsupported('ACPI index is not supported with this QEMU', `${p}/acpi/@index`);
      if (addr?.type !== undefined && addr.type !== 'pci') unsupported('ACPI index is only supported for PCI devices', `${p}/acpi/@index`);
    }
    const rom = info.rom;
    if (rom && (rom.enabled !== undefined || rom.bar !== undefined || rom.file !== undefined)) {
      if (addr?.type !== undefined && addr.type !== 'pci' && addr.type !== 'unassigned') unsupported('ROM tuning is only supported for PCI devices', `${p}/rom`);
    }
  },
};

const SERIAL_CHARS = /^[a-zA-Z0-9\-_ .+]*$/;

/** qemuValidateDomainDeviceDefDiskFrontend. */
function frontend(d: DiskDef, def: DomainDef, p: string, has: Has): void {
  const bus = diskBus(d);
  const dst = d.target?.dev ?? '';
  const device = d.device ?? 'disk';
  const g = d.geometry;
  if (g && (num(g.cyls) ?? 0) > 0 && (num(g.heads) ?? 0) > 0 && (num(g.secs) ?? 0) > 0) {
    if (bus === 'usb' || bus === 'sd') unsupported(`CHS geometry can not be set for '${bus}' bus`, `${p}/geometry`);
    if (g.trans !== undefined && g.trans !== 'default' && bus !== 'ide') unsupported(`CHS translation mode can only be set for 'ide' bus not '${bus}'`, `${p}/geometry/@trans`);
  }
  if (d.serial !== undefined && bus === 'sd') fail('INTERNAL_ERROR', `Serial property not supported for drive bus '${bus}'`, `${p}/serial`);
  if (device === 'cdrom' && (bus === 'virtio' || bus === 'sd')) unsupported(`disk type of '${dst}' does not support ejectable media`, `${p}/target/@bus`);
  const readonly = d.readonly !== undefined;
  const cor = d.driver?.copyOnRead === 'on';
  if (cor) {
    if (readonly) unsupported(`copy_on_read is not compatible with read-only disk '${dst}'`, `${p}/driver/@copy_on_read`);
    if (device === 'cdrom' || device === 'floppy') unsupported(`copy_on_read is not supported with removable disk '${dst}'`, `${p}/driver/@copy_on_read`);
  }
  if (d.wwn !== undefined) {
    if (bus !== 'ide' && bus !== 'scsi') unsupported('Only ide and scsi disk support wwn', `${p}/wwn`);
    if (bus === 'ide' && !has('ide-drive.wwn')) unsupported('Setting wwn for ide disk is not supported by this QEMU', `${p}/wwn`);
    if (bus !== 'scsi' && !has('scsi-disk.wwn')) unsupported('Setting wwn for scsi disk is not supported by this QEMU', `${p}/wwn`);
  }
  if (d.vendor !== undefined || d.product !== undefined) {
    const at = d.vendor !== undefined ? `${p}/vendor` : `${p}/product`;
    if (bus !== 'scsi') unsupported('Only scsi disk supports vendor and product', at);
    if (!has('scsi-disk.wwn')) unsupported('Setting vendor or product for scsi disk is not supported by this QEMU', at);
  }
  if (device === 'lun') {
    if (bus !== 'virtio' && bus !== 'scsi') unsupported(`disk device='lun' is not supported for bus='${bus}'`, `${p}/target/@bus`);
    if (bus === 'scsi' && !has('scsi-block')) unsupported("This QEMU doesn't support scsi-block for lun passthrough", `${p}/@device`);
    if (cor) unsupported(`copy_on_read is not compatible with 'lun' disk '${dst}'`, `${p}/driver/@copy_on_read`);
    if (d.wwn !== undefined) unsupported('Setting wwn is not supported for lun device', `${p}/wwn`);
    if (d.vendor !== undefined || d.product !== undefined) unsupported('Setting vendor or product is not supported for lun device', `${p}/vendor`);
  }
  if ((num(d.target?.rotationRate) ?? 0) > 0) {
    const at = `${p}/target/@rotation_rate`;
    if (bus !== 'scsi' && bus !== 'ide' && bus !== 'sata') fail('INTERNAL_ERROR', 'rotation rate is only valid for SCSI/IDE/SATA bus', at);
    if (device !== 'disk') fail('INTERNAL_ERROR', 'rotation rate is only valid for disk device', at);
    if (!has('rotation-rate')) fail('INTERNAL_ERROR', 'rotation rate is not supported with this QEMU', at);
  }
  // Post-parse gave every scsi/ide/fdc/sata disk without an address a drive address.
  const addrType = d.address?.type;
  switch (bus) {
    case 'scsi':
    case 'ide':
    case 'fdc':
    case 'sata':
      if (addrType !== undefined && addrType !== 'drive') fail('INTERNAL_ERROR', `unexpected address type for ${bus} disk`, `${p}/address/@type`);
      break;
    case 'virtio':
      if ((num(d.driver?.queueSize) ?? 0) > 0 && !has('virtio-blk.queue-size')) {
        unsupported("queue-size property isn't supported by this QEMU binary", `${p}/driver/@queue_size`);
      }
      break;
    case 'usb':
      if (!has('usb-storage')) unsupported("This QEMU doesn't support '-device usb-storage'", `${p}/target/@bus`);
      if (addrType !== undefined && addrType !== 'usb') fail('INTERNAL_ERROR', 'unexpected address type for usb disk', `${p}/address/@type`);
      if (d.target?.removable !== undefined && !has('usb-storage.removable')) {
        unsupported("This QEMU doesn't support setting the removable flag of USB storage devices", `${p}/target/@removable`);
      }
      break;
    default:
      break;
  }
  if (readonly && device === 'disk') {
    if (bus === 'ide') unsupported('readonly ide disks are not supported', `${p}/readonly`);
    if (bus === 'sata') unsupported('readonly sata disks are not supported', `${p}/readonly`);
  }
  const io = d.driver?.io;
  if (io === 'native') {
    const cache = d.driver?.cache;
    if (cache !== 'none' && cache !== 'directsync') unsupported("io='native' needs either no disk cache or directsync cache mode", `${p}/driver/@io`);
  }
  if (io === 'io_uring' && !has('aio.io_uring')) unsupported('io uring is not supported by this QEMU binary', `${p}/driver/@io`);
  if (d.serial !== undefined && bus === 'scsi' && device === 'lun') unsupported("scsi-block 'lun' devices do not support the serial property", `${p}/serial`);
  if (d.serial !== undefined && !SERIAL_CHARS.test(d.serial)) fail('INTERNAL_ERROR', `driver serial '${d.serial}' contains unsafe characters`, `${p}/serial`);
  const iothread = num(d.driver?.iothread) ?? 0;
  if (iothread) {
    if (bus !== 'virtio') unsupported(`IOThreads not available for bus ${bus} target ${dst}`, `${p}/driver/@iothread`);
    if (!iothreadIds(def).has(iothread)) unsupported(`Disk iothread '${iothread}' not defined in iothreadid`, `${p}/driver/@iothread`);
  }
}

const IOTUNE_KEYS = [
  'totalBytesSec', 'readBytesSec', 'writeBytesSec', 'totalIopsSec', 'readIopsSec', 'writeIopsSec',
  'totalBytesSecMax', 'readBytesSecMax', 'writeBytesSecMax', 'totalIopsSecMax', 'readIopsSecMax', 'writeIopsSecMax',
  'sizeIopsSec',
  'totalBytesSecMaxLength', 'readBytesSecMaxLength', 'writeBytesSecMaxLength',
  'totalIopsSecMaxLength', 'readIopsSecMaxLength', 'writeIopsSecMaxLength',
] as const;

/**
 * qemuValidateDomainDeviceDefDiskBlkdeviotune. The limit of 1e15 per value
 * (ARGUMENT_UNSUPPORTED `block I/O throttle limit must be no more than
 * 1000000000000000 using QEMU`) is not checked: the model's error codes have
 * no ARGUMENT_UNSUPPORTED yet.
 */
function iotune(d: DiskDef, def: DomainDef, p: string): void {
  const t = d.iotune as Record<string, string | undefined> | undefined;
  const group = t?.['groupName'];
  if (!t || group === undefined) return;
  const val = (x: Record<string, string | undefined> | undefined, k: string) => num(x?.[k]) ?? 0;
  const hasAny = IOTUNE_KEYS.some((k) => k !== 'sizeIopsSec' && val(t, k) > 0);
  if (!hasAny) unsupported('group_name can be configured only together with settings', `${p}/iotune/group_name`);
  for (const o of def.devices?.disks ?? []) {
    const ot = o.iotune as Record<string, string | undefined> | undefined;
    if (o.target?.dev === d.target?.dev || ot?.['groupName'] !== group) continue;
    if (IOTUNE_KEYS.some((k) => val(t, k) !== val(ot, k))) unsupported(`different iotunes for disks ${d.target?.dev} and ${o.target?.dev}`, `${p}/iotune`);
  }
}

/** qemuValidateDomainDeviceDefDiskTransient. */
function transient(d: DiskDef, p: string): void {
  if (!d.transient) return;
  const dst = d.target?.dev ?? '';
  const type = d.type ?? 'file';
  const path = d.source?.file ?? d.source?.dev ?? d.source?.dir;
  const at = `${p}/transient`;
  if (['file', 'block', 'dir'].includes(type) && !path) unsupported(`transient disk '${dst}' must not be empty`, at);
  if (d.readonly !== undefined) unsupported(`transient disk '${dst}' must not be read-only`, at);
  if (type !== 'file') unsupported(`transient disk supported only with 'file' type (${dst})`, at);
  if ((d.device ?? 'disk') !== 'disk') unsupported(`transient disk supported only with 'disk' device (${dst})`, at);
  if (d.transient.shareBacking === 'yes') {
    // QEMU 7.2 has set-action, so the lifecycle actions do not matter.
    const bus = diskBus(d);
    if (!['usb', 'virtio', 'scsi'].includes(bus)) unsupported(`disk bus '${bus}' doesn't support transiend disk backing image sharing`, `${at}/@shareBacking`);
  }
}

/** virDiskNameParse: a known prefix, lowercase letters, then an optional partition number without a leading 0. */
function diskName(dst: string): { ok: boolean; partition: number } {
  const m = /^(?:fd|hd|vd|sd|xvd|ubd)([a-z]+)(\d*)$/.exec(dst);
  if (!m) return { ok: false, partition: 0 };
  const digits = m[2]!;
  if (digits.length > 1 && digits.startsWith('0')) return { ok: false, partition: 0 };
  const partition = digits ? Number(digits) : 0;
  if (partition > 2147483647) return { ok: false, partition: 0 };
  return { ok: true, partition };
}

type Backing = {
  readonly type?: string;
  readonly format?: { readonly type?: string; readonly metadataCache?: { readonly maxSize?: { readonly text?: string; readonly unit?: string } } };
  readonly source?: unknown;
  readonly backingStore?: Backing;
};

/** qemuValidateDomainDeviceDefDisk. */
export const disk: DeviceValidator<QemuData, 'disk'> = {
  name: 'disk',
  kinds: ['disk'],
  check(d, def, ctx: Ctx<QemuData>) {
    const has = capsOf(ctx);
    const p = ctx.devicePath ?? '/disk';
    frontend(d, def, p, has);
    iotune(d, def, p);
    transient(d, p);
    const type = d.type ?? 'file';
    // Post-parse made an absent format raw, except for volumes.
    const format = d.driver?.type ?? (type === 'volume' ? undefined : 'raw');
    const readonly = d.readonly !== undefined;
    const dst = d.target?.dev ?? '';
    if (d.shareable !== undefined && !readonly && format !== 'raw') {
      unsupported(`shared access for disk '${dst}' requires use of supported storage format`, `${p}/shareable`);
    }
    const driverName = d.driver?.name;
    if (driverName !== undefined && driverName !== 'qemu') unsupported(`unsupported driver name '${driverName}' for disk '${dst}'`, `${p}/driver/@name`);
    if (d.target?.dev !== undefined) {
      const { ok, partition } = diskName(dst);
      if (!ok) unsupported(`invalid disk target '${dst}'`, `${p}/target/@dev`);
      if (partition !== 0) unsupported(`invalid disk target '${dst}', partitions can't appear in disk targets`, `${p}/target/@dev`);
    }
    const cache = d.driver?.metadataCache?.maxSize;
    validateStorageSource(
      { type, format, source: d.source, readonly, encryption: d.encryption, metadataCacheMaxSize: cache ? num(cache.text) : undefined },
      { source: `${p}/source`, format: `${p}/driver/@type`, metadataCache: `${p}/driver/metadata_cache`, encryption: `${p}/encryption` },
      has,
    );
    let b = d.backingStore as Backing | undefined;
    let at = `${p}/backingStore`;
    // Backing images are read-only; an empty <backingStore/> ends the chain.
    while (b && b.type !== undefined) {
      const mc = b.format?.metadataCache?.maxSize;
      validateStorageSource(
        { type: b.type, format: b.format?.type, source: b.source as Parameters<typeof validateStorageSource>[0]['source'], readonly: true, metadataCacheMaxSize: mc ? kib(mc.text, mc.unit ?? 'b') : undefined },
        { source: `${at}/source`, format: `${at}/format/@type`, metadataCache: `${at}/format/metadata_cache`, encryption: `${at}/source/encryption` },
        has,
      );
      b = b.backingStore;
      at = `${at}/backingStore`;
    }
    if (type === 'vhostuser') {
      if (!has('vhost-user-blk')) unsupported('vhostuser disk is not supported with this QEMU binary', `${p}/@type`);
      requireSharedMemory(def, 'vhostuser', `${p}/@type`);
    }
  },
};
