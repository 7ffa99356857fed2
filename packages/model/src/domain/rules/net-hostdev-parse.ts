/**
 * virDomainNetDefParseXML and virDomainHostdevDefParseXML: the parse-time
 * checks of interfaces (a hostdev interface's subsystem included) and host
 * devices.
 */
import { VirtError } from '../../errors.ts';
import { checkDeviceInfo, checkPCIAddress, type DeviceInfoLike } from './device-info.ts';
import { attrPath, propEnum, propOnOff, propUInt, propYesNo } from './xmlprop.ts';
import type { ParseContext } from './index.ts';
import { parseMacAddress } from './devices.ts';
import { SGIO, STARTUP_POLICIES, VIRTIO_MODELS, checkVirtioOptions, type Item } from './device-parse-shared.ts';

const VIRTIO_NET_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'];

/** Whether an <interface> model is one of the virtio-net models (matched as libvirt does, ignoring case). */
export function isVirtioNet(net: Item<'interfaces'>): boolean {
  const m = net.model?.type?.toLowerCase();
  return m !== undefined && VIRTIO_NET_MODELS.includes(m);
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

/** virDomainNetDefParseXML, in its order (the MAC address with the <mac> type; the driver, backend, link and teaming after the device info). */
export function checkInterface(net: Item<'interfaces'>, at: string, ctx: ParseContext): void {
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
  parseMacAddress(net, `${at}/mac/@address`, ctx);
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

export function checkHostdev(h: Item<'hostdevs'>, at: string): void {
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
