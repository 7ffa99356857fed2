/**
 * libvirt's generic per-device validation (virDomainDeviceDefValidateInternal
 * in src/conf/domain_validate.c) as the test driver runs it after post-parse:
 * devices in virDomainDeviceInfoIterateFlags' order, each with the address
 * check of virDomainDeviceInfoValidate first. The checks read the state
 * post-parse leaves (disk bus and address, input bus, ...), computed here
 * from the draft. Chardev sources, graphics and video are checked by
 * chardev.ts, graphics.ts and video.ts.
 */
import { VirtError } from '../../errors.ts';
import { parseScaledKiB } from '../../util/units.ts';
import type { DomainDraft } from '../types.ts';
import { fsSourcePath, inputBus, isVirtioNet } from './device-parse.ts';
import { type Disk, diskAddressType, diskBus, diskDst } from './disk-addr.ts';
import type { ParseRule } from './index.ts';
import { numaCells } from './numa.ts';
import { toInt, toUInt } from './xmlprop.ts';
import { indexedDevicePath } from '../../util/device-path.ts';

type Devices = NonNullable<DomainDraft['devices']>;
type Item<K extends keyof Devices> = NonNullable<Devices[K]> extends ReadonlyArray<infer T> ? T : NonNullable<Devices[K]>;

const VIRTIO_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'];

/** virDomainDeviceInfoValidate: `unassigned` addresses belong to hostdevs. */
function infoValidate(address: { type?: string } | undefined, at: string): void {
  if (address?.type === 'unassigned') {
    throw new VirtError('CONFIG_UNSUPPORTED', "address of type 'unassigned' is supported only for hostdevs", `${at}/address/@type`);
  }
}

/** virDomainCheckVirtioOptionsAreAbsent on a device's <driver>. */
function virtioOptionsAbsent(driver: { iommu?: string; ats?: string; packed?: string; pagePerVq?: string } | undefined, at: string): void {
  if (!driver) return;
  const dp = `${at}/driver`;
  if (driver.iommu !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'iommu driver option is only supported for virtio devices', `${dp}/@iommu`);
  if (driver.ats !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'ats driver option is only supported for virtio devices', `${dp}/@ats`);
  if (driver.packed !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'packed driver option is only supported for virtio devices', `${dp}/@packed`);
  if (driver.pagePerVq !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'page_per_vq option is only supported for virtio devices', `${dp}/@page_per_vq`);
}

/** The relabel flag of each domain <seclabel>, by model, as the parser leaves it. */
function domainRelabel(def: DomainDraft): Array<{ model: string | undefined; relabel: boolean }> {
  return (def.seclabels ?? []).map((l) => {
    const type = l.type ?? 'dynamic';
    const relabel = l.model === 'none' ? false : l.relabel !== undefined ? l.relabel === 'yes' : type === 'dynamic';
    return { model: l.model, relabel };
  });
}

/** virSecurityDeviceLabelDefValidate: a device label override needs relabeling at the domain level. */
function seclabelOverrides(def: DomainDraft, labels: Array<{ model?: string }> | undefined, at: string): void {
  if (!labels?.length) return;
  const domain = domainRelabel(def);
  (labels ?? []).forEach((l, i) => {
    if (domain.some((d) => d.model === l.model && !d.relabel)) {
      throw new VirtError('CONFIG_UNSUPPORTED', 'label overrides require relabeling to be enabled at the domain level', `${at}/seclabel[${i + 1}]`);
    }
  });
}

// ------------------------------------------------------------------ disk

type Source = NonNullable<Disk['source']>;

/** The path libvirt keeps for a disk source (an empty one counts as none; iSCSI names gain `/0`). */
function sourcePath(type: string, src: Source | undefined): string | undefined {
  if (!src) return undefined;
  let p: string | undefined;
  if (type === 'file') p = src.file;
  else if (type === 'block') p = src.dev;
  else if (type === 'dir') p = src.dir;
  else if (type === 'network') p = src.name;
  else if (type === 'vhostuser') p = src.path;
  if (p === '') return undefined;
  if (type === 'network' && src.protocol === 'iscsi' && p !== undefined && !p.includes('/')) p += '/0';
  return p;
}

