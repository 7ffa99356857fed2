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
import { CONTROLLER_TYPES, checkControllerModel } from './controllers.ts';
import { VIDEO_TYPES } from './video.ts';
import { CHR_TYPES } from './chardev.ts';
import { unitMultiplier } from '../../util/units.ts';
import { indexedDevicePath } from '../../util/device-path.ts';

type Devices = NonNullable<DomainDraft['devices']>;
type Item<K extends keyof Devices> = NonNullable<Devices[K]> extends ReadonlyArray<infer T> ? T : NonNullable<Devices[K]>;

export { CONTROLLER_TYPES };
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
/** The virtio model enums (virDomainDiskModel, virDomainFSModel, virDomainInputModel, virDomainVsockModel, virDomainHostdevSubsysSCSIVHostModel). */
const VIRTIO_MODELS = ['default', 'virtio', 'virtio-transitional', 'virtio-non-transitional'] as const;
/** virDomainSnapshotLocation. */
const SNAPSHOT_LOCATIONS = ['default', 'no', 'internal', 'external', 'manual'] as const;
/** virDomainDeviceSGIO. */
const SGIO = ['default', 'filtered', 'unfiltered'] as const;
/** virDomainStartupPolicy. */
const STARTUP_POLICIES = ['default', 'mandatory', 'requisite', 'optional'] as const;
/** virDomainDiskBus. */
const DISK_BUSES = ['none', 'ide', 'fdc', 'scsi', 'virtio', 'xen', 'usb', 'uml', 'sata', 'sd'] as const;
/** virDomainDiskTray. */
const DISK_TRAYS = ['closed', 'open'] as const;
/** virDomainDiskGeometryTrans. */
const GEOMETRY_TRANS = ['default', 'none', 'auto', 'lba'] as const;
/** virDomainDiskCache. */
const DISK_CACHES = ['default', 'none', 'writethrough', 'writeback', 'directsync', 'unsafe'] as const;
/** virDomainDiskErrorPolicy. */
const DISK_ERROR_POLICIES = ['default', 'stop', 'report', 'ignore', 'enospace'] as const;
/** virDomainDiskIo. */
const DISK_IO = ['default', 'native', 'threads', 'io_uring'] as const;
/** virDomainDiskDiscard. */
const DISK_DISCARDS = ['default', 'unmap', 'ignore'] as const;
/** virDomainDiskDetectZeroes. */
const DISK_DETECT_ZEROES = ['default', 'off', 'on', 'unmap'] as const;
/** virStorageFileFormat (src/conf/storage_source_conf.c); `none` is refused where it is read. */
const STORAGE_FORMATS = ['none', 'raw', 'dir', 'bochs', 'cloop', 'dmg', 'iso', 'vpc', 'vdi', 'fat', 'vhd', 'ploop', 'cow', 'qcow', 'qcow2', 'qed', 'vmdk'] as const;

/** virDomainVirtioOptionsParseXML: the virtio options of a device's <driver>. */
function checkVirtioOptions(d: { iommu?: string; ats?: string; packed?: string; pagePerVq?: string } | undefined, dp: string): void {
  if (!d) return;
  propOnOff(d.iommu, 'iommu', 'driver', dp);
  propOnOff(d.ats, 'ats', 'driver', dp);
  propOnOff(d.packed, 'packed', 'driver', dp);
  propOnOff(d.pagePerVq, 'page_per_vq', 'driver', dp);
}

/** A format read with virStorageFileFormatTypeFromString(...) <= 0 and "unknown driver format value". */
function checkDriverFormat(format: string | undefined, path: string): void {
  if (format === undefined) return;
  if (STORAGE_FORMATS.indexOf(format as (typeof STORAGE_FORMATS)[number]) <= 0) {
    throw new VirtError('CONFIG_UNSUPPORTED', `unknown driver format value '${format}'`, path);
  }
}

/** virStorageNetProtocol, virStorageNetHostTransport, virStorageSourcePoolMode (storage_source_conf.c). */
const NET_PROTOCOLS = ['none', 'nbd', 'rbd', 'sheepdog', 'gluster', 'iscsi', 'http', 'https', 'ftp', 'ftps', 'tftp', 'ssh', 'vxhs', 'nfs'] as const;
const HOST_TRANSPORTS = ['tcp', 'unix', 'rdma'];
const POOL_MODES = ['default', 'host', 'direct'];

type DiskSource = NonNullable<Item<'disks'>['source']>;

/** virDomainStorageSourceParse's enums for a disk's <source> (network, volume and nvme sources). */
function checkDiskSource(src: DiskSource, type: string, sp: string): void {
  if (type === 'network') {
    // virDomainDiskSourceNetworkParse.
    const protocol = propEnum(src.protocol, 'protocol', 'source', sp, NET_PROTOCOLS, { required: true });
    if (src.name === undefined && protocol !== 'nbd') throw new VirtError('XML_ERROR', 'missing name for disk source', sp);
    propYesNo(src.tls, 'tls', 'source', sp);
    if (src.name !== undefined && (protocol === 'gluster' || protocol === 'rbd')) {
      const slash = src.name.indexOf('/');
      if (slash <= 0) throw new VirtError('XML_ERROR', `can't split path '${src.name}' into pool name and image name`, attrPath(sp, 'name'));
    }
    (src.hosts ?? []).forEach((h, k) => {
      if (h.transport !== undefined && !HOST_TRANSPORTS.includes(h.transport)) {
        throw new VirtError('CONFIG_UNSUPPORTED', `unknown protocol transport type '${h.transport}'`, attrPath(`${sp}/host[${k + 1}]`, 'transport'));
      }
    });
    if ((protocol === 'https' || protocol === 'ftps') && src.ssl) propYesNo(src.ssl.verify, 'verify', 'ssl', `${sp}/ssl`);
  } else if (type === 'volume') {
    // virDomainDiskSourcePoolDefParse.
    if (src.pool === undefined && src.volume === undefined) return;
    if (src.pool === undefined || src.volume === undefined) {
      throw new VirtError('XML_ERROR', "'pool' and 'volume' must be specified together for 'pool' type source", sp);
    }
    if (src.mode !== undefined && POOL_MODES.indexOf(src.mode) <= 0) {
      throw new VirtError('CONFIG_UNSUPPORTED', `unknown source mode '${src.mode}' for volume type disk`, attrPath(sp, 'mode'));
    }
  } else if (type === 'nvme') {
    propYesNo(src.managed, 'managed', 'source', sp);
  }
}

