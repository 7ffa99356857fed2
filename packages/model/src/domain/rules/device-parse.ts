/**
 * Device checks libvirt's parser makes while reading <devices>
 * (virDomainDefParseXML and the per-device virDomain*DefParseXML of
 * domain_conf.c), in its device order: what is read as a number or an enum,
 * what may appear once, the USB-disabled sanity, and each device's info.
 */
import { VirtError } from '../../errors.ts';
import type { DomainDraft } from '../types.ts';
import { checkDeviceInfo, checkPCIAddress, type DeviceInfoLike } from './device-info.ts';
import type { ParseContext, ParseRule } from './index.ts';
import { attrPath, devicePath, extraChildren, propEnum, propInt, propOnOff, propUInt, propYesNo, toInt, toULongLong } from './xmlprop.ts';
import { unitMultiplier } from '../../util/units.ts';
import { indexedDevicePath } from '../../util/device-path.ts';

type Devices = NonNullable<DomainDraft['devices']>;
type Item<K extends keyof Devices> = NonNullable<Devices[K]> extends ReadonlyArray<infer T> ? T : NonNullable<Devices[K]>;

export const CONTROLLER_TYPES = ['ide', 'fdc', 'scsi', 'sata', 'virtio-serial', 'ccid', 'usb', 'pci', 'xenbus', 'isa'] as const;
/** virDomainChrType, in enum order. */
const CHR_TYPES = ['null', 'vc', 'pty', 'dev', 'file', 'pipe', 'stdio', 'udp', 'tcp', 'unix', 'spicevmc', 'spiceport', 'nmdm', 'qemu-vdagent', 'dbus'] as const;
const VIRTIO_NET_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'];
const USB2_COMPANIONS = ['ich9-uhci1', 'ich9-uhci2', 'ich9-uhci3'];

/** Whether an <interface> model is one of the virtio-net models (matched as libvirt does, ignoring case). */
export function isVirtioNet(net: Item<'interfaces'>): boolean {
  const m = net.model?.type?.toLowerCase();
  return m !== undefined && VIRTIO_NET_MODELS.includes(m);
}

/** A `model='none'` USB controller: the domain has USB disabled. */
export function usbDisabled(def: DomainDraft): boolean {
  return (def.devices?.controllers ?? []).some((c) => c.type === 'usb' && c.model === 'none');
}

/** The bus an <input> gets at parse time when none is written (virDomainInputDefParseXML). */
export function inputBus(input: Item<'inputs'>, def: DomainDraft): string | undefined {
  if (input.bus !== undefined) return input.bus;
  const os = def.os?.type?.text;
  const arch = def.os?.type?.arch;
  if (os === 'hvm') {
    if ((input.type === 'mouse' || input.type === 'keyboard') && (arch === undefined || arch === 'i686' || arch === 'x86_64')) return 'ps2';
    if (arch === 's390' || arch === 's390x' || input.type === 'passthrough') return 'virtio';
    if (input.type === 'evdev') return 'none';
    return 'usb';
  }
  if (os === 'xen' || os === 'xenpvh') return 'xen';
  if (def.type === 'vz' || def.type === 'parallels') return 'parallels';
  return 'ps2';
}

// ------------------------------------------------------------------ per device

/** virStorageType (none is refused) and virDomainDiskDevice, as virDomainDiskDefParseXML reads them (type first). */
const DISK_TYPES = ['none', 'file', 'block', 'dir', 'network', 'volume', 'nvme', 'vhostuser'] as const;
const DISK_DEVICES = ['disk', 'cdrom', 'floppy', 'lun'] as const;

function checkDisk(disk: Item<'disks'>, at: string): void {
  propEnum(disk.type, 'type', 'disk', at, DISK_TYPES, { nonzero: true });
  propEnum(disk.device, 'device', 'disk', at, DISK_DEVICES);
  // libvirt reads a disk without <source> as a file disk with no media.
  if (!disk.source) disk.type = 'file';
  if (disk.auth && disk.source?.auth) throw new VirtError('CONFIG_UNSUPPORTED', 'an <auth> definition already found for disk source', `${at}/auth`);
  if (disk.encryption && disk.source?.encryption) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'an <encryption> definition already found for disk source', `${at}/encryption`);
  }
  checkDeviceInfo(disk as DeviceInfoLike, at, { boot: true });
}

