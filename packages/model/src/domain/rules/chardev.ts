/**
 * The four chr devices (<serial>, <parallel>, <console>, <channel>) as
 * libvirt's generic layer reads them (virDomainChrDefParseXML): type,
 * <target> (virDomainChrTargetDefFormat's form) and the chardev source; the
 * ports set at parse time. The rest of their story lives beside this file:
 * chardev-source.ts (the shared source), chardev-ports.ts (post-parse
 * ports), chardev-console.ts (console/serial back-compat),
 * chardev-other-sources.ts (the source of a smartcard, redirdev or egd rng)
 * and chardev-source-validate.ts (virDomainChrSourceDefValidate).
 */
import { VirtError } from '../../errors.ts';
import type { DomainDraft } from '../types.ts';
import { deviceList, devicePath, parseUInt32 } from './generic-helpers.ts';
import type { ParseContext } from './index.ts';
import { propEnum } from './xmlprop.ts';
import { CHR_TYPES, normaliseSource, type SourceHolder } from './chardev-source.ts';

/** virDomainChrDeviceState. */
const CHR_DEVICE_STATES = ['default', 'connected', 'disconnected'] as const;
/** Target types by device kind, in libvirt's enum order (the index is the enum value). */
const TARGET_TYPES: Record<ChrKind, readonly string[]> = {
  serial: ['none', 'isa-serial', 'usb-serial', 'pci-serial', 'spapr-vio-serial', 'system-serial', 'sclp-serial', 'isa-debug'],
  channel: ['none', 'guestfwd', 'virtio', 'xen'],
  console: ['none', 'serial', 'xen', 'uml', 'virtio', 'lxc', 'openvz', 'sclp', 'sclplm'],
  parallel: [],
};
const SERIAL_TARGET_MODELS = ['none', 'isa-serial', 'usb-serial', 'pci-serial', 'spapr-vty', 'pl011', 'sclpconsole', 'sclplmconsole', '16550a', 'isa-debugcon'];

export type ChrKind = 'serial' | 'parallel' | 'console' | 'channel';
/** Device kinds with their draft array key, in the order libvirt's device iterator visits them. */
export const CHR_KINDS: ReadonlyArray<readonly [ChrKind, string]> = [
  ['serial', 'serials'],
  ['parallel', 'parallels'],
  ['channel', 'channels'],
  ['console', 'consoles'],
];

interface Target {
  type?: string;
  address?: string;
  port?: string;
  name?: string;
  state?: string;
  model?: { name?: string };
}
export interface Chr extends SourceHolder {
  tty?: string;
  target?: Target;
  address?: { type?: string; controller?: string };
  alias?: unknown;
}

/** virStrToLong_ui as libvirt reads a chr target port into an int: '-1' wraps back to -1 ("not set"). */
function targetPort(t: Target, path: string): number {
  if (t.port === undefined) return -1;
  if (!/^\s*[+-]?\d+$/.test(t.port)) throw new VirtError('XML_ERROR', `Invalid port number: ${t.port}`, `${path}/target/@port`);
  let n = Number(t.port.trim());
  if (n < 0) n += 2 ** 32;
  if (n < 0 || n > 0xffffffff) throw new VirtError('XML_ERROR', `Invalid port number: ${t.port}`, `${path}/target/@port`);
  return n > 0x7fffffff ? n - 2 ** 32 : n;
}

/** Dotted-quad IPv4 in canonical form, or undefined. */
function ipv4(s: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts.join('.') : undefined;
}

/**
 * Parse-time reading of one chr device (virDomainChrDefParseXML); the port
 * stays -1 ("unset") until post-parse. Returns that port. `info` reads the
 * device info where libvirt does: after the source, before the usb-serial
 * address check.
 */
