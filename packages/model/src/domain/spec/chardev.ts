/**
 * Character devices — <serial>, <parallel>, <console>, <channel> — and
 * <smartcard>, in libvirt 9.0.0's output order (virDomainChrDefFormat,
 * virDomainChrSourceDefFormat, virDomainChrTargetDefFormat,
 * virDomainSmartcardDefFormat).
 */
import { el, leaf, many, one } from '../../codec/spec.ts';
import { acpiSpec, addressSpec, aliasSpec, masterSpec } from './common.ts';

/** A device's <seclabel> (virSecurityDeviceLabelDefFormat). */
export const deviceSeclabelSpec = el(['model', 'labelskip', 'relabel'], {
  label: one(leaf),
});

/** <reconnect> of a tcp or unix source (virDomainChrSourceReconnectDefFormat). */
export const chrReconnectSpec = el(['enabled', 'timeout']);

/**
 * <source> of every chardev type: the union of the attributes in an order
 * that keeps each type's own order — unix: mode path; file/dev/pipe/pty:
 * path append; tcp: mode host service tls tlsFromConfig; udp (up to two
 * sources, bind then connect): mode host service; nmdm: master slave;
 * spiceport and dbus: channel. Children: seclabel (file/dev/pipe/pty/unix),
 * reconnect (tcp/unix), clipboard and mouse (qemu-vdagent).
 */
export const chrSourceSpec = el(['mode', 'path', 'append', 'host', 'service', 'tls', 'tlsFromConfig', 'master', 'slave', 'channel'], {
  seclabel: many(deviceSeclabelSpec, 'seclabels'),
  reconnect: one(chrReconnectSpec),
  clipboard: one(el(['copypaste'])),
  mouse: one(el(['mode'])),
});

/**
 * The content virDomainChrSourceDefFormat writes: <source> (twice for udp),
 * <protocol> (tcp) and <log>.
 */
const chrSourceChildren = {
  source: many(chrSourceSpec, 'sources'),
  protocol: one(el(['type'])),
  log: one(el(['file', 'append'])),
} as const;

/**
 * <target>: channel: type address port (guestfwd) or type name state
 * (virtio, xen); console and serial: type port (serial with a <model>);
 * parallel: port.
 */
export const chrTargetSpec = el(['type', 'address', 'port', 'name', 'state'], {
  model: one(el(['name'])),
});

/** Device info of a chardev or smartcard: neither can boot nor carry a ROM. */
const chrDeviceInfo = {
  alias: one(aliasSpec),
  master: one(masterSpec),
  acpi: one(acpiSpec),
  address: one(addressSpec),
} as const;

/** The shared chardev element (virDomainChrDefFormat); `tty` is the legacy console attribute. */
const chrSpec = el(['type', 'tty'], {
  ...chrSourceChildren,
  target: one(chrTargetSpec),
  ...chrDeviceInfo,
});

export const serialSpec = chrSpec;
export const parallelSpec = chrSpec;
export const consoleSpec = chrSpec;
export const channelSpec = chrSpec;

/**
 * <smartcard mode=… type=…>: host-certificates mode writes three
 * <certificate>s and a <database>; passthrough mode writes a chardev source.
 */
export const smartcardSpec = el(['mode', 'type'], {
  certificate: many(leaf, 'certificates'),
  database: one(leaf),
  ...chrSourceChildren,
  ...chrDeviceInfo,
});
