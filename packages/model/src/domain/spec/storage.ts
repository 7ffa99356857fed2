/**
 * Storage and passthrough devices in libvirt 9.0.0's output order
 * (src/conf/domain_conf.c): <disk> (virDomainDiskDefFormat), <controller>
 * (virDomainControllerDefFormat), <lease> (virDomainLeaseDefFormat),
 * <filesystem> (virDomainFSDefFormat), <hostdev> (virDomainHostdevDefFormat),
 * <redirdev> (virDomainRedirdevDefFormat), <redirfilter>
 * (virDomainRedirFilterDefFormat) and <hub> (virDomainHubDefFormat).
 */
import { el, flag, leaf, many, one, raw, textEl } from '../../codec/spec.ts';
import { deviceInfo } from './common.ts';
import {
  authSpec,
  backingStoreSpec,
  deviceSeclabelSpec,
  diskSourceSpec,
  encryptionSpec,
  initiatorSpec,
  metadataCacheSpec,
  mirrorSpec,
  reconnectSpec,
  sourceHostSpec,
} from './storage-source.ts';

/** Attributes virDomainVirtioOptionsFormat appends to a <driver>. */
const virtioOptions = ['iommu', 'ats', 'packed', 'page_per_vq'] as const;

// ---------------------------------------------------------------- <disk>

/** <driver> of a disk (virDomainDiskDefFormatDriver). */
export const diskDriverSpec = el(
  [
    'name',
    'type',
    'cache',
    'error_policy',
    'rerror_policy',
    'io',
    'ioeventfd',
    'event_idx',
    'copy_on_read',
    'discard',
    'iothread',
    'detect_zeroes',
    'queues',
    'queue_size',
    ...virtioOptions,
  ],
  { metadata_cache: one(metadataCacheSpec) },
);

/** <iotune> (virDomainDiskDefFormatIotune). */
export const iotuneSpec = el([], {
  total_bytes_sec: one(leaf),
  read_bytes_sec: one(leaf),
  write_bytes_sec: one(leaf),
  total_iops_sec: one(leaf),
  read_iops_sec: one(leaf),
  write_iops_sec: one(leaf),
  total_bytes_sec_max: one(leaf),
  read_bytes_sec_max: one(leaf),
  write_bytes_sec_max: one(leaf),
  total_iops_sec_max: one(leaf),
  read_iops_sec_max: one(leaf),
  write_iops_sec_max: one(leaf),
  size_iops_sec: one(leaf),
  group_name: one(leaf),
  total_bytes_sec_max_length: one(leaf),
  read_bytes_sec_max_length: one(leaf),
  write_bytes_sec_max_length: one(leaf),
  total_iops_sec_max_length: one(leaf),
  read_iops_sec_max_length: one(leaf),
  write_iops_sec_max_length: one(leaf),
});

/**
 * <disk>. <auth> and <encryption> appear as disk children when they were
 * given there, otherwise inside <source>; privateData and
 * diskSecretsPlacement only in status XML.
 */
export const diskSpec = el(['type', 'device', 'model', 'rawio', 'sgio', 'snapshot'], {
  driver: one(diskDriverSpec),
  auth: one(authSpec),
  source: one(diskSourceSpec),
  backingStore: one(backingStoreSpec),
  backenddomain: one(el(['name'])),
  geometry: one(el(['cyls', 'heads', 'secs', 'trans'])),
  blockio: one(el(['logical_block_size', 'physical_block_size'])),
  mirror: one(mirrorSpec),
  target: one(el(['dev', 'bus', 'tray', 'removable', 'rotation_rate'])),
  iotune: one(iotuneSpec),
  readonly: one(flag),
  shareable: one(flag),
  transient: one(el(['shareBacking'])),
  serial: one(leaf),
  wwn: one(leaf),
  vendor: one(leaf),
  product: one(leaf),
  encryption: one(encryptionSpec),
  ...deviceInfo,
  privateData: one(raw),
  diskSecretsPlacement: one(el(['auth', 'enc'])),
});

// ---------------------------------------------------------------- <controller>

/**
 * <controller>: type-specific attributes in union order (virtio-serial: ports
 * vectors; usb: ports; xenbus: maxGrantFrames maxEventChannels). PCI
 * controllers write <model> and <target> before <driver>, and <pcihole64>
 * after the device info.
 */
export const controllerSpec = el(['type', 'index', 'model', 'ports', 'vectors', 'maxGrantFrames', 'maxEventChannels'], {
  model: one(el(['name']), 'modelName'),
  target: one(el(['chassisNr', 'chassis', 'port', 'busNr', 'index', 'hotplug'], { node: one(leaf) })),
  driver: one(el(['queues', 'cmd_per_lun', 'max_sectors', 'ioeventfd', 'iothread', ...virtioOptions])),
  ...deviceInfo,
  pcihole64: one(textEl(['unit'])),
});