function checkController(c: Item<'controllers'>, at: string): void {
  propEnum(c.type, 'type', 'controller', at, CONTROLLER_TYPES);
  propInt(c.index, 'index', 'controller', at, { nonnegative: true });
  if (c.driver) {
    const d = `${at}/driver`;
    propUInt(c.driver.queues, 'queues', 'driver', d);
    propUInt(c.driver.cmdPerLun, 'cmd_per_lun', 'driver', d);
    propUInt(c.driver.maxSectors, 'max_sectors', 'driver', d);
    propOnOff(c.driver.ioeventfd, 'ioeventfd', 'driver', d);
    propUInt(c.driver.iothread, 'iothread', 'driver', d);
  }
  if (extraChildren(c, 'model') > 0) throw new VirtError('XML_ERROR', 'Multiple <model> elements in controller definition not allowed', `${at}/model[2]`);
  if (extraChildren(c, 'target') > 0) throw new VirtError('XML_ERROR', 'Multiple <target> elements in controller definition not allowed', `${at}/target[2]`);
  const t = c.target;
  if (t && c.type === 'pci') {
    const tp = `${at}/target`;
    for (const [k, v] of [['chassisNr', t.chassisNr], ['chassis', t.chassis], ['port', t.port], ['busNr', t.busNr]] as const) propInt(v, k, 'target', tp, { base: 0, nonnegative: true });
    propOnOff(t.hotplug, 'hotplug', 'target', tp);
    propInt(t.index, 'index', 'target', tp, { base: 0, nonnegative: true });
  }
  if (t?.node !== undefined) {
    const n = toInt(t.node, 10);
    if (n === undefined || n < 0) throw new VirtError('XML_ERROR', 'invalid NUMA node in target', `${at}/target/node`);
  }
  // libvirt ignores the info of a USB controller that disables USB.
  if (!(c.type === 'usb' && c.model === 'none')) checkDeviceInfo(c as DeviceInfoLike, at);
  propInt(c.ports, 'ports', 'controller', at, { nonnegative: true });
  if (c.type === 'virtio-serial') propInt(c.vectors, 'vectors', 'controller', at, { nonnegative: true });
}

/**
 * virDomainDefControllersParse: `model='none'` must be the only USB controller, and someone must be the master.
 * Also run by attach-device on the controllers with the new one among them (no context: paths are the domain's).
 */
export function checkUsbControllers(
  list: readonly { readonly type?: string | undefined; readonly model?: string | undefined; readonly master?: unknown }[],
  pathOf: (index: number) => string = (i) => indexedDevicePath('controller', i),
): void {
  let none = false;
  let other = false;
  let master = false;
  list.forEach((c, i) => {
    if (c.type !== 'usb') return;
    if (none || (c.model === 'none' && other)) {
      throw new VirtError('XML_DETAIL', "Can't add another USB controller: USB is disabled for this domain", pathOf(i));
    }
    if (c.model === 'none') none = true;
    else other = true;
    if (!c.master && !USB2_COMPANIONS.includes(c.model ?? '')) master = true;
  });
  if (other && !master) throw new VirtError('XML_DETAIL', 'No master USB controller specified', '/domain/devices');
}

/** What virDomainNetDefParseXMLDriver reads from <driver> for a virtio model only (the rest are virtio options, read for all). */
const VIRTIO_NET_DRIVER_KEYS = ['name', 'txmode', 'ioeventfd', 'eventIdx', 'queues', 'rxQueueSize', 'txQueueSize', 'rss', 'rssHashReport', 'host', 'guest'] as const;