/** virDomainDiskDefParseXML's reads, in its order: source type, device, disk attributes, <source>, <target>, <geometry>, <blockio>, <driver>, <transient>. */
function checkDisk(disk: Item<'disks'>, at: string): void {
  const type = propEnum(disk.type, 'type', 'disk', at, DISK_TYPES, { nonzero: true }) ?? 'file';
  if (disk.source) checkDiskSource(disk.source, type, `${at}/source`);
  // virDomainDiskDefParseSourceXML: a disk-level <auth>/<encryption> beside the source's.
  if (disk.auth && disk.source?.auth) throw new VirtError('CONFIG_UNSUPPORTED', 'an <auth> definition already found for disk source', `${at}/auth`);
  if (disk.encryption && disk.source?.encryption) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'an <encryption> definition already found for disk source', `${at}/encryption`);
  }
  propEnum(disk.device, 'device', 'disk', at, DISK_DEVICES);
  propEnum(disk.model, 'model', 'disk', at, VIRTIO_MODELS);
  propEnum(disk.snapshot, 'snapshot', 'disk', at, SNAPSHOT_LOCATIONS, { nonzero: true });
  propYesNo(disk.rawio, 'rawio', 'disk', at);
  propEnum(disk.sgio, 'sgio', 'disk', at, SGIO, { nonzero: true });
  const src = disk.source;
  if (src) propEnum(src.startupPolicy, 'startupPolicy', 'source', `${at}/source`, STARTUP_POLICIES, { nonzero: true });
  const t = disk.target;
  if (t) {
    const tp = `${at}/target`;
    propEnum(t.bus, 'bus', 'target', tp, DISK_BUSES, { nonzero: true });
    propEnum(t.tray, 'tray', 'target', tp, DISK_TRAYS);
    propOnOff(t.removable, 'removable', 'target', tp);
    propUInt(t.rotationRate, 'rotation_rate', 'target', tp);
  }
  const g = disk.geometry;
  if (g) {
    const gp = `${at}/geometry`;
    propUInt(g.cyls, 'cyls', 'geometry', gp);
    propUInt(g.heads, 'heads', 'geometry', gp);
    propUInt(g.secs, 'secs', 'geometry', gp);
    propEnum(g.trans, 'trans', 'geometry', gp, GEOMETRY_TRANS, { nonzero: true });
  }
  if (disk.blockio) {
    const bp = `${at}/blockio`;
    propUInt(disk.blockio.logicalBlockSize, 'logical_block_size', 'blockio', bp);
    propUInt(disk.blockio.physicalBlockSize, 'physical_block_size', 'blockio', bp);
  }
  const d = disk.driver;
  if (d) {
    // virDomainVirtioOptionsParseXML, virDomainDiskDefDriverParseXML, virDomainDiskDefDriverSourceParseXML.
    const dp = `${at}/driver`;
    checkVirtioOptions(d, dp);
    propEnum(d.cache, 'cache', 'driver', dp, DISK_CACHES);
    propEnum(d.errorPolicy, 'error_policy', 'driver', dp, DISK_ERROR_POLICIES, { nonzero: true });
    if (propEnum(d.rerrorPolicy, 'rerror_policy', 'driver', dp, DISK_ERROR_POLICIES, { nonzero: true }) === 'enospace') {
      throw new VirtError('CONFIG_UNSUPPORTED', "Invalid disk read error policy: 'enospace'", attrPath(dp, 'rerror_policy'));
    }
    propEnum(d.io, 'io', 'driver', dp, DISK_IO, { nonzero: true });
    propOnOff(d.ioeventfd, 'ioeventfd', 'driver', dp);
    propOnOff(d.eventIdx, 'event_idx', 'driver', dp);
    propOnOff(d.copyOnRead, 'copy_on_read', 'driver', dp);
    propEnum(d.discard, 'discard', 'driver', dp, DISK_DISCARDS, { nonzero: true });
    propUInt(d.iothread, 'iothread', 'driver', dp, { nonzero: true });
    propEnum(d.detectZeroes, 'detect_zeroes', 'driver', dp, DISK_DETECT_ZEROES, { nonzero: true });
    propUInt(d.queues, 'queues', 'driver', dp);
    propUInt(d.queueSize, 'queue_size', 'driver', dp);
    // Xen's `aio` is read as raw.
    if (d.type !== 'aio') checkDriverFormat(d.type, attrPath(dp, 'type'));
  }
  if (disk.transient) propYesNo(disk.transient.shareBacking, 'shareBacking', 'transient', `${at}/transient`);
  // libvirt reads a disk without <source> as a file disk with no media.
  if (!disk.source) disk.type = 'file';
  checkDeviceInfo(disk as DeviceInfoLike, at, { boot: true });
}