/** virDomainDiskDefValidateSourceChainOne for one element of the chain. */
function sourceChainOne(type: string, src: Source | undefined, auth: Source['auth'], enc: Source['encryption'], at: string): void {
  const protocol = src?.protocol ?? 'none';
  if (type === 'network' && auth) {
    if (['nbd', 'sheepdog', 'gluster', 'tftp', 'vxhs', 'nfs'].includes(protocol)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `authentication is not supported for protocol '${protocol}'`, `${at}/auth`);
    }
    const usage = auth.secret?.type;
    const usages = ['none', 'volume', 'ceph', 'iscsi', 'tls', 'vtpm'];
    if (usage === undefined || !usages.includes(usage)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown secret type '${usage ?? '<null>'}'`, `${at}/auth/secret`);
    if ((protocol === 'iscsi' && usage !== 'iscsi') || (protocol === 'rbd' && usage !== 'ceph')) {
      throw new VirtError('CONFIG_UNSUPPORTED', `invalid secret type '${usage}'`, `${at}/auth/secret/@type`);
    }
  }
  if (enc?.format === 'luks' && enc.cipher?.name !== undefined) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'supplying <cipher> for domain disk definition is unnecessary', `${at}/encryption/cipher`);
  }
  // The <snapshot>/<config> checks cannot fire: only network sources read those elements.
}

/** virDomainDiskDefValidate. */
function diskValidate(def: DomainDraft, disk: Disk, at: string): void {
  const type = disk.type ?? 'file';
  const src = disk.source;
  const dst = diskDst(disk);
  const path = sourcePath(type, src);
  if (dst === undefined) {
    if (type === 'volume' && src) throw new VirtError('NO_TARGET', `pool = '${src.pool ?? '(null)'}', volume = '${src.volume ?? '(null)'}'`, `${at}/target`);
    throw new VirtError('NO_TARGET', path, `${at}/target`);
  }
  // The disk's own <auth>/<encryption> belong to its top source.
  sourceChainOne(type, src, disk.auth ?? src?.auth, disk.encryption ?? src?.encryption, at);
  let bs = disk.backingStore as { type?: string; source?: Source; backingStore?: unknown } | undefined;
  let bsAt = `${at}/backingStore`;
  while (bs?.type !== undefined) {
    sourceChainOne(bs.type, bs.source, bs.source?.auth, bs.source?.encryption, bsAt);
    bs = bs.backingStore as typeof bs;
    bsAt += '/backingStore';
  }
  if (disk.sgio === 'unfiltered') throw new VirtError('CONFIG_UNSUPPORTED', 'unfiltered sgio is no longer supported', `${at}/@sgio`);
  const device = disk.device ?? 'disk';
  if (device === 'lun') {
    if (type === 'network') {
      if (src?.protocol !== 'iscsi') throw new VirtError('CONFIG_UNSUPPORTED', `disk device='lun' is not supported for protocol='${src?.protocol ?? 'none'}'`, `${at}/source/@protocol`);
    } else if (type !== 'block' && type !== 'volume') {
      throw new VirtError('CONFIG_UNSUPPORTED', "disk device='lun' is only valid for block type disk source", `${at}/@type`);
    }
    const format = disk.driver?.type;
    if (format !== undefined && format !== 'raw' && format !== 'aio' && format !== 'none') {
      throw new VirtError('CONFIG_UNSUPPORTED', "disk device 'lun' must use 'raw' format", `${at}/driver/@type`);
    }
    if (src?.slices?.slices?.some((s) => s.type === 'storage')) throw new VirtError('CONFIG_UNSUPPORTED', "disk device 'lun' doesn't support storage slice", `${at}/source/slices`);
    const enc = disk.encryption ?? src?.encryption;
    if (enc?.format !== undefined && enc.format !== 'default') throw new VirtError('CONFIG_UNSUPPORTED', "disk device 'lun' doesn't support encryption", `${at}/encryption`);
  } else {
    if (src?.reservations) throw new VirtError('CONFIG_UNSUPPORTED', '<reservations/> allowed only for lun devices', `${at}/source/reservations`);
    if (disk.rawio !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', "rawio can be used only with device='lun'", `${at}/@rawio`);
    if (disk.sgio !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', "sgio can be used only with device='lun'", `${at}/@sgio`);
  }
  iotuneValidate(disk.iotune, `${at}/iotune`);
  const bus = diskBus(disk);
  const addrType = diskAddressType(disk);
  if (['ide', 'fdc', 'scsi', 'sata'].includes(bus) && addrType !== 'none' && addrType !== 'drive') {
    throw new VirtError('CONFIG_UNSUPPORTED', `Invalid address type '${addrType}' for the disk '${dst}' with the bus type '${bus}'`, `${at}/address/@type`);
  }
  if (bus !== 'virtio') {
    if (disk.model !== undefined && VIRTIO_MODELS.includes(disk.model)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `disk model '${disk.model}' not supported for bus '${bus}'`, `${at}/@model`);
    }
    if (toUInt(disk.driver?.queues ?? '', 10)) {
      throw new VirtError('CONFIG_UNSUPPORTED', 'queues attribute in disk driver element is only supported by virtio-blk', `${at}/driver/@queues`);
    }
    if (disk.driver?.eventIdx !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'disk event_idx mode supported only for virtio bus', `${at}/driver/@event_idx`);
    if (disk.driver?.ioeventfd !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'disk ioeventfd mode supported only for virtio bus', `${at}/driver/@ioeventfd`);
    virtioOptionsAbsent(disk.driver, at);
  }
  if (type === 'nvme' && src?.namespace !== undefined && toUInt(src.namespace, 10) === 0) {
    throw new VirtError('CONFIG_UNSUPPORTED', "NVMe namespace can't be zero", `${at}/source/@namespace`);
  }
  seclabelOverrides(def, src?.seclabels, `${at}/source`);
  // 'closed' is the tray enum's zero: only an open tray counts as set.
  if (disk.target?.tray === 'open' && device !== 'floppy' && device !== 'cdrom') {
    throw new VirtError('CONFIG_UNSUPPORTED', 'tray is only valid for cdrom and floppy', `${at}/target/@tray`);
  }
  printableLimited(disk.vendor, 'vendor', 8, `${at}/vendor`);
  printableLimited(disk.product, 'product', 16, `${at}/product`);
  if (device === 'floppy' && bus !== 'fdc') throw new VirtError('INTERNAL_ERROR', `Invalid bus type '${bus}' for floppy disk`, `${at}/target/@bus`);
  if (device !== 'floppy' && bus === 'fdc') throw new VirtError('INTERNAL_ERROR', `Invalid bus type '${bus}' for disk`, `${at}/target/@bus`);
  if (disk.target?.removable !== undefined && bus !== 'usb') throw new VirtError('XML_ERROR', 'removable is only valid for usb disks', `${at}/target/@removable`);
  const policy = src?.startupPolicy;
  if (policy !== undefined) {
    if (type !== 'volume' && !['file', 'block', 'dir'].includes(type)) {
      throw new VirtError('XML_ERROR', `disk startupPolicy '${policy}' is not allowed for disk of '${type}' type`, `${at}/source/@startupPolicy`);
    }
    if (device !== 'cdrom' && device !== 'floppy' && policy === 'requisite') {
      throw new VirtError('XML_ERROR', "disk startupPolicy 'requisite' is allowed only for cdrom or floppy", `${at}/source/@startupPolicy`);
    }
  }
  if (disk.wwn && !/^(0x)?[0-9a-fA-F]{16}$/.test(disk.wwn)) throw new VirtError('INTERNAL_ERROR', `Malformed wwn: ${disk.wwn}`, `${at}/wwn`);
  if ((device === 'disk' || device === 'lun') && !['hd', 'sd', 'vd', 'xvd', 'ubd'].some((p) => dst.startsWith(p))) {
    throw new VirtError('INTERNAL_ERROR', `Invalid harddisk device name: ${dst}`, `${at}/target/@dev`);
  }
  if (device === 'floppy' && !dst.startsWith('fd')) throw new VirtError('INTERNAL_ERROR', `Invalid floppy device name: ${dst}`, `${at}/target/@dev`);
  const empty = (['file', 'block', 'dir'].includes(type) && path === undefined) || (type === 'network' && (src?.protocol ?? 'none') === 'none');
  if (empty && device === 'disk') throw new VirtError('NO_SOURCE', dst, `${at}/source`);
}

function set(v: string | undefined): boolean {
  return v !== undefined && v.trim() !== '' && v.trim() !== '0';
}

function iotuneValidate(io: Disk['iotune'], at: string): void {
  if (!io) return;
  const pairs = [
    ['bytes_sec', io.totalBytesSec, io.readBytesSec, io.writeBytesSec],
    ['iops_sec', io.totalIopsSec, io.readIopsSec, io.writeIopsSec],
    ['bytes_sec_max', io.totalBytesSecMax, io.readBytesSecMax, io.writeBytesSecMax],
    ['iops_sec_max', io.totalIopsSecMax, io.readIopsSecMax, io.writeIopsSecMax],
  ] as const;
  for (const [name, total, read, write] of pairs) {
    if (set(total) && (set(read) || set(write))) throw new VirtError('XML_ERROR', `total and read/write ${name} cannot be set at the same time`, `${at}/total_${name}`);
  }
}

function printableLimited(text: string | undefined, what: string, max: number, at: string): void {
  if (text === undefined || text === '') return;
  if (!/^[\x20-\x7e]*$/.test(text)) throw new VirtError('XML_ERROR', `disk ${what} is not printable string`, at);
  if (text.length > max) throw new VirtError('CONFIG_UNSUPPORTED', `disk ${what} is more than ${max} characters`, at);
}

// ------------------------------------------------------------------ other devices

function netValidate(net: Item<'interfaces'>, at: string): void {
  const type = net.type ?? 'user';
  const src = net.source;
  if ((src?.ips?.length || src?.routes?.length) && type !== 'ethernet') {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `Invalid attempt to set network interface host-side IP route and/or address info on interface of type '${type}'. This is only supported on interfaces of type 'ethernet'`,
      `${at}/source`,
    );
  }
  if (net.target?.managed === 'no' && type !== 'ethernet') {
    throw new VirtError('CONFIG_UNSUPPORTED', `unmanaged target dev is not supported on interfaces of type '${type}'`, `${at}/target/@managed`);
  }
  const teaming = net.teaming;
  if (teaming?.type === 'transient' && teaming.persistent === undefined) {
    throw new VirtError('CONFIG_UNSUPPORTED', "teaming persistent attribute must be set if teaming type is 'transient'", `${at}/teaming`);
  }
  if (teaming && teaming.type !== 'transient' && teaming.persistent !== undefined) {
    throw new VirtError('CONFIG_UNSUPPORTED', `teaming persistent attribute not allowed if teaming type is '${teaming.type ?? 'none'}'`, `${at}/teaming`);
  }
  if (net.port?.isolated === 'yes') {
    const mac = net.mac?.address ?? '';
    if (type !== 'network' && type !== 'bridge') {
      throw new VirtError('CONFIG_UNSUPPORTED', `interface ${mac} - <port isolated='yes'/> is not supported for network interfaces with type='${type}'`, `${at}/port`);
    }
    if (net.virtualport?.type !== undefined) {
      throw new VirtError('CONFIG_UNSUPPORTED', `interface ${mac} - <port isolated='yes'/> is not supported for network interfaces with virtualport type='${net.virtualport.type}'`, `${at}/port`);
    }
  }
  if (!isVirtioNet(net)) virtioOptionsAbsent(net.driver, at);
  if (type === 'vhostuser') {
    if (!isVirtioNet(net)) {
      throw new VirtError(
        'INTERNAL_ERROR',
        "Wrong or no <model> 'type' attribute specified with <interface type='vhostuser'/>. vhostuser requires the virtio-net* frontend",
        `${at}/model`,
      );
    }
    if (src?.mode === 'server' && src.reconnect?.enabled === 'yes') {
      throw new VirtError('CONFIG_UNSUPPORTED', "'reconnect' attribute unsupported 'server' mode for <interface type='vhostuser'>", `${at}/source/reconnect`);
    }
  }
}

function hostdevValidate(h: Item<'hostdevs'>, at: string): void {
  const addr = h.address?.type ?? 'none';
  if ((h.mode ?? 'subsystem') === 'subsystem') {
    const where = `${at}/address/@type`;
    if (h.type === 'pci' && !['none', 'unassigned', 'pci'].includes(addr)) {
      throw new VirtError('INTERNAL_ERROR', "PCI host devices must use 'pci' or 'unassigned' address type", where);
    }
    if (h.type === 'scsi') {
      if (addr !== 'none' && addr !== 'drive') throw new VirtError('CONFIG_UNSUPPORTED', "SCSI host device must use 'drive' address type", where);
      if (h.sgio === 'unfiltered') throw new VirtError('CONFIG_UNSUPPORTED', 'unfiltered sgio is no longer supported', `${at}/@sgio`);
    }
    if (h.type === 'scsi_host' && !['none', 'pci', 'ccw'].includes(addr)) {
      throw new VirtError('CONFIG_UNSUPPORTED', "SCSI_host host device must use 'pci' or 'ccw' address type", where);
    }
    if (h.type === 'usb' && addr !== 'none' && addr !== 'usb') throw new VirtError('CONFIG_UNSUPPORTED', "USB host device must use 'usb' address type", where);
  }
  const t = h.teaming;
  if (t) {
    if (t.type !== 'transient') throw new VirtError('CONFIG_UNSUPPORTED', "teaming hostdev devices must have type='transient'", `${at}/teaming`);
    if (t.persistent === undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'missing required persistent attribute in hostdev teaming element', `${at}/teaming`);
    if ((h.mode ?? 'subsystem') !== 'subsystem' || h.type !== 'pci') {
      throw new VirtError('CONFIG_UNSUPPORTED', 'teaming is only supported for pci hostdev devices', `${at}/teaming`);
    }
  }
}

/** virDomainControllerDefValidate: only PCI controllers are checked. */
function controllerValidate(c: Item<'controllers'>, at: string): void {
  if (c.type !== 'pci') return;
  if ((c.model === 'pci-root' || c.model === 'pcie-root') && c.address !== undefined) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'pci-root and pcie-root controllers should not have an address', `${at}/address`);
  }
  const idx = c.index === undefined ? -1 : Number(c.index);
  if (idx > 255) throw new VirtError('CONFIG_UNSUPPORTED', `PCI controller index ${idx} too high, maximum is 255`, `${at}/@index`);
  const t = c.target;
  const targetIndex = opt(t?.index);
  if (targetIndex !== -1) {
    if (targetIndex < 0 || targetIndex > 30) throw new VirtError('CONFIG_UNSUPPORTED', `PCI controller target index '${targetIndex}' out of range - must be 0-30`, `${at}/target/@index`);
    if ((idx === 0) !== (targetIndex === 0)) {
      throw new VirtError('CONFIG_UNSUPPORTED', 'Only the PCI controller with index 0 can have target index 0, and vice versa', `${at}/target/@index`);
    }
  }
  pciTargetRange(opt(t?.chassisNr), 'chassisNr', 1, 255, at);
  pciTargetRange(opt(t?.chassis), 'chassis', 0, 255, at);
  pciTargetRange(opt(t?.port), 'port', 0, 255, at);
  pciTargetRange(opt(t?.busNr), 'busNr', 1, 254, at);
  if (t?.node !== undefined && idx === 0) {
    throw new VirtError('CONFIG_UNSUPPORTED', "The PCI controller with index=0 can't be associated with a NUMA node", `${at}/target/node`);
  }
}

function opt(v: string | undefined): number {
  return v === undefined ? -1 : (toInt(v, 0) ?? -1);
}

function pciTargetRange(v: number, name: string, lo: number, hi: number, at: string): void {
  if (v !== -1 && (v < lo || v > hi)) throw new VirtError('CONFIG_UNSUPPORTED', `PCI controller ${name} '${v}' out of range - must be ${lo}-${hi}`, `${at}/target/@${name}`);
}

/** virDomainInputDefValidate, against the bus the parser gave the device. */
function inputValidate(def: DomainDraft, input: Item<'inputs'>, at: string): void {
  const bus = inputBus(input, def) ?? 'ps2';
  const type = input.type ?? 'mouse';
  const mouseOrKbd = type === 'mouse' || type === 'keyboard';
  const os = def.os?.type?.text;
  if (os === 'hvm') {
    if (bus === 'ps2' && !mouseOrKbd) throw new VirtError('INTERNAL_ERROR', `ps2 bus does not support ${type} input device`, at);
    if (bus === 'xen') throw new VirtError('INTERNAL_ERROR', `unsupported input bus ${bus}`, at);
  } else if (os === 'xen' || os === 'xenpvh') {
    if (bus !== 'xen') throw new VirtError('INTERNAL_ERROR', `unsupported input bus ${bus}`, at);
    if (!mouseOrKbd) throw new VirtError('INTERNAL_ERROR', `xen bus does not support ${type} input device`, at);
  } else if (def.type === 'vz' || def.type === 'parallels') {
    if (bus !== 'parallels') throw new VirtError('INTERNAL_ERROR', `parallels containers don't support input bus ${bus}`, at);
    if (!mouseOrKbd) throw new VirtError('INTERNAL_ERROR', `parallels bus does not support ${type} input device`, at);
  } else {
    throw new VirtError('INTERNAL_ERROR', 'Input devices are not supported by this virtualization driver.', at);
  }
  // "setting source evdev path only supported for passthrough input devices"
  // cannot fire: the parser reads a source path only for passthrough and evdev.
  if (type === 'passthrough' && bus !== 'virtio') throw new VirtError('CONFIG_UNSUPPORTED', "only bus 'virtio' is supported for 'passthrough' input devices", at);
  if (type === 'evdev' && bus !== 'none') throw new VirtError('CONFIG_UNSUPPORTED', "input evdev doesn't support bus element", at);
  if (input.model !== undefined && VIRTIO_MODELS.includes(input.model) && bus !== 'virtio') {
    throw new VirtError('CONFIG_UNSUPPORTED', `only bus 'virtio' is supported for input model '${input.model}'`, `${at}/@model`);
  }
}

