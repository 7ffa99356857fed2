/**
 * virDomainDiskDefParseXML with its storage source (virDomainStorageSourceParse),
 * and virDomainFSDefParseXML: the parse-time checks of disks and filesystems.
 */
import { VirtError } from '../../errors.ts';
import { checkDeviceInfo, type DeviceInfoLike } from './device-info.ts';
import { attrPath, propEnum, propOnOff, propUInt, propYesNo } from './xmlprop.ts';
import { SGIO, STARTUP_POLICIES, VIRTIO_MODELS, checkDriverFormat, checkVirtioOptions, type Item } from './device-parse-shared.ts';

/** virStorageType (none is refused) and virDomainDiskDevice, as virDomainDiskDefParseXML reads them (type first). */
const DISK_TYPES = ['none', 'file', 'block', 'dir', 'network', 'volume', 'nvme', 'vhostuser'] as const;
const DISK_DEVICES = ['disk', 'cdrom', 'floppy', 'lun'] as const;
/** virDomainSnapshotLocation. */
const SNAPSHOT_LOCATIONS = ['default', 'no', 'internal', 'external', 'manual'] as const;
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
export function checkDisk(disk: Item<'disks'>, at: string): void {
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
export function checkFilesystem(fs: Item<'filesystems'>, at: string): void {
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