function checkInterface(net: Item<'interfaces'>, at: string): void {
  // virXMLPropEnumDefault(..., VIR_DOMAIN_NET_TYPE_USER): an interface without a type is a user one.
  net.type ??= 'user';
  const d = net.driver;
  // Not virtio as written (a driver may make it virtio later, as qemu does a vdpa
  // interface): libvirt does not read these, and never writes them back.
  if (d && net.type !== 'hostdev' && !isVirtioNet(net)) for (const k of VIRTIO_NET_DRIVER_KEYS) delete (d as Record<string, unknown>)[k];
  if (d && net.type !== 'hostdev' && isVirtioNet(net)) {
    const dp = `${at}/driver`;
    propEnum(d.name, 'name', 'driver', dp, ['default', 'qemu', 'vhost'], { nonzero: true });
    propEnum(d.txmode, 'txmode', 'driver', dp, ['default', 'iothread', 'timer'], { nonzero: true });
    propOnOff(d.ioeventfd, 'ioeventfd', 'driver', dp);
    propOnOff(d.eventIdx, 'event_idx', 'driver', dp);
    propUInt(d.queues, 'queues', 'driver', dp);
    propUInt(d.rxQueueSize, 'rx_queue_size', 'driver', dp);
    propUInt(d.txQueueSize, 'tx_queue_size', 'driver', dp);
    propOnOff(d.rss, 'rss', 'driver', dp);
    propOnOff(d.rssHashReport, 'rss_hash_report', 'driver', dp);
  }
  const backend = net.backend?.type;
  // Debian's libvirt 9.0.0 (Disable-passt-support.patch) rejects 'passt',
  // leaving no accepted value: 'default' is the enum's zero.
  if (backend !== undefined) {
    throw new VirtError('XML_ERROR', `Invalid value for attribute 'type' in element 'backend': '${backend}'.`, attrPath(`${at}/backend`, 'type'));
  }
  checkDeviceInfo(net as DeviceInfoLike, at, { boot: true, rom: true });
}

function checkHostdev(h: Item<'hostdevs'>, at: string): void {
  const mode = h.mode ?? 'subsystem';
  if (mode !== 'subsystem' && mode !== 'capabilities') throw new VirtError('CONFIG_UNSUPPORTED', `unknown hostdev mode '${mode}'`, attrPath(at, 'mode'));
  if (mode === 'subsystem') {
    const type = h.type;
    if (type === undefined) throw new VirtError('XML_ERROR', 'missing source address type', attrPath(at, 'type'));
    if (!['usb', 'pci', 'scsi', 'scsi_host', 'mdev'].includes(type)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `unknown host device source address type '${type}'`, attrPath(at, 'type'));
    }
    const src = h.source;
    if (!src) throw new VirtError('XML_ERROR', 'Missing <source> element in hostdev device', `${at}/source`);
    if (type !== 'usb' && src.startupPolicy !== undefined) {
      throw new VirtError('CONFIG_UNSUPPORTED', 'Setting startupPolicy is only allowed for USB devices', attrPath(`${at}/source`, 'startupPolicy'));
    }
    if (propEnum(h.sgio, 'sgio', 'hostdev', at, ['default', 'filtered', 'unfiltered'], { nonzero: true }) !== undefined && type !== 'scsi') {
      throw new VirtError('XML_ERROR', 'sgio is only supported for scsi host device', attrPath(at, 'sgio'));
    }
    if (propYesNo(h.rawio, 'rawio', 'hostdev', at) !== undefined && type !== 'scsi') {
      throw new VirtError('XML_ERROR', 'rawio is only supported for scsi host device', attrPath(at, 'rawio'));
    }
    if (type !== 'mdev' && type !== 'scsi_host' && h.model !== undefined) {
      throw new VirtError('XML_ERROR', `'model' attribute in <hostdev> is only supported when type='${type}'`, attrPath(at, 'model'));
    }
    const sp = `${at}/source`;
    if (type === 'mdev') {
      propEnum(h.model, 'model', 'hostdev', at, ['vfio-pci', 'vfio-ccw', 'vfio-ap'], { required: true });
      propOnOff(h.display, 'display', 'hostdev', at);
      propOnOff(h.ramfb, 'ramfb', 'hostdev', at);
      if (!src.address) throw new VirtError('CONFIG_UNSUPPORTED', 'Missing <address> element', `${sp}/address`);
      if (src.address.uuid === undefined) throw new VirtError('CONFIG_UNSUPPORTED', "Missing 'uuid' attribute for element <address>", `${sp}/address`);
    }
    if (type === 'pci' && src.address) checkPCIAddress(src.address, `${sp}/address`, 'address');
    if (type === 'usb') {
      if (src.vendor) {
        propUInt(src.vendor.id, 'id', 'vendor', `${sp}/vendor`, { base: 0, required: true, nonzero: true });
        if (!src.product) throw new VirtError('INTERNAL_ERROR', 'missing product', `${sp}/product`);
      }
      if (src.product) {
        propUInt(src.product.id, 'id', 'product', `${sp}/product`, { base: 0, required: true });
        if (!src.vendor) throw new VirtError('INTERNAL_ERROR', 'missing vendor', `${sp}/vendor`);
      }
      if (src.address) {
        propUInt(src.address.bus, 'bus', 'address', `${sp}/address`, { base: 0, required: true });
        propUInt(src.address.device, 'device', 'address', `${sp}/address`, { base: 0, required: true });
      }
    }
  }
  checkDeviceInfo(h as DeviceInfoLike, at, { boot: true, rom: true });
}