function kib(el: { text?: string; unit?: string } | undefined, at: string): number {
  if (el?.text === undefined || el.text.trim() === '') return 0;
  return parseScaledKiB({ value: el.text, unit: el.unit, path: at, xpath: at });
}

/** virDomainMemoryDefValidate. */
function memoryValidate(def: DomainDraft, m: Item<'memoryDevices'>, at: string): void {
  const nodeText = m.target?.node;
  const node = nodeText === undefined ? -1 : (toInt(nodeText, 10) ?? -1);
  if (node !== -1) {
    const cells = numaCells(def).length;
    if (cells === 0) throw new VirtError('XML_DETAIL', "can't add memory backend as guest has no NUMA nodes configured", `${at}/target/node`);
    if (node >= cells) {
      throw new VirtError('XML_DETAIL', `can't add memory backend for guest node '${node}' as the guest has only '${cells}' NUMA nodes configured`, `${at}/target/node`);
    }
  }
  const path = m.source?.path;
  switch (m.model) {
    case 'nvdimm':
      if (!path) throw new VirtError('XML_DETAIL', "path is required for model 'nvdimm'", `${at}/source`);
      if (m.discard === 'yes') throw new VirtError('CONFIG_UNSUPPORTED', 'discard is not supported for nvdimms', `${at}/@discard`);
      if (def.os?.type?.arch === 'ppc64' || def.os?.type?.arch === 'ppc64le') {
        if (kib(m.target?.label?.size, `${at}/target/label/size`) === 0) throw new VirtError('CONFIG_UNSUPPORTED', 'label size is required for NVDIMM device', `${at}/target/label`);
      } else if (m.uuid !== undefined) {
        throw new VirtError('CONFIG_UNSUPPORTED', 'UUID is not supported for NVDIMM device', `${at}/uuid`);
      }
      break;
    case 'virtio-pmem':
      if (!path) throw new VirtError('XML_DETAIL', "path is required for model 'virtio-pmem'", `${at}/source`);
      if (m.discard === 'yes') throw new VirtError('CONFIG_UNSUPPORTED', "discard is not supported for model 'virtio-pmem'", `${at}/@discard`);
      if ((m.access ?? 'shared') !== 'shared') throw new VirtError('CONFIG_UNSUPPORTED', 'shared access mode required for virtio-pmem device', `${at}/@access`);
      if (node !== -1) throw new VirtError('CONFIG_UNSUPPORTED', 'virtio-pmem does not support NUMA nodes', `${at}/target/node`);
      break;
    case 'virtio-mem': {
      const size = kib(m.target?.size, `${at}/target/size`);
      const requested = kib(m.target?.requested, `${at}/target/requested`);
      const block = kib(m.target?.block, `${at}/target/block`);
      if (requested > size) throw new VirtError('XML_DETAIL', `requested size must be smaller than or equal to @size (${size}KiB)`, `${at}/target/requested`);
      if (block === 0 || (block & (block - 1)) !== 0) throw new VirtError('XML_DETAIL', 'block size must be a power of two', `${at}/target/block`);
      // The host's transparent huge page size; libvirt falls back to 2 MiB when it cannot read it.
      if (block < 2048) throw new VirtError('XML_DETAIL', 'block size too small, must be at least 2048KiB', `${at}/target/block`);
      if (requested % block !== 0) throw new VirtError('XML_DETAIL', 'requested size must be an integer multiple of block size', `${at}/target/requested`);
      break;
    }
    case 'sgx-epc':
      if (m.address !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', "memory device address is not supported for model 'sgx-epc'", `${at}/address`);
      break;
  }
}

function fsValidate(fs: Item<'filesystems'>, at: string): void {
  if (!fs.target?.dir) throw new VirtError('NO_TARGET', fsSourcePath(fs) ?? (fs.source?.socket || undefined), `${at}/target`);
  if (fs.boot?.order !== undefined && fs.driver?.type !== 'virtiofs') {
    throw new VirtError('CONFIG_UNSUPPORTED', 'boot order is only supported for virtiofs', `${at}/boot`);
  }
}

function shmemValidate(s: Item<'shmems'>, at: string): void {
  const name = s.name ?? '';
  if (name.includes('/')) throw new VirtError('CONFIG_UNSUPPORTED', "shmem name cannot include '/' character", `${at}/@name`);
  if (name === '.') throw new VirtError('CONFIG_UNSUPPORTED', "shmem name cannot be equal to '.'", `${at}/@name`);
  if (name === '..') throw new VirtError('CONFIG_UNSUPPORTED', "shmem name cannot be equal to '..'", `${at}/@name`);
}

function iommuValidate(iommu: NonNullable<Devices['iommu']>, at: string): void {
  const model = iommu.model;
  const d = iommu.driver;
  const awBits = toUInt(d?.awBits ?? '', 10) ?? 0;
  if ((model === 'smmuv3' || model === 'virtio') && d && ((d.intremap ?? d.cachingMode ?? d.eim ?? d.iotlb) !== undefined || awBits !== 0)) {
    throw new VirtError('XML_ERROR', `iommu model '${model}' doesn't support additional attributes`, `${at}/driver`);
  }
  if ((model === 'smmuv3' || model === 'intel') && iommu.address !== undefined) throw new VirtError('XML_ERROR', `iommu model '${model}' can't have address`, `${at}/address`);
}

function tpmValidate(tpm: Item<'tpms'>, at: string): void {
  const b = tpm.backend;
  const banks = b?.activePcrBanks;
  const anyBank = banks !== undefined && (banks.sha1 ?? banks.sha256 ?? banks.sha384 ?? banks.sha512) !== undefined;
  if (b?.type === 'emulator' && anyBank && b.version !== '2.0') {
    throw new VirtError('XML_ERROR', "<active_pcr_banks/> requires TPM version '2.0'", `${at}/backend/active_pcr_banks`);
  }
  if (b?.type === 'external') {
    const s = b.source;
    if ((s?.type ?? 'null') !== 'unix') throw new VirtError('XML_ERROR', "only source type 'unix' is supported for external TPM device", `${at}/backend/source`);
    if (s?.mode === 'bind') throw new VirtError('XML_ERROR', "only 'client' mode is supported for external TPM device", `${at}/backend/source/@mode`);
    if (s?.path === undefined) throw new VirtError('XML_ERROR', 'missing socket path for external TPM device', `${at}/backend/source`);
  }
}

function vsockValidate(v: NonNullable<Devices['vsock']>, at: string): void {
  const cid = toUInt(v.cid?.address ?? '', 10);
  if (cid !== undefined && cid > 0 && cid <= 2) throw new VirtError('CONFIG_UNSUPPORTED', 'guest CIDs must be >= 3', `${at}/cid/@address`);
  if (v.model === undefined || !VIRTIO_MODELS.includes(v.model)) virtioOptionsAbsent(v.driver, at);
}

/** Whether the domain has a USB bus (virDomainDefHasUSB). */
function hasUSB(def: DomainDraft): boolean {
  return (def.devices?.controllers ?? []).some((c) => c.type === 'usb' && c.model !== 'none');
}

function p(name: string, i: number): string {
  return indexedDevicePath(name, i);
}

type Chardev = Item<'serials'> | Item<'parallels'> | Item<'channels'> | Item<'consoles'>;

function chardevsValidate(def: DomainDraft, list: readonly Chardev[] | undefined, name: string): void {
  if (!list) return;
  for (let i = 0; i < list.length; i++) {
    const x = list[i]!;
    infoValidate(x.address, p(name, i));
    seclabelOverrides(def, x.sources?.[0]?.seclabels, `${p(name, i)}/source`);
  }
}

const NO_DEVICES: readonly never[] = [];

/** Every device, in virDomainDeviceInfoIterateFlags' order (loops, not forEach: no closure per kind and call). */
export const validateDevices: ParseRule = (def) => {
  const d = def.devices;
  if (!d) return;
  {
    const list = d.disks ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('disk', i));
      diskValidate(def, x, p('disk', i));
    }
  }
  {
    const list = d.interfaces ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      // An <interface type='hostdev'> is a hostdev too: its unassigned address is allowed.
      if (x.type !== 'hostdev') infoValidate(x.address, p('interface', i));
      netValidate(x, p('interface', i));
    }
  }
  {
    const list = d.sounds ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('sound', i));
      const id = toUInt(x.audio?.id ?? '', 10);
      if (id && !(d.audios ?? []).some((a) => toUInt(a.id ?? '', 10) === id)) throw new VirtError('XML_ERROR', `no audio device with ID ${id}`, `${p('sound', i)}/audio/@id`);
    }
  }
  {
    const list = d.hostdevs ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      hostdevValidate(x, p('hostdev', i));
    }
  }
  {
    const list = d.controllers ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('controller', i));
      controllerValidate(x, p('controller', i));
    }
  }
  {
    const list = d.smartcards ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('smartcard', i));
      const t = x.address?.type;
      if (t !== undefined && t !== 'ccid') throw new VirtError('CONFIG_UNSUPPORTED', "Controllers must use the 'ccid' address type", `${p('smartcard', i)}/address/@type`);
    }
  }
  chardevsValidate(def, d.serials, 'serial');
  chardevsValidate(def, d.parallels, 'parallel');
  chardevsValidate(def, d.channels, 'channel');
  chardevsValidate(def, d.consoles, 'console');
  {
    const list = d.inputs ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('input', i));
      inputValidate(def, x, p('input', i));
    }
  }
  {
    const list = d.filesystems ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('filesystem', i));
      fsValidate(x, p('filesystem', i));
    }
  }
  if (d.watchdog) infoValidate(d.watchdog.address, '/domain/devices/watchdog');
  if (d.memballoon) infoValidate(d.memballoon.address, '/domain/devices/memballoon');
  {
    const list = d.rngs ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('rng', i));
    }
  }
  if (d.nvram) infoValidate(d.nvram.address, '/domain/devices/nvram');
  {
    const list = d.hubs ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('hub', i));
    }
  }
  {
    const list = d.shmems ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('shmem', i));
      shmemValidate(x, p('shmem', i));
    }
  }
  {
    const list = d.tpms ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('tpm', i));
      tpmValidate(x, p('tpm', i));
    }
  }
  {
    const list = d.panics ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('panic', i));
    }
  }
  {
    const list = d.memoryDevices ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('memory', i));
      memoryValidate(def, x, p('memory', i));
    }
  }
  {
    const list = d.redirdevs ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const x = list[i]!;
      infoValidate(x.address, p('redirdev', i));
      if ((x.bus ?? 'usb') === 'usb' && !hasUSB(def)) {
        throw new VirtError('CONFIG_UNSUPPORTED', 'cannot add redirected USB device: USB is disabled for this domain', p('redirdev', i));
      }
    }
  }
  if (d.iommu) {
    infoValidate(d.iommu.address, '/domain/devices/iommu');
    iommuValidate(d.iommu, '/domain/devices/iommu');
  }
  if (d.vsock) {
    infoValidate(d.vsock.address, '/domain/devices/vsock');
    vsockValidate(d.vsock, '/domain/devices/vsock');
  }
  const audioIds = new Set<number>();
  {
    const list = d.audios ?? NO_DEVICES;
    for (let i = 0, n = list.length; i < n; i++) {
      const a = list[i]!;
      const id = toUInt(a.id ?? '', 10) ?? 0;
      if (audioIds.has(id)) throw new VirtError('XML_ERROR', `audio ID ${id} is used multiple times`, `${p('audio', i)}/@id`);
      audioIds.add(id);
    }
  }
};