// ---------------------------------------------------------------- <lease>

export const leaseSpec = el([], {
  lockspace: one(leaf),
  key: one(leaf),
  target: one(el(['path', 'offset'])),
});

// ---------------------------------------------------------------- <filesystem>

/**
 * <filesystem>. <source> attributes per type, in union order: mount/bind
 * (dir or socket), block (dev), file (file), template (name), ram (usage
 * units), volume (pool volume).
 */
export const filesystemSpec = el(['type', 'accessmode', 'model', 'multidevs', 'fmode', 'dmode'], {
  driver: one(el(['type', 'format', 'wrpolicy', 'queue', ...virtioOptions])),
  binary: one(
    el(['path', 'xattr'], {
      cache: one(el(['mode'])),
      sandbox: one(el(['mode'])),
      lock: one(el(['posix', 'flock'])),
      thread_pool: one(el(['size'])),
    }),
  ),
  source: one(el(['dir', 'socket', 'dev', 'file', 'name', 'usage', 'units', 'pool', 'volume'])),
  target: one(el(['dir'])),
  readonly: one(flag),
  ...deviceInfo,
  space_hard_limit: one(textEl(['unit'])),
  space_soft_limit: one(textEl(['unit'])),
});

// ---------------------------------------------------------------- <hostdev>

/**
 * <address> inside a hostdev <source>: pci (domain bus slot function; the
 * schema also admits multifunction, which libvirt does not write), usb (bus
 * device), scsi (type bus target unit), mdev (uuid), in union order.
 */
export const hostdevSourceAddressSpec = el(['type', 'domain', 'bus', 'slot', 'function', 'multifunction', 'device', 'target', 'unit', 'uuid']);

/**
 * <source> of a hostdev. Attributes: usb (startupPolicy autoAddress missing
 * guestReset), pci (writeFiltering), scsi iscsi (protocol name), scsi_host
 * (protocol wwpn). Children: usb (vendor product address), pci (address
 * origstates), scsi iscsi (host privateData auth initiator), scsi host
 * (adapter address privateData), mdev (address), capabilities (block, char
 * or interface).
 */
export const hostdevSourceSpec = el(['startupPolicy', 'autoAddress', 'missing', 'guestReset', 'writeFiltering', 'protocol', 'name', 'wwpn'], {
  vendor: one(el(['id'])),
  product: one(el(['id'])),
  adapter: one(el(['name'])),
  address: one(hostdevSourceAddressSpec),
  origstates: one(el([], { unbind: one(flag), removeslot: one(flag), reprobe: one(flag) })),
  host: one(sourceHostSpec),
  privateData: one(raw),
  auth: one(authSpec),
  initiator: one(initiatorSpec),
  block: one(leaf),
  char: one(leaf),
  interface: one(leaf),
});

/**
 * <hostdev>: mode, type, then subsystem attributes (managed; scsi sgio rawio;
 * scsi_host model; mdev model display ramfb). A PCI backend <driver> comes
 * before <source>; capabilities net hostdevs add <ip>/<route> after it.
 */
export const hostdevSpec = el(['mode', 'type', 'managed', 'sgio', 'rawio', 'model', 'display', 'ramfb'], {
  driver: one(el(['name'])),
  source: one(hostdevSourceSpec),
  ip: many(el(['address', 'family', 'prefix', 'peer']), 'ips'),
  route: many(el(['family', 'address', 'netmask', 'prefix', 'gateway', 'metric']), 'routes'),
  teaming: one(el(['type', 'persistent'])),
  readonly: one(flag),
  shareable: one(flag),
  ...deviceInfo,
});

// ---------------------------------------------------------------- <redirdev>

/**
 * <source> of a character device backend (virDomainChrSourceDefFormat), in
 * union order: tcp/udp (mode host service tls tlsFromConfig), unix (mode
 * path), file/dev/pipe/pty (path append), nmdm (master slave), spiceport/dbus
 * (channel). udp writes two <source>s, hence an array.
 */
export const chrSourceSpec = el(['mode', 'host', 'service', 'tls', 'tlsFromConfig', 'path', 'append', 'master', 'slave', 'channel'], {
  seclabel: many(deviceSeclabelSpec, 'seclabels'),
  reconnect: one(reconnectSpec),
  clipboard: one(el(['copypaste'])),
  mouse: one(el(['mode'])),
});

export const redirdevSpec = el(['bus', 'type'], {
  source: many(chrSourceSpec, 'sources'),
  protocol: one(el(['type'])),
  log: one(el(['file', 'append'])),
  ...deviceInfo,
});

// ---------------------------------------------------------------- <redirfilter>, <hub>

export const redirfilterSpec = el([], {
  usbdev: many(el(['class', 'vendor', 'product', 'version', 'allow']), 'usbdevs'),
});

export const hubSpec = el(['type'], { ...deviceInfo });