function checkTpm(tpm: Item<'tpms'>, at: string): void {
  propEnum(tpm.model, 'model', 'tpm', at, ['default', 'tpm-tis', 'tpm-crb', 'tpm-spapr', 'spapr-tpm-proxy'], { nonzero: true });
  if (extraChildren(tpm, 'backend') > 0) throw new VirtError('XML_ERROR', 'only one TPM backend is supported', `${at}/backend[2]`);
  if (!tpm.backend) throw new VirtError('XML_ERROR', 'missing TPM device backend', `${at}/backend`);
  const bp = `${at}/backend`;
  const type = propEnum(tpm.backend.type, 'type', 'backend', bp, ['passthrough', 'emulator', 'external'], { required: true });
  if (type === 'emulator') propEnum(tpm.backend.version, 'version', 'backend', bp, ['default', '1.2', '2.0'], { nonzero: true });
  if (type === 'external') {
    const st = tpm.backend.source?.type;
    if (!st) throw new VirtError('XML_ERROR', 'missing external TPM backend type', `${bp}/source`);
    if (!(CHR_TYPES as readonly string[]).includes(st)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown backend type '${st}' for external TPM`, `${bp}/source/@type`);
  }
  checkDeviceInfo(tpm as DeviceInfoLike, at);
}

/** The path a <filesystem> source names, by type (virDomainFSDefParseXML). */
export function fsSourcePath(fs: Item<'filesystems'>): string | undefined {
  const s = fs.source;
  const type = fs.type ?? 'mount';
  const p = type === 'mount' || type === 'bind' ? s?.dir : type === 'file' ? s?.file : type === 'block' ? s?.dev : type === 'template' ? s?.name : undefined;
  return p;
}

function checkFilesystem(fs: Item<'filesystems'>, at: string): void {
  const type = fs.type ?? 'mount';
  if (fsSourcePath(fs) === undefined && type !== 'ram' && type !== 'volume' && fs.source?.socket === undefined) {
    throw new VirtError('NO_SOURCE', fs.target?.dir || undefined, `${at}/source`);
  }
  checkDeviceInfo(fs as DeviceInfoLike, at, { boot: true });
}

const INPUT_TYPES = ['mouse', 'tablet', 'keyboard', 'passthrough', 'evdev'];
const INPUT_BUSES = ['ps2', 'usb', 'xen', 'parallels', 'virtio', 'none'];
const INPUT_MODELS = ['default', 'virtio', 'virtio-transitional', 'virtio-non-transitional'];

/** virDomainInputDefParseXML. */
function checkInput(input: Item<'inputs'>, def: DomainDraft, at: string): void {
  if (input.type === undefined) throw new VirtError('INTERNAL_ERROR', 'missing input device type', attrPath(at, 'type'));
  if (!INPUT_TYPES.includes(input.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown input device type '${input.type}'`, attrPath(at, 'type'));
  if (input.model !== undefined && (!INPUT_MODELS.includes(input.model) || input.model === 'default')) {
    throw new VirtError('CONFIG_UNSUPPORTED', `unknown input model '${input.model}'`, attrPath(at, 'model'));
  }
  if (input.bus !== undefined && !INPUT_BUSES.includes(input.bus)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown input bus type '${input.bus}'`, attrPath(at, 'bus'));
  checkDeviceInfo(input as DeviceInfoLike, at);
  const addr = input.address?.type;
  if (inputBus(input, def) === 'usb' && addr !== undefined && addr !== 'usb') throw new VirtError('XML_ERROR', 'Invalid address for a USB device', `${at}/address/@type`);
  const src = input.source;
  if (src && (input.type === 'passthrough' || input.type === 'evdev')) {
    const path = input.type === 'passthrough' ? src.evdev : src.dev;
    if (!path) throw new VirtError('XML_ERROR', 'Missing evdev path for input device', `${at}/source`);
  }
}

/** 1 MiB: the smallest shared memory QEMU maps, and libvirt's unit for writing the size. */
const SHMEM_MIN_BYTES = 1n << 20n;

const SOUND_CODECS = ['duplex', 'micro', 'output'];

/**
 * virDomainSoundCodecDefParseXML, for the models whose <codec>s libvirt reads
 * (ich6, ich9): a codec type it does not know, or none, is refused at parse
 * time, before the QEMU validation that names the codec's device.
 */
function checkSoundCodecs(s: Item<'sounds'>, at: string): void {
  if (s.model !== 'ich6' && s.model !== 'ich9') return;
  (s.codecs ?? []).forEach((c, i) => {
    if (c.type === undefined || !SOUND_CODECS.includes(c.type)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `unknown codec type '${c.type ?? '(null)'}'`, attrPath(`${at}/codec[${i + 1}]`, 'type'));
    }
  });
}

function checkShmem(s: Item<'shmems'>, at: string): void {
  if (s.name === undefined) throw new VirtError('XML_ERROR', "shmem element must contain 'name' attribute", at);
  // libvirt reads any size but writes it in whole MiB (size >> 20): a size below 1 MiB
  // would be written as 0, which reads back as no size at all. QEMU refuses such a
  // size when the guest starts (qemuBuildShmemCommandLine, with this message); it is
  // refused here, when it is defined, so that what is saved reads back the same.
  const size = s.size as { text?: string; unit?: string } | undefined;
  const n = size?.text === undefined ? undefined : toULongLong(size.text.trim(), 10);
  const mult = unitMultiplier(size?.unit, 1n);
  if (n !== undefined && mult !== undefined && n !== 0n && n * mult < SHMEM_MIN_BYTES) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'shmem size must be at least 1 MiB (1024 KiB)', `${at}/size`);
  }
  if (s.msi) propUInt(s.msi.vectors, 'vectors', 'msi', `${at}/msi`, { base: 0 });
  if (s.msi) propOnOff(s.msi.ioeventfd, 'ioeventfd', 'msi', `${at}/msi`);
  if (s.msi && !s.server) throw new VirtError('XML_ERROR', 'msi option is only supported with a server', `${at}/msi`);
  checkDeviceInfo(s as DeviceInfoLike, at);
}

/** `f` on each device of a list, with the device's path and index. */
function eachDevice<T>(ctx: ParseContext, list: T[] | undefined, name: string, f: (item: T, at: string, i: number) => void): void {
  if (list) for (let i = 0; i < list.length; i++) f(list[i]!, devicePath(ctx, name, i), i);
}

/**
 * virDomainDefParseXML reads the devices a domain has at most one of as a
 * node set and refuses more than one ("only a single ... is supported"); the
 * decoder keeps the extra ones aside, and they are refused here. (A device
 * parsed alone is a single element: nothing to count.)
 */
function onlyOne(devices: NonNullable<DomainDraft['devices']>, name: string, code: 'INTERNAL_ERROR' | 'XML_ERROR', what: string): void {
  if (extraChildren(devices, name) > 0) throw new VirtError(code, `only a single ${what} is supported`, `/domain/devices/${name}[2]`);
}

/** `f` on a device that may appear once, with its path. */
function oneDevice<T>(ctx: ParseContext, item: T | undefined, name: string, f: (item: T, at: string) => void): void {
  if (item !== undefined) f(item, devicePath(ctx, name, 0, true));
}

const infoOnly = (c: DeviceInfoLike, at: string): void => checkDeviceInfo(c, at);

/**
 * Every device in the order virDomainDefParseXML reads them, with the
 * domain-wide USB checks where libvirt makes them.
 */
export const deviceParseChecks: ParseRule = (def, ctx) => {
  const d = def.devices;
  if (!d) return;
  const usbNone = !ctx.deviceOnly && usbDisabled(def);

  eachDevice(ctx, d.disks, 'disk', checkDisk);
  eachDevice(ctx, d.controllers, 'controller', checkController);
  if (!ctx.deviceOnly && d.controllers) checkUsbControllers(d.controllers, (i) => devicePath(ctx, 'controller', i));
  eachDevice(ctx, d.filesystems, 'filesystem', checkFilesystem);
  eachDevice(ctx, d.interfaces, 'interface', checkInterface);
  // Chardev sources and targets, graphics and video are chardev.ts's, graphics.ts's and video.ts's.
  eachDevice<DeviceInfoLike>(ctx, d.smartcards, 'smartcard', infoOnly);
  eachDevice<DeviceInfoLike>(ctx, d.parallels, 'parallel', infoOnly);
  eachDevice<DeviceInfoLike>(ctx, d.serials, 'serial', infoOnly);
  eachDevice<DeviceInfoLike>(ctx, d.consoles, 'console', infoOnly);
  eachDevice<DeviceInfoLike>(ctx, d.channels, 'channel', infoOnly);
  eachDevice(ctx, d.inputs, 'input', (input, at) => {
    checkInput(input, def, at);
    if (usbNone && inputBus(input, def) === 'usb') throw new VirtError('CONFIG_UNSUPPORTED', "Can't add USB input device. USB bus is disabled", at);
  });
  eachDevice(ctx, d.sounds, 'sound', (s, at) => {
    checkSoundCodecs(s, at);
    checkDeviceInfo(s as DeviceInfoLike, at);
  });
  eachDevice(ctx, d.videos, 'video', (v, at) => checkDeviceInfo(v as DeviceInfoLike, at));
  eachDevice(ctx, d.hostdevs, 'hostdev', (h, at) => {
    checkHostdev(h, at);
    if (usbNone && (h.mode ?? 'subsystem') === 'subsystem' && h.type === 'usb') {
      throw new VirtError('CONFIG_UNSUPPORTED', "Can't add host USB device: USB is disabled in this host", at);
    }
  });
  onlyOne(d, 'watchdog', 'INTERNAL_ERROR', 'watchdog device');
  oneDevice(ctx, d.watchdog, 'watchdog', (w, at) => checkDeviceInfo(w as DeviceInfoLike, at));
  onlyOne(d, 'memballoon', 'INTERNAL_ERROR', 'memory balloon device');
  oneDevice(ctx, d.memballoon, 'memballoon', (m, at) => m.model !== 'none' && checkDeviceInfo(m as DeviceInfoLike, at));
  eachDevice(ctx, d.rngs, 'rng', (r, at) => checkDeviceInfo(r as DeviceInfoLike, at));
  eachDevice(ctx, d.tpms, 'tpm', checkTpm);
  onlyOne(d, 'nvram', 'INTERNAL_ERROR', 'nvram device');
  oneDevice(ctx, d.nvram, 'nvram', (n, at) => checkDeviceInfo(n as DeviceInfoLike, at));
  eachDevice(ctx, d.hubs, 'hub', (hub, at) => {
    checkDeviceInfo(hub as DeviceInfoLike, at);
    if (usbNone && hub.type === 'usb') throw new VirtError('CONFIG_UNSUPPORTED', "Can't add USB hub: USB is disabled for this domain", at);
  });
  eachDevice(ctx, d.redirdevs, 'redirdev', (r, at) => checkDeviceInfo(r as DeviceInfoLike, at, { boot: true }));
  eachDevice(ctx, d.panics, 'panic', (p, at) => checkDeviceInfo(p as DeviceInfoLike, at));
  eachDevice(ctx, d.shmems, 'shmem', checkShmem);
  eachDevice(ctx, d.memoryDevices, 'memory', (m, at) => checkDeviceInfo(m as DeviceInfoLike, at));
  onlyOne(d, 'iommu', 'XML_ERROR', 'IOMMU device');
  oneDevice(ctx, d.iommu, 'iommu', (m, at) => checkDeviceInfo(m as DeviceInfoLike, at));
  onlyOne(d, 'vsock', 'XML_ERROR', 'vsock device');
  oneDevice(ctx, d.vsock, 'vsock', (m, at) => checkDeviceInfo(m as DeviceInfoLike, at));
};
