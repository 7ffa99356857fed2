/**
 * <interface> in libvirt 9.0.0's output order (virDomainNetDefFormat,
 * virDomainActualNetDefContentsFormat and the netdev_*_conf.c helpers:
 * virNetDevVlanFormat, virNetDevVPortProfileFormat, virNetDevBandwidthFormat,
 * virNetworkPortOptionsFormat, virNetDevIPRouteFormat,
 * virNWFilterFormatParamAttributes).
 */
import { el, flag, leaf, many, one } from '../../codec/spec.ts';
import { deviceInfo } from './common.ts';

/** <ip> of the host side (in <source>) or the guest side (in <interface>). */
export const netIpSpec = el(['address', 'family', 'prefix', 'peer']);
/** <route> (virNetDevIPRouteFormat). */
export const netRouteSpec = el(['family', 'address', 'netmask', 'prefix', 'gateway', 'metric']);

/** <reconnect> of a unix socket (virDomainChrSourceReconnectDefFormat). */
export const reconnectSpec = el(['enabled', 'timeout']);

/** <vlan> (virNetDevVlanFormat). */
export const vlanSpec = el(['trunk'], {
  tag: many(el(['id', 'nativeMode']), 'tags'),
});

/**
 * <virtualport> (virNetDevVPortProfileFormat). <parameters> attributes by
 * type: 802.1Qbg managerid typeid typeidversion instanceid; openvswitch and
 * midonet interfaceid (+ profileid); 802.1Qbh profileid; untyped: all.
 */
export const virtualPortSpec = el(['type'], {
  parameters: one(el(['managerid', 'typeid', 'typeidversion', 'instanceid', 'interfaceid', 'profileid'])),
});

const bandwidthRateSpec = el(['average', 'peak', 'floor', 'burst']);
/** <bandwidth> (virNetDevBandwidthFormat; a domain interface has no classID). */
export const bandwidthSpec = el([], {
  inbound: one(bandwidthRateSpec),
  outbound: one(bandwidthRateSpec),
});

/** <port isolated=…/> (virNetworkPortOptionsFormat). */
export const portOptionsSpec = el(['isolated']);

/** <address> inside a hostdev interface's <source>: pci (domain bus slot function) or usb (bus device). */
const hostdevSourceAddressSpec = el(['type', 'domain', 'bus', 'slot', 'function', 'device']);

/**
 * <source> of every interface type: the union of the attributes in an order
 * that keeps each type's own order — network: network portgroup portid
 * bridge macTableManager (or dev mode when the actual type is direct);
 * vds: switchid portid portgroupid connectionid; vhostuser: type path mode;
 * direct: dev mode; bridge: bridge; udp/mcast/server/client: address port;
 * internal: name; vdpa and user (passt): dev; hostdev (virDomainHostdevDefFormatSubsys):
 * writeFiltering (pci) or startupPolicy autoAddress missing guestReset (usb).
 * Children: <local> (udp), <reconnect> (vhostuser), hostdev's
 * vendor/product/address/origstates, then the host-side ip and route.
 */
export const netSourceSpec = el(
  [
    'type',
    'path',
    'network',
    'portgroup',
    'switchid',
    'portid',
    'portgroupid',
    'connectionid',
    'bridge',
    'macTableManager',
    'dev',
    'mode',
    'address',
    'port',
    'name',
    'writeFiltering',
    'startupPolicy',
    'autoAddress',
    'missing',
    'guestReset',
  ],
  {
    local: one(el(['address', 'port'])),
    reconnect: one(reconnectSpec),
    vendor: one(el(['id'])),
    product: one(el(['id'])),
    // keyed apart from the `address` attribute of udp/mcast/server/client sources
    address: one(hostdevSourceAddressSpec, 'hostdevAddress'),
    origstates: one(el([], { unbind: one(flag), removeslot: one(flag), reprobe: one(flag) })),
    ip: many(netIpSpec, 'ips'),
    route: many(netRouteSpec, 'routes'),
  },
);

/**
 * <driver> of an interface. A virtio model's driver (virDomainVirtioNetDriverFormat
 * + virDomainVirtioOptionsFormat, with <host> and <guest> offload children);
 * a hostdev interface's <driver name='vfio'/> uses only `name`.
 */
export const netDriverSpec = el(
  ['name', 'txmode', 'ioeventfd', 'event_idx', 'queues', 'rx_queue_size', 'tx_queue_size', 'rss', 'rss_hash_report', 'iommu', 'ats', 'packed', 'page_per_vq'],
  {
    host: one(el(['csum', 'gso', 'tso4', 'tso6', 'ecn', 'ufo', 'mrg_rxbuf'])),
    guest: one(el(['csum', 'tso4', 'tso6', 'ecn', 'ufo'])),
  },
);

/**
 * <actual> (status XML only: virDomainActualNetDefFormat). A hostdev actual
 * type writes its <driver name='vfio'/> before <source>.
 */
export const actualNetSpec = el(['type', 'managed', 'trustGuestRxFilters'], {
  driver: one(netDriverSpec),
  source: one(netSourceSpec),
  class: one(el(['id'])),
  vlan: one(vlanSpec),
  virtualport: one(virtualPortSpec),
  bandwidth: one(bandwidthSpec),
  port: one(portOptionsSpec),
});

/** <portForward> (virDomainNetPortForwardsFormat, passt backend). */
export const portForwardSpec = el(['proto', 'address', 'dev'], {
  range: many(el(['start', 'end', 'to', 'exclude']), 'ranges'),
});

/** <filterref> with its <parameter>s (virNWFilterFormatParamAttributes). */
export const filterrefSpec = el(['filter'], {
  parameter: many(el(['name', 'value']), 'parameters'),
});

/**
 * <interface>. Children follow virDomainNetDefFormat: mac, source, vlan,
 * virtualport, bandwidth, port, actual (status only), guest-side ip and
 * route, portForward, script, downscript, backenddomain, target, guest,
 * model, driver, backend, filterref, tune, teaming, link, mtu, coalesce and
 * the device info (boot, alias, master, rom, acpi, address).
 *
 * Known limit: a hostdev interface's <driver name='vfio'/> is written by
 * libvirt before <source>, a virtio driver after <model>; one element name
 * has one position in a spec, so the hostdev form is re-encoded after <model>.
 */
export const interfaceSpec = el(['type', 'managed', 'trustGuestRxFilters'], {
  mac: one(el(['address', 'type', 'check'])),
  source: one(netSourceSpec),
  vlan: one(vlanSpec),
  virtualport: one(virtualPortSpec),
  bandwidth: one(bandwidthSpec),
  port: one(portOptionsSpec),
  actual: one(actualNetSpec),
  ip: many(netIpSpec, 'ips'),
  route: many(netRouteSpec, 'routes'),
  portForward: many(portForwardSpec, 'portForwards'),
  script: one(el(['path'])),
  downscript: one(el(['path'])),
  backenddomain: one(el(['name'])),
  target: one(el(['dev', 'managed'])),
  guest: one(el(['dev', 'actual'])),
  model: one(el(['type'])),
  driver: one(netDriverSpec),
  backend: one(el(['type', 'tap', 'vhost', 'logFile'])),
  filterref: one(filterrefSpec),
  tune: one(el([], { sndbuf: one(leaf) })),
  teaming: one(el(['type', 'persistent'])),
  link: one(el(['state'])),
  mtu: one(el(['size'])),
  coalesce: one(el([], { rx: one(el([], { frames: one(el(['max'])) })) })),
  ...deviceInfo,
});