function parseChr(c: Chr, kind: ChrKind, path: string, ctx: ParseContext, info: () => void): number {
  c.type ??= 'pty';
  if (!CHR_TYPES.includes(c.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown type presented to host for character device: ${c.type}`, `${path}/@type`);
  const t = c.target;
  let port = -1;
  let targetType: string;
  if (t?.type !== undefined && kind !== 'parallel') {
    if (!TARGET_TYPES[kind].includes(t.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown target type '${t.type}' specified for character device`, `${path}/target/@type`);
    targetType = t.type;
  } else if (kind === 'channel') {
    throw new VirtError('XML_ERROR', 'target type must be specified for channel device', t ? `${path}/target` : path);
  } else targetType = 'none';
  const model = t?.model?.name;
  if (model !== undefined && kind === 'serial' && !SERIAL_TARGET_MODELS.includes(model)) {
    throw new VirtError('CONFIG_UNSUPPORTED', `unknown target model '${model}' specified for character device`, `${path}/target/model/@name`);
  }
  const nt: Target = {};
  if (kind === 'channel') {
    nt.type = targetType;
    if (targetType === 'guestfwd') {
      if (t!.address === undefined) throw new VirtError('XML_ERROR', 'guestfwd channel does not define a target address', `${path}/target`);
      const addr = ipv4(t!.address);
      if (addr === undefined) {
        if (t!.address.includes(':')) throw new VirtError('CONFIG_UNSUPPORTED', 'guestfwd channel only supports IPv4 addresses', `${path}/target/@address`);
        throw new VirtError('XML_ERROR', `Cannot parse socket address '${t!.address}'`, `${path}/target/@address`);
      }
      if (t!.port === undefined) throw new VirtError('XML_ERROR', "Missing required attribute 'port' in element 'target'", `${path}/target/@port`);
      const p = parseUInt32(t!.port);
      if (p === undefined) throw new VirtError('XML_ERROR', `Invalid value for attribute 'port' in element 'target': '${t!.port}'. Expected non-negative integer value`, `${path}/target/@port`);
      nt.address = addr;
      nt.port = String(p & 0xffff);
    } else if (targetType === 'virtio' || targetType === 'xen') {
      if (t!.name !== undefined) nt.name = t!.name;
      // virDomainChrDeviceState, read from live XML only.
      if (targetType === 'virtio' && !ctx.inactive && t!.state !== undefined) nt.state = propEnum(t!.state, 'state', 'target', `${path}/target`, CHR_DEVICE_STATES, { nonzero: true });
    }
  } else {
    port = t ? targetPort(t, path) : -1;
    if (kind !== 'parallel') nt.type = targetType;
    if (kind === 'serial' && model !== undefined && model !== 'none') nt.model = { name: model };
  }
  c.target = nt;
  normaliseSource(c, path, ctx, true);
  if (c.type === 'spicevmc') {
    // libvirt compares the target type's enum value with the channel's 'virtio' (2), whatever the device kind.
    if (TARGET_TYPES[kind].indexOf(targetType) !== 2) throw new VirtError('CONFIG_UNSUPPORTED', 'spicevmc device type only supports virtio', path);
  }
  info();
  if (kind === 'serial' && targetType === 'usb-serial' && c.address?.type !== undefined && c.address.type !== 'usb') {
    throw new VirtError('CONFIG_UNSUPPORTED', 'usb-serial requires address of usb type', `${path}/address/@type`);
  }
  if (ctx.inactive) delete c.tty;
  return port;
}

/**
 * The chr devices of one kind, each as virDomainChrDefParseXML reads it:
 * source and target, `info` on its device info, then the usb-serial check.
 * Ports of parallels and consoles are set at parse time, other ports are
 * left unset ('-1') for chardevPorts, which runs after the driver's device
 * callbacks as libvirt's virDomainChrDefPostParse does.
 */
export function parseChardevs(def: DomainDraft, ctx: ParseContext, kind: ChrKind, info: (c: Chr, path: string) => void): void {
  const list = deviceList<Chr>(def, `${kind}s`);
  const ports: number[] = [];
  list.forEach((c, i) => {
    const path = devicePath(ctx, kind, i);
    let port = parseChr(c, kind, path, ctx, () => info(c, path));
    if (!ctx.deviceOnly && kind === 'parallel' && port === -1) port = 1 + Math.max(-1, ...ports);
    if (!ctx.deviceOnly && kind === 'console') port = i;
    ports.push(port);
    if (kind !== 'channel') c.target!.port = String(port);
  });
}