/** virDomainControllerPCIModelName. */
const PCI_MODEL_NAMES = ['none', 'pci-bridge', 'i82801b11-bridge', 'ioh3420', 'x3130-upstream', 'xio3130-downstream', 'pxb', 'pxb-pcie', 'pcie-root-port', 'spapr-pci-host-bridge', 'pcie-pci-bridge'] as const;

function checkController(c: Item<'controllers'>, at: string): void {
  const type = propEnum(c.type, 'type', 'controller', at, CONTROLLER_TYPES) ?? 'ide';
  checkControllerModel(type, c.model, at);
  propInt(c.index, 'index', 'controller', at, { nonnegative: true });
  if (c.driver) {
    const d = `${at}/driver`;
    propUInt(c.driver.queues, 'queues', 'driver', d);
    propUInt(c.driver.cmdPerLun, 'cmd_per_lun', 'driver', d);
    propUInt(c.driver.maxSectors, 'max_sectors', 'driver', d);
    propOnOff(c.driver.ioeventfd, 'ioeventfd', 'driver', d);
    propUInt(c.driver.iothread, 'iothread', 'driver', d);
    checkVirtioOptions(c.driver, d);
  }
  if (extraChildren(c, 'model') > 0) throw new VirtError('XML_ERROR', 'Multiple <model> elements in controller definition not allowed', `${at}/model[2]`);
  if (c.modelName && type === 'pci') propEnum(c.modelName.name, 'name', 'model', `${at}/model`, PCI_MODEL_NAMES);
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

/** virDomainNet, virNetDevMacVLanMode, virDomainNetVhostuserMode, virNetDevVPort, virDomainNetMacType, virDomainNetDriver, virDomainNetVirtioTxMode, virDomainNetInterfaceLinkState, virDomainNetTeaming. */
const NET_TYPES = ['user', 'ethernet', 'vhostuser', 'server', 'client', 'mcast', 'network', 'bridge', 'internal', 'direct', 'hostdev', 'udp', 'vdpa', 'null', 'vds'] as const;
const MACVLAN_MODES = ['vepa', 'private', 'bridge', 'passthrough'] as const;
const VHOSTUSER_MODES = ['', 'client', 'server'] as const;
const VPORT_TYPES = ['none', '802.1Qbg', '802.1Qbh', 'openvswitch', 'midonet'];
const MAC_TYPES = ['', 'generated', 'static'] as const;
const NET_DRIVERS = ['default', 'qemu', 'vhost'] as const;
const NET_TX_MODES = ['default', 'iothread', 'timer'] as const;
const LINK_STATES = ['default', 'up', 'down'];
const TEAMING_TYPES = ['none', 'persistent', 'transient'];
/** virDomainNetProto. */
const NET_PROTOS = ['none', 'tcp', 'udp'] as const;
/** virDomainHostdevSubsys, virDomainHostdevSubsysPCIBackend. */
const HOSTDEV_SUBSYS_TYPES = ['usb', 'pci', 'scsi', 'scsi_host', 'mdev'];
const PCI_BACKENDS = ['default', 'kvm', 'vfio', 'xen'] as const;
/** The interface types whose <virtualport> libvirt reads, and whether its type is then required. */
const VPORT_TYPE_REQUIRED: Record<string, boolean> = { network: false, bridge: true, direct: true, hostdev: true };

/** A reconnect element (virDomainChrSourceReconnectDefParseXML). */
function checkReconnect(r: { enabled?: string; timeout?: string } | undefined, rp: string): void {
  if (!r) return;
  propYesNo(r.enabled, 'enabled', 'reconnect', rp);
}

/** virDomainNetDefParseXML, in its order (the driver, backend, link and teaming after the device info). */
function checkInterface(net: Item<'interfaces'>, at: string): void {
  // virXMLPropEnumDefault(..., VIR_DOMAIN_NET_TYPE_USER): an interface without a type is a user one.
  net.type = propEnum(net.type, 'type', 'interface', at, NET_TYPES) ?? 'user';
  propYesNo(net.trustGuestRxFilters, 'trustGuestRxFilters', 'interface', at);
  const src = net.source;
  const sp = `${at}/source`;
  if (src && net.type === 'direct') propEnum(src.mode, 'mode', 'source', sp, MACVLAN_MODES);
  if (src && net.type === 'vhostuser') {
    const t = src.type;
    if (t === undefined) throw new VirtError('XML_ERROR', "Missing required attribute 'type' in element 'source'", attrPath(sp, 'type'));
    if (t !== 'unix') throw new VirtError('CONFIG_UNSUPPORTED', `Type='${t}' unsupported for <interface type='vhostuser'>`, attrPath(sp, 'type'));
    if (src.path === undefined) throw new VirtError('XML_ERROR', "Missing required attribute 'path' in element 'source'", attrPath(sp, 'path'));
    propEnum(src.mode, 'mode', 'source', sp, VHOSTUSER_MODES, { required: true, nonzero: true });
    checkReconnect(src.reconnect, `${sp}/reconnect`);
  }
  if (net.type === 'hostdev') checkNetHostdev(net, at);
  const vp = net.virtualport;
  if (vp) {
    const required = VPORT_TYPE_REQUIRED[net.type];
    if (required === undefined) {
      throw new VirtError('CONFIG_UNSUPPORTED', `<virtualport> element unsupported for <interface type='${net.type}'>`, `${at}/virtualport`);
    }
    // virNetDevVPortProfileParse: the type is optional for a network interface.
    if (vp.type !== undefined && VPORT_TYPES.indexOf(vp.type) <= 0) {
      throw new VirtError('CONFIG_UNSUPPORTED', `unknown virtualport type ${vp.type}`, attrPath(`${at}/virtualport`, 'type'));
    }
    if (vp.type === undefined && required) throw new VirtError('XML_ERROR', 'missing required virtualport type', `${at}/virtualport`);
  }
  if (net.target) propYesNo(net.target.managed, 'managed', 'target', `${at}/target`);
  if (net.mac) {
    propEnum(net.mac.type, 'type', 'mac', `${at}/mac`, MAC_TYPES, { nonzero: true });
    propYesNo(net.mac.check, 'check', 'mac', `${at}/mac`);
  }
  checkDeviceInfo(net as DeviceInfoLike, at, { boot: true, rom: true });
  // virDomainNetPortForwardDefParseXML.
  (net.portForwards ?? []).forEach((pf, k) => {
    const pp = `${at}/portForward[${k + 1}]`;
    propEnum(pf.proto, 'proto', 'portForward', pp, NET_PROTOS, { required: true, nonzero: true });
    (pf.ranges ?? []).forEach((r, j) => propYesNo(r.exclude, 'exclude', 'range', `${pp}/range[${j + 1}]`));
  });
  const d = net.driver;
  // Not virtio as written (a driver may make it virtio later, as qemu does a vdpa
  // interface): libvirt does not read these, and never writes them back.
  if (d && net.type !== 'hostdev' && !isVirtioNet(net)) for (const k of VIRTIO_NET_DRIVER_KEYS) delete (d as Record<string, unknown>)[k];
  const dp = `${at}/driver`;
  checkVirtioOptions(d, dp);
  if (d && net.type !== 'hostdev' && isVirtioNet(net)) {
    propEnum(d.name, 'name', 'driver', dp, NET_DRIVERS, { nonzero: true });
    propEnum(d.txmode, 'txmode', 'driver', dp, NET_TX_MODES, { nonzero: true });
    propOnOff(d.ioeventfd, 'ioeventfd', 'driver', dp);
    propOnOff(d.eventIdx, 'event_idx', 'driver', dp);
    propUInt(d.queues, 'queues', 'driver', dp);
    propUInt(d.rxQueueSize, 'rx_queue_size', 'driver', dp);
    propUInt(d.txQueueSize, 'tx_queue_size', 'driver', dp);
    propOnOff(d.rss, 'rss', 'driver', dp);
    propOnOff(d.rssHashReport, 'rss_hash_report', 'driver', dp);
    if (d.host) for (const [k, attr] of [['csum', 'csum'], ['gso', 'gso'], ['tso4', 'tso4'], ['tso6', 'tso6'], ['ecn', 'ecn'], ['ufo', 'ufo'], ['mrgRxbuf', 'mrg_rxbuf']] as const) {
      propOnOff(d.host[k], attr, 'host', `${dp}/host`);
    }
    if (d.guest) for (const k of ['csum', 'tso4', 'tso6', 'ecn', 'ufo'] as const) propOnOff(d.guest[k], k, 'guest', `${dp}/guest`);
  }
  const backend = net.backend?.type;
  // Debian's libvirt 9.0.0 (Disable-passt-support.patch) rejects 'passt',
  // leaving no accepted value: 'default' is the enum's zero.
  if (backend !== undefined) {
    throw new VirtError('XML_ERROR', `Invalid value for attribute 'type' in element 'backend': '${backend}'.`, attrPath(`${at}/backend`, 'type'));
  }
  // Read with virXPathString: an empty state is no state.
  const link = net.link?.state;
  if (link !== undefined && link !== '' && LINK_STATES.indexOf(link) <= 0) {
    throw new VirtError('CONFIG_UNSUPPORTED', `unknown interface link state '${link}'`, attrPath(`${at}/link`, 'state'));
  }
  const team = net.teaming;
  if (team && ((team.type ?? '') !== '' || (team.persistent ?? '') !== '')) {
    const t = team.type === '' ? undefined : team.type;
    if (t === undefined || TEAMING_TYPES.indexOf(t) <= 0) {
      throw new VirtError('CONFIG_UNSUPPORTED', `unknown teaming type '${t ?? '(null)'}'`, attrPath(`${at}/teaming`, 'type'));
    }
  }
}

/**
 * virDomainHostdevDefParseXMLSubsys for an <interface type='hostdev'>: the
 * address type from <source><address> (a <vendor> means usb), and a PCI
 * device's backend <driver name>, whose 'default' is refused.
 */
function checkNetHostdev(net: Item<'interfaces'>, at: string): void {
  const src = net.source;
  const type = src?.hostdevAddress?.type ?? (src?.vendor ? 'usb' : undefined);
  if (type === undefined) throw new VirtError('XML_ERROR', 'missing source address type', `${at}/source/address/@type`);
  if (!HOSTDEV_SUBSYS_TYPES.includes(type)) {
    throw new VirtError('CONFIG_UNSUPPORTED', `unknown host device source address type '${type}'`, `${at}/source/address/@type`);
  }
  if (!src) throw new VirtError('XML_ERROR', 'Missing <source> element in hostdev device', `${at}/source`);
  if (type === 'pci') {
    propYesNo(src.writeFiltering, 'writeFiltering', 'source', `${at}/source`);
    propEnum(net.driver?.name, 'name', 'driver', `${at}/driver`, PCI_BACKENDS, { nonzero: true });
  }
}

/** virDomainHostdevSubsysUSBGuestReset. */
const USB_GUEST_RESETS = ['default', 'off', 'uninitialized', 'on'] as const;
/** virDomainHostdevSubsysSCSIProtocol, virDomainHostdevSubsysSCSIHostProtocol, virDomainHostdevCaps. */
const SCSI_PROTOCOLS = ['adapter', 'iscsi'];
const SCSI_HOST_PROTOCOLS = ['none', 'vhost'];
const HOSTDEV_CAPS_TYPES = ['storage', 'misc', 'net'];

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
    if (propEnum(h.sgio, 'sgio', 'hostdev', at, SGIO, { nonzero: true }) !== undefined && type !== 'scsi') {
      throw new VirtError('XML_ERROR', 'sgio is only supported for scsi host device', attrPath(at, 'sgio'));
    }
    if (propYesNo(h.rawio, 'rawio', 'hostdev', at) !== undefined && type !== 'scsi') {
      throw new VirtError('XML_ERROR', 'rawio is only supported for scsi host device', attrPath(at, 'rawio'));
    }
    if (type !== 'mdev' && type !== 'scsi_host' && h.model !== undefined) {
      throw new VirtError('XML_ERROR', `'model' attribute in <hostdev> is only supported when type='${type}'`, attrPath(at, 'model'));
    }
    const sp = `${at}/source`;
    if (type === 'scsi_host') propEnum(h.model, 'model', 'hostdev', at, VIRTIO_MODELS);
    if (type === 'mdev') {
      propEnum(h.model, 'model', 'hostdev', at, ['vfio-pci', 'vfio-ccw', 'vfio-ap'], { required: true });
      propOnOff(h.display, 'display', 'hostdev', at);
      propOnOff(h.ramfb, 'ramfb', 'hostdev', at);
      if (!src.address) throw new VirtError('CONFIG_UNSUPPORTED', 'Missing <address> element', `${sp}/address`);
      if (src.address.uuid === undefined) throw new VirtError('CONFIG_UNSUPPORTED', "Missing 'uuid' attribute for element <address>", `${sp}/address`);
    }
    if (type === 'scsi' && src.protocol !== undefined && !SCSI_PROTOCOLS.includes(src.protocol)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `Unknown SCSI subsystem protocol '${src.protocol}'`, attrPath(sp, 'protocol'));
    }
    if (type === 'scsi_host') {
      if (src.protocol === undefined) throw new VirtError('XML_ERROR', 'Missing scsi_host subsystem protocol', sp);
      if (SCSI_HOST_PROTOCOLS.indexOf(src.protocol) <= 0) {
        throw new VirtError('CONFIG_UNSUPPORTED', `Unknown scsi_host subsystem protocol '${src.protocol}'`, attrPath(sp, 'protocol'));
      }
    }
    if (type === 'pci') {
      propYesNo(src.writeFiltering, 'writeFiltering', 'source', sp);
      if (src.address) checkPCIAddress(src.address, `${sp}/address`, 'address');
      propEnum(h.driver?.name, 'name', 'driver', `${at}/driver`, PCI_BACKENDS, { nonzero: true });
    }
    if (type === 'usb') {
      propEnum(src.startupPolicy, 'startupPolicy', 'source', sp, STARTUP_POLICIES, { nonzero: true });
      propYesNo(src.autoAddress, 'autoAddress', 'source', sp);
      propEnum(src.guestReset, 'guestReset', 'source', sp, USB_GUEST_RESETS, { nonzero: true });
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
  } else {
    // virDomainHostdevDefParseXMLCaps.
    if (h.type === undefined) throw new VirtError('XML_ERROR', 'missing source address type', attrPath(at, 'type'));
    if (!HOSTDEV_CAPS_TYPES.includes(h.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown host device source address type '${h.type}'`, attrPath(at, 'type'));
    if (!h.source) throw new VirtError('XML_ERROR', 'Missing <source> element in hostdev device', `${at}/source`);
  }
  checkDeviceInfo(h as DeviceInfoLike, at, { boot: true, rom: true });
}

/** virDomainTPMModel, virDomainTPMBackend, virDomainTPMVersion. */
const TPM_MODELS = ['default', 'tpm-tis', 'tpm-crb', 'tpm-spapr', 'spapr-tpm-proxy'] as const;
const TPM_BACKENDS = ['passthrough', 'emulator', 'external'] as const;
const TPM_VERSIONS = ['default', '1.2', '2.0'] as const;

function checkTpm(tpm: Item<'tpms'>, at: string): void {
  propEnum(tpm.model, 'model', 'tpm', at, TPM_MODELS, { nonzero: true });
  if (extraChildren(tpm, 'backend') > 0) throw new VirtError('XML_ERROR', 'only one TPM backend is supported', `${at}/backend[2]`);
  if (!tpm.backend) throw new VirtError('XML_ERROR', 'missing TPM device backend', `${at}/backend`);
  const bp = `${at}/backend`;
  const type = propEnum(tpm.backend.type, 'type', 'backend', bp, TPM_BACKENDS, { required: true });
  if (type === 'emulator') {
    propEnum(tpm.backend.version, 'version', 'backend', bp, TPM_VERSIONS, { nonzero: true });
    const ps = tpm.backend.persistentState;
    if (ps !== undefined && ps !== 'yes' && ps !== 'no') {
      throw new VirtError('INTERNAL_ERROR', "Invalid persistent_state value, either 'yes' or 'no'", attrPath(bp, 'persistent_state'));
    }
    // virDomainTPMPcrBank: the model keeps the banks it knows; another element is an unknown bank.
    const other = tpm.backend.activePcrBanks?.$unknown?.children?.[0];
    if (other) throw new VirtError('CONFIG_UNSUPPORTED', `Unsupported PCR banks '${other.node.name}'`, `${bp}/active_pcr_banks/${other.node.name}`);
  }
  if (type === 'external') {
    const st = tpm.backend.source?.type;
    if (!st) throw new VirtError('XML_ERROR', 'missing external TPM backend type', `${bp}/source`);
    if (!CHR_TYPES.includes(st)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown backend type '${st}' for external TPM`, `${bp}/source/@type`);
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

/** virDomainFS, virDomainFSAccessMode, virDomainFSMultidevs, virDomainFSDriver, virDomainFSWrpolicy, virDomainFSCacheMode, virDomainFSSandboxMode. */
const FS_TYPES = ['mount', 'block', 'file', 'template', 'ram', 'bind', 'volume'] as const;
const FS_ACCESS_MODES = ['', 'passthrough', 'mapped', 'squash'] as const;
const FS_MULTIDEVS = ['default', 'remap', 'forbid', 'warn'] as const;
const FS_DRIVERS = ['default', 'path', 'handle', 'loop', 'nbd', 'ploop', 'virtiofs'] as const;
const FS_WRPOLICIES = ['default', 'immediate'] as const;
const FS_CACHE_MODES = ['default', 'none', 'always'] as const;
const FS_SANDBOX_MODES = ['default', 'namespace', 'chroot'] as const;

/** An fmode/dmode: octal, at most 0777 (virDomainFSDefParseXML). */
function fsMode(value: string | undefined, attr: 'fmode' | 'dmode', at: string): void {
  const n = propUInt(value, attr, 'filesystem', at, { base: 8 });
  if (n !== undefined && n > 0o777) throw new VirtError('XML_ERROR', `invalid ${attr}: '0${n.toString(8)}'`, attrPath(at, attr));
}

/** virDomainFSDefParseXML, in its order: attributes, <driver>, the virtiofs <binary>, then the source. */
function checkFilesystem(fs: Item<'filesystems'>, at: string): void {
  const type = propEnum(fs.type, 'type', 'filesystem', at, FS_TYPES) ?? 'mount';
  propEnum(fs.accessmode, 'accessmode', 'filesystem', at, FS_ACCESS_MODES);
  fsMode(fs.fmode, 'fmode', at);
  fsMode(fs.dmode, 'dmode', at);
  propEnum(fs.model, 'model', 'filesystem', at, VIRTIO_MODELS, { nonzero: true });
  propEnum(fs.multidevs, 'multidevs', 'filesystem', at, FS_MULTIDEVS);
  const d = fs.driver;
  let driver: string | undefined;
  if (d) {
    const dp = `${at}/driver`;
    driver = propEnum(d.type, 'type', 'driver', dp, FS_DRIVERS);
    propEnum(d.wrpolicy, 'wrpolicy', 'driver', dp, FS_WRPOLICIES);
    checkDriverFormat(d.format, attrPath(dp, 'format'));
    checkVirtioOptions(d, dp);
  }
  const b = fs.binary;
  if (driver === 'virtiofs' && b) {
    const bp = `${at}/binary`;
    propOnOff(b.xattr, 'xattr', 'binary', bp);
    if (b.lock) propOnOff(b.lock.posix, 'posix', 'lock', `${bp}/lock`);
    if (b.lock) propOnOff(b.lock.flock, 'flock', 'lock', `${bp}/lock`);
    if (b.cache) propEnum(b.cache.mode, 'mode', 'cache', `${bp}/cache`, FS_CACHE_MODES, { nonzero: true });
    if (b.sandbox) propEnum(b.sandbox.mode, 'mode', 'sandbox', `${bp}/sandbox`, FS_SANDBOX_MODES, { nonzero: true });
  }
  if (fsSourcePath(fs) === undefined && type !== 'ram' && type !== 'volume' && fs.source?.socket === undefined) {
    throw new VirtError('NO_SOURCE', fs.target?.dir || undefined, `${at}/source`);
  }
  checkDeviceInfo(fs as DeviceInfoLike, at, { boot: true });
}

const INPUT_TYPES = ['mouse', 'tablet', 'keyboard', 'passthrough', 'evdev'];
const INPUT_BUSES = ['ps2', 'usb', 'xen', 'parallels', 'virtio', 'none'];
const INPUT_MODELS: readonly string[] = VIRTIO_MODELS;
/** virDomainInputSourceGrab, virDomainInputSourceGrabToggle. */
const INPUT_GRABS = ['default', 'all'] as const;
const INPUT_GRAB_TOGGLES = ['default', 'ctrl-ctrl', 'alt-alt', 'shift-shift', 'meta-meta', 'scrolllock', 'ctrl-scrolllock'] as const;

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
  if (src && input.type === 'evdev') {
    const sp = `${at}/source`;
    propEnum(src.grab, 'grab', 'source', sp, INPUT_GRABS, { nonzero: true });
    propEnum(src.grabToggle, 'grabToggle', 'source', sp, INPUT_GRAB_TOGGLES, { nonzero: true });
    propOnOff(src.repeat, 'repeat', 'source', sp);
  }
  checkVirtioOptions(input.driver, `${at}/driver`);
}

/** 1 MiB: the smallest shared memory QEMU maps, and libvirt's unit for writing the size. */
const SHMEM_MIN_BYTES = 1n << 20n;

const SOUND_CODECS = ['duplex', 'micro', 'output'];
/** virDomainSoundModel. */
const SOUND_MODELS = ['sb16', 'es1370', 'pcspk', 'ac97', 'ich6', 'ich9', 'usb', 'ich7'] as const;

/**
 * virDomainSoundDefParseXML: the model (required), then
 * virDomainSoundCodecDefParseXML for the models whose <codec>s libvirt reads
 * (ich6, ich9): a codec type it does not know, or none, is refused at parse
 * time, before the QEMU validation that names the codec's device.
 */
function checkSoundCodecs(s: Item<'sounds'>, at: string): void {
  propEnum(s.model, 'model', 'sound', at, SOUND_MODELS, { required: true });
  if (s.model !== 'ich6' && s.model !== 'ich9') return;
  (s.codecs ?? []).forEach((c, i) => {
    if (c.type === undefined || !SOUND_CODECS.includes(c.type)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `unknown codec type '${c.type ?? '(null)'}'`, attrPath(`${at}/codec[${i + 1}]`, 'type'));
    }
  });
}

function checkShmem(s: Item<'shmems'>, at: string): void {
  const model = s.model ? propEnum(s.model.type, 'type', 'model', `${at}/model`, SHMEM_MODELS) : undefined;
  if (s.name === undefined) throw new VirtError('XML_ERROR', "shmem element must contain 'name' attribute", at);
  if ((model ?? 'ivshmem') !== 'ivshmem') propEnum(s.role, 'role', 'shmem', at, SHMEM_ROLES, { nonzero: true });
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

/** virDomainVideoBackend, virDomainVideoVGAConf. */
const VIDEO_BACKENDS = ['default', 'qemu', 'vhostuser'] as const;
const VIDEO_VGACONFS = ['io', 'on', 'off'] as const;

/** virDomainVideoDefParseXML: <acceleration>, the <driver>'s backend and virtio options, the model type, the device info, then vgaconf. */
function checkVideo(v: Item<'videos'>, at: string): void {
  const accel = v.model?.acceleration;
  if (accel) {
    const ap = `${at}/model/acceleration`;
    propYesNo(accel.accel3d, 'accel3d', 'acceleration', ap);
    propYesNo(accel.accel2d, 'accel2d', 'acceleration', ap);
  }
  const d = v.driver;
  if (d) {
    propEnum(d.name, 'name', 'driver', `${at}/driver`, VIDEO_BACKENDS, { nonzero: true });
    checkVirtioOptions(d, `${at}/driver`);
  }
  const type = v.model?.type;
  if (type !== undefined && !VIDEO_TYPES.includes(type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown video model '${type}'`, `${at}/model/@type`);
  checkDeviceInfo(v as DeviceInfoLike, at);
  // virDomainVideoDriverDefParseXML's error is ignored by its caller: an unknown
  // vgaconf is no error, and libvirt keeps no vgaconf to write back.
  if (d?.vgaconf !== undefined && !(VIDEO_VGACONFS as readonly string[]).includes(d.vgaconf)) delete d.vgaconf;
}

/** virDomainWatchdogModel, virDomainWatchdogAction. */
const WATCHDOG_MODELS = ['i6300esb', 'ib700', 'diag288'];
const WATCHDOG_ACTIONS = ['reset', 'shutdown', 'poweroff', 'pause', 'dump', 'none', 'inject-nmi'];

/** virDomainWatchdogDefParseXML. */
function checkWatchdog(w: Item<'watchdog'>, at: string): void {
  if (w.model === undefined) throw new VirtError('INTERNAL_ERROR', 'watchdog must contain model name', attrPath(at, 'model'));
  if (!WATCHDOG_MODELS.includes(w.model)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown watchdog model '${w.model}'`, attrPath(at, 'model'));
  if (w.action !== undefined && !WATCHDOG_ACTIONS.includes(w.action)) {
    throw new VirtError('CONFIG_UNSUPPORTED', `unknown watchdog action '${w.action}'`, attrPath(at, 'action'));
  }
  checkDeviceInfo(w as DeviceInfoLike, at);
}

/** virDomainMemballoonModel. */
const MEMBALLOON_MODELS = ['virtio', 'xen', 'none', 'virtio-transitional', 'virtio-non-transitional'] as const;

/** virDomainMemballoonDefParseXML. */
function checkMemballoon(m: Item<'memballoon'>, at: string): void {
  const model = propEnum(m.model, 'model', 'memballoon', at, MEMBALLOON_MODELS, { required: true });
  propOnOff(m.autodeflate, 'autodeflate', 'memballoon', at);
  propOnOff(m.freePageReporting, 'freePageReporting', 'memballoon', at);
  if (model !== 'none') checkDeviceInfo(m as DeviceInfoLike, at);
  checkVirtioOptions(m.driver, `${at}/driver`);
}

/** virDomainRNGModel, virDomainRNGBackend. */
const RNG_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'];
const RNG_BACKENDS = ['random', 'egd', 'builtin'];

/** virDomainRNGDefParseXML: model, then the one backend's model (its chardev source is chardev.ts's). */
function checkRng(r: Item<'rngs'>, at: string): void {
  if (r.model === undefined) throw new VirtError('XML_ERROR', 'missing RNG device model', attrPath(at, 'model'));
  if (!RNG_MODELS.includes(r.model)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown RNG model '${r.model}'`, attrPath(at, 'model'));
  const b = r.backend;
  if (!b || Array.isArray(b) || extraChildren(r, 'backend') > 0) throw new VirtError('XML_ERROR', 'only one RNG backend is supported', `${at}/backend`);
  if (b.model === undefined) throw new VirtError('XML_ERROR', 'missing RNG device backend model', attrPath(`${at}/backend`, 'model'));
  if (!RNG_BACKENDS.includes(b.model)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown RNG backend model '${b.model}'`, attrPath(`${at}/backend`, 'model'));
  checkDeviceInfo(r as DeviceInfoLike, at);
  checkVirtioOptions(r.driver, `${at}/driver`);
}

/** virDomainSmartcard. */
const SMARTCARD_MODES = ['host', 'host-certificates', 'passthrough'] as const;
/** virDomainPanicModel. */
const PANIC_MODELS = ['default', 'isa', 'pseries', 'hyperv', 's390'];
/** virDomainShmemModel, virDomainShmemRole. */
const SHMEM_MODELS = ['ivshmem', 'ivshmem-plain', 'ivshmem-doorbell'] as const;
const SHMEM_ROLES = ['default', 'master', 'peer'] as const;
/** virDomainMemoryModel, virDomainMemoryAccess (numa_conf.c). */
const MEMORY_MODELS = ['', 'dimm', 'nvdimm', 'virtio-pmem', 'virtio-mem', 'sgx-epc'] as const;
const MEMORY_ACCESS = ['default', 'shared', 'private'] as const;
/** virDomainIOMMUModel. */
const IOMMU_MODELS = ['intel', 'smmuv3', 'virtio'] as const;

/** virDomainPanicDefParseXML: the device info first, then the model. */
function checkPanic(p: Item<'panics'>, at: string): void {
  checkDeviceInfo(p as DeviceInfoLike, at);
  if (p.model !== undefined && !PANIC_MODELS.includes(p.model)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown panic model '${p.model}'`, attrPath(at, 'model'));
}

/** virDomainMemoryDefParseXML: model (required, not ''), access, discard. */
function checkMemoryDevice(m: Item<'memoryDevices'>, at: string): void {
  propEnum(m.model, 'model', 'memory', at, MEMORY_MODELS, { required: true, nonzero: true });
  propEnum(m.access, 'access', 'memory', at, MEMORY_ACCESS, { nonzero: true });
  propYesNo(m.discard, 'discard', 'memory', at);
  checkDeviceInfo(m as DeviceInfoLike, at);
}

/** virDomainIOMMUDefParseXML. */
function checkIommu(m: Item<'iommu'>, at: string): void {
  propEnum(m.model, 'model', 'iommu', at, IOMMU_MODELS, { required: true });
  const d = m.driver;
  if (d) {
    const dp = `${at}/driver`;
    propOnOff(d.intremap, 'intremap', 'driver', dp);
    propOnOff(d.cachingMode, 'caching_mode', 'driver', dp);
    propOnOff(d.iotlb, 'iotlb', 'driver', dp);
    propOnOff(d.eim, 'eim', 'driver', dp);
    propUInt(d.awBits, 'aw_bits', 'driver', dp);
  }
  checkDeviceInfo(m as DeviceInfoLike, at);
}

/** virDomainVsockDefParseXML. */
function checkVsock(v: Item<'vsock'>, at: string): void {
  propEnum(v.model, 'model', 'vsock', at, VIRTIO_MODELS);
  if (v.cid) {
    propUInt(v.cid.address, 'address', 'cid', `${at}/cid`, { nonzero: true });
    propYesNo(v.cid.auto, 'auto', 'cid', `${at}/cid`);
  }
  checkDeviceInfo(v as DeviceInfoLike, at);
  checkVirtioOptions(v.driver, `${at}/driver`);
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
  eachDevice(ctx, d.smartcards, 'smartcard', (sc, at) => {
    propEnum(sc.mode, 'mode', 'smartcard', at, SMARTCARD_MODES, { required: true });
    checkDeviceInfo(sc as DeviceInfoLike, at);
  });
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
  eachDevice(ctx, d.videos, 'video', checkVideo);
  eachDevice(ctx, d.hostdevs, 'hostdev', (h, at) => {
    checkHostdev(h, at);
    if (usbNone && (h.mode ?? 'subsystem') === 'subsystem' && h.type === 'usb') {
      throw new VirtError('CONFIG_UNSUPPORTED', "Can't add host USB device: USB is disabled in this host", at);
    }
  });
  onlyOne(d, 'watchdog', 'INTERNAL_ERROR', 'watchdog device');
  oneDevice(ctx, d.watchdog, 'watchdog', checkWatchdog);
  onlyOne(d, 'memballoon', 'INTERNAL_ERROR', 'memory balloon device');
  oneDevice(ctx, d.memballoon, 'memballoon', checkMemballoon);
  eachDevice(ctx, d.rngs, 'rng', checkRng);
  eachDevice(ctx, d.tpms, 'tpm', checkTpm);
  onlyOne(d, 'nvram', 'INTERNAL_ERROR', 'nvram device');
  oneDevice(ctx, d.nvram, 'nvram', (n, at) => checkDeviceInfo(n as DeviceInfoLike, at));
  eachDevice(ctx, d.hubs, 'hub', (hub, at) => {
    // virDomainHubDefParseXML: virDomainHubType has 'usb' only.
    if (hub.type === undefined) throw new VirtError('INTERNAL_ERROR', 'missing hub device type', attrPath(at, 'type'));
    if (hub.type !== 'usb') throw new VirtError('CONFIG_UNSUPPORTED', `unknown hub device type '${hub.type}'`, attrPath(at, 'type'));
    checkDeviceInfo(hub as DeviceInfoLike, at);
    if (usbNone && hub.type === 'usb') throw new VirtError('CONFIG_UNSUPPORTED', "Can't add USB hub: USB is disabled for this domain", at);
  });
  eachDevice(ctx, d.redirdevs, 'redirdev', (r, at) => {
    if (r.bus !== undefined && r.bus !== 'usb') throw new VirtError('CONFIG_UNSUPPORTED', `unknown redirdev bus '${r.bus}'`, attrPath(at, 'bus'));
    checkDeviceInfo(r as DeviceInfoLike, at, { boot: true });
  });
  eachDevice(ctx, d.panics, 'panic', checkPanic);
  eachDevice(ctx, d.shmems, 'shmem', checkShmem);
  eachDevice(ctx, d.memoryDevices, 'memory', checkMemoryDevice);
  onlyOne(d, 'iommu', 'XML_ERROR', 'IOMMU device');
  oneDevice(ctx, d.iommu, 'iommu', checkIommu);
  onlyOne(d, 'vsock', 'XML_ERROR', 'vsock device');
  oneDevice(ctx, d.vsock, 'vsock', checkVsock);
};
