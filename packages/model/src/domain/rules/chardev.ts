/**
 * Character devices as libvirt's generic layer reads, fills and checks them:
 * the shared chardev source (virDomainChrSourceDefParseXML and
 * virDomainChrSourceDefFormat) of <serial>, <parallel>, <console>,
 * <channel>, <smartcard mode='passthrough'>, <redirdev> and an egd <rng>
 * backend; the <target> of the four chr devices (virDomainChrDefParseXML,
 * virDomainChrTargetDefFormat); their ports (parse time, the ISA-serial pass
 * virDomainChrIsaSerialDefPostParse and virDomainChrDefPostParse); the
 * console/serial back-compat (virDomainDefAddConsoleCompat and the console
 * formatter) and the source checks of virDomainChrSourceDefValidate.
 */
import { isDraft } from 'immer';
import { deepClone } from '../../util/clone.ts';
import { VirtError } from '../../errors.ts';
import type { Unknown } from '../../codec/spec.ts';
import type { DomainDraft } from '../types.ts';
import { deviceList, devicePath, parseUInt32 } from './generic-helpers.ts';
import type { ParseContext, ParseRule } from './index.ts';
import { propEnum, propYesNo } from './xmlprop.ts';
import { MOUSE_MODES } from './graphics.ts';

/** virDomainChr, in enum order. */
export const CHR_TYPES: readonly string[] = ['null', 'vc', 'pty', 'dev', 'file', 'pipe', 'stdio', 'udp', 'tcp', 'unix', 'spicevmc', 'spiceport', 'nmdm', 'qemu-vdagent', 'dbus'];
/** virDomainChrDeviceState. */
const CHR_DEVICE_STATES = ['default', 'connected', 'disconnected'] as const;
const TCP_PROTOCOLS = ['raw', 'telnet', 'telnets', 'tls'];
/** Target types by device kind, in libvirt's enum order (the index is the enum value). */
const TARGET_TYPES: Record<ChrKind, readonly string[]> = {
  serial: ['none', 'isa-serial', 'usb-serial', 'pci-serial', 'spapr-vio-serial', 'system-serial', 'sclp-serial', 'isa-debug'],
  channel: ['none', 'guestfwd', 'virtio', 'xen'],
  console: ['none', 'serial', 'xen', 'uml', 'virtio', 'lxc', 'openvz', 'sclp', 'sclplm'],
  parallel: [],
};
const SERIAL_TARGET_MODELS = ['none', 'isa-serial', 'usb-serial', 'pci-serial', 'spapr-vty', 'pl011', 'sclpconsole', 'sclplmconsole', '16550a', 'isa-debugcon'];
const CHANNEL_NAME_CHARS = /^[a-zA-Z0-9_.-]*$/;
const MAX_ISA_SERIAL_PORTS = 4;

export type ChrKind = 'serial' | 'parallel' | 'console' | 'channel';
/** Device kinds with their draft array key, in the order libvirt's device iterator visits them. */
const CHR_KINDS: ReadonlyArray<readonly [ChrKind, string]> = [
  ['serial', 'serials'],
  ['parallel', 'parallels'],
  ['channel', 'channels'],
  ['console', 'consoles'],
];

interface Reconnect {
  enabled?: string;
  timeout?: string;
}
interface Source {
  mode?: string;
  path?: string;
  append?: string;
  host?: string;
  service?: string;
  tls?: string;
  tlsFromConfig?: string;
  master?: string;
  slave?: string;
  channel?: string;
  seclabels?: unknown[];
  reconnect?: Reconnect;
  clipboard?: unknown;
  mouse?: unknown;
  $unknown?: Unknown;
}
/** What carries a chardev source: its type, <source>s, <protocol> and <log>. */
interface SourceHolder {
  type?: string;
  sources?: Source[];
  protocol?: { type?: string };
  log?: { file?: string; append?: string };
  $unknown?: Unknown;
}
interface Target {
  type?: string;
  address?: string;
  port?: string;
  name?: string;
  state?: string;
  model?: { name?: string };
}
interface Chr extends SourceHolder {
  tty?: string;
  target?: Target;
  address?: { type?: string; controller?: string };
  alias?: unknown;
}

function invalidAttr(attr: string, el: string, value: string, path: string): VirtError {
  return new VirtError('XML_ERROR', `Invalid value for attribute '${attr}' in element '${el}': '${value}'.`, path);
}

/** A tristate attribute (yes/no or on/off): absent stays absent, anything else is an error. */
function tristate(holder: Record<string, unknown>, attr: string, el: string, values: readonly [string, string], path: string): void {
  const v = holder[attr];
  if (v === undefined) return;
  if (!values.includes(v as string)) throw invalidAttr(attr, el, v as string, `${path}/@${attr}`);
}

/** `mode` of a source: connect (the default) or bind. */
function sourceMode(s: Source, path: string): 'connect' | 'bind' {
  if (s.mode === undefined) return 'connect';
  if (s.mode !== 'connect' && s.mode !== 'bind') throw invalidAttr('mode', 'source', s.mode, `${path}/@mode`);
  return s.mode;
}

/** virDomainChrSourceReconnectDefParseXML + its formatter: enabled, and a timeout only when enabled. */
function reconnect(s: Source, path: string): void {
  const r = s.reconnect;
  if (!r) return;
  const rpath = `${path}/reconnect`;
  tristate(r as Record<string, unknown>, 'enabled', 'reconnect', ['yes', 'no'], rpath);
  if (r.enabled === 'yes') {
    if (r.timeout === undefined) throw new VirtError('XML_ERROR', "Missing required attribute 'timeout' in element 'reconnect'", `${rpath}/@timeout`);
    const t = parseUInt32(r.timeout);
    if (t === undefined) throw new VirtError('XML_ERROR', `Invalid value for attribute 'timeout' in element 'reconnect': '${r.timeout}'. Expected non-negative integer value`, `${rpath}/@timeout`);
    s.reconnect = { enabled: 'yes', timeout: String(t) };
  } else if (r.enabled === 'no') s.reconnect = { enabled: 'no' };
  else delete s.reconnect;
}

/** Keeps only `keys` of a source (and what the model does not know), dropping what libvirt ignores for its type. */
function pick(s: Source, keys: readonly (keyof Source)[]): Source {
  const out: Source = {};
  for (const k of keys) if (s[k] !== undefined) (out as Record<string, unknown>)[k] = s[k];
  if (s.$unknown) out.$unknown = s.$unknown;
  return out;
}

/**
 * virDomainChrSourceDefParseXML then virDomainChrSourceDefFormat on one
 * holder: after this the holder's <source>, <protocol> and <log> are what
 * libvirt writes back. `chr` says whether it is a chr device (whose
 * <source> may carry a <seclabel>).
 */
function normaliseSource(h: SourceHolder, path: string, ctx: ParseContext, chr: boolean): void {
  const type = h.type!;
  const sources = h.sources ?? [];
  if (sources.length > 1 && type !== 'udp') throw new VirtError('XML_ERROR', 'only one source element is allowed for character device', `${path}/source[2]`);
  if (sources.length > 2) throw new VirtError('XML_ERROR', 'only two source elements are allowed for character device', `${path}/source[3]`);
  const extra = h.$unknown?.children ?? [];
  if (extra.some((c) => c.node.name === 'log')) throw new VirtError('XML_ERROR', 'only one log element is allowed for character device', `${path}/log[2]`);
  if (extra.some((c) => c.node.name === 'protocol')) throw new VirtError('XML_ERROR', 'only one protocol element is allowed for character device', `${path}/protocol[2]`);
  const spath = `${path}/source[1]`;
  const s = sources[0];
  const seclabels: (keyof Source)[] = chr ? ['seclabels'] : [];
  let out: Source[] = [];
  switch (type) {
    case 'file':
      if (s) {
        tristate(s as Record<string, unknown>, 'append', 'source', ['on', 'off'], spath);
        out = [pick(s, ['path', 'append', ...seclabels])];
      }
      break;
    case 'pty':
      // A pty's path is live data: an inactive definition neither reads nor writes it.
      if (s && !ctx.inactive) out = [pick(s, ['path', ...seclabels])];
      break;
    case 'dev':
    case 'pipe':
      if (s) out = [pick(s, ['path', ...seclabels])];
      break;
    case 'unix':
      if (s) {
        const mode = sourceMode(s, spath);
        reconnect(s, spath);
        if (s.path !== undefined) out = [{ ...pick(s, ['path', ...seclabels, 'reconnect']), mode }];
      }
      break;
    case 'udp': {
      let bind: Source | undefined;
      let connect: Source | undefined;
      sources.forEach((src, k) => {
        const mode = sourceMode(src, `${path}/source[${k + 1}]`);
        if (mode === 'connect' && !connect?.host && !connect?.service) connect = pick(src, ['host', 'service']);
        else if (mode === 'bind' && !bind?.host && !bind?.service) bind = pick(src, ['host', 'service']);
      });
      if (bind && (bind.host !== undefined || bind.service !== undefined)) out.push({ ...bind, mode: 'bind' });
      if (connect && (connect.host !== undefined || connect.service !== undefined)) out.push({ ...connect, mode: 'connect' });
      break;
    }
    case 'tcp': {
      const src = s ?? {};
      const mode = sourceMode(src, spath);
      tristate(src as Record<string, unknown>, 'tls', 'source', ['yes', 'no'], spath);
      reconnect(src, spath);
      out = [{ ...pick(src, ['host', 'service', 'tls', 'reconnect']), mode }];
      if (!ctx.inactive && src.tlsFromConfig !== undefined) out[0]!.tlsFromConfig = src.tlsFromConfig;
      break;
    }
    case 'spiceport':
    case 'dbus':
      if (s?.channel !== undefined) out = [pick(s, ['channel'])];
      break;
    case 'nmdm':
      if (s && (s.master !== undefined || s.slave !== undefined)) out = [pick(s, ['master', 'slave'])];
      break;
    case 'qemu-vdagent':
      // virDomainChrSourceDefParseQemuVdagent.
      if (s?.clipboard) propYesNo((s.clipboard as { copypaste?: string }).copypaste, 'copypaste', 'clipboard', `${spath}/clipboard`, { required: true });
      if (s?.mouse) propEnum((s.mouse as { mode?: string }).mode, 'mode', 'mouse', `${spath}/mouse`, MOUSE_MODES, { required: true, nonzero: true });
      if (s && (s.clipboard !== undefined || s.mouse !== undefined)) out = [pick(s, ['clipboard', 'mouse'])];
      break;
    default:
      break;
  }
  if (out.length) h.sources = out;
  else delete h.sources;
  // <protocol> is read and written for tcp only; raw is its default.
  if (type === 'tcp') {
    const proto = h.protocol?.type;
    if (proto !== undefined && !TCP_PROTOCOLS.includes(proto)) throw new VirtError('CONFIG_UNSUPPORTED', `Unknown protocol '${proto}'`, `${path}/protocol/@type`);
    h.protocol = { ...(h.protocol ?? {}), type: proto ?? 'raw' };
  } else delete h.protocol;
  if (h.log) {
    tristate(h.log as Record<string, unknown>, 'append', 'log', ['on', 'off'], `${path}/log`);
    if (h.log.file === undefined) delete h.log;
  }
}

function missingSourceAttr(what: string, path: string): VirtError {
  return new VirtError('INTERNAL_ERROR', `Missing source ${what} attribute for char device`, `${path}/source`);
}

/** virDomainChrSourceDefValidate. `virtioOrXenChannel`: a unix channel whose path libvirt can generate. */
function validateSource(h: SourceHolder, path: string, virtioOrXenChannel: boolean): void {
  const s = h.sources?.[0];
  switch (h.type) {
    case 'file':
    case 'dev':
    case 'pipe':
      if (s?.path === undefined) throw missingSourceAttr('path', path);
      break;
    case 'nmdm':
      if ((s?.master === undefined) !== (s?.slave === undefined)) throw new VirtError('INTERNAL_ERROR', 'Should define both master and slave path attributes for nmdm device', `${path}/source`);
      break;
    case 'tcp':
      if (s?.host === undefined) throw missingSourceAttr('host', path);
      if (s.service === undefined) throw missingSourceAttr('service', path);
      if (s.mode === 'bind' && s.reconnect) throw new VirtError('INTERNAL_ERROR', 'chardev reconnect is possible only for connect mode', `${path}/source/reconnect`);
      break;
    case 'udp':
      if (h.sources?.find((x) => x.mode === 'connect')?.service === undefined) throw missingSourceAttr('service', path);
      break;
    case 'unix':
      if (s?.path === undefined && !virtioOrXenChannel) throw missingSourceAttr('path', path);
      if (s?.mode === 'bind' && s.reconnect) throw new VirtError('INTERNAL_ERROR', 'chardev reconnect is possible only for connect mode', `${path}/source/reconnect`);
      break;
    case 'spiceport':
    case 'dbus':
      if (s?.channel === undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'Missing source channel attribute for char device', `${path}/source`);
      if (!CHANNEL_NAME_CHARS.test(s.channel)) throw new VirtError('INVALID_ARG', 'Invalid character in source channel for char device', `${path}/source/@channel`);
      break;
    default:
      break;
  }
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

const X86 = ['i686', 'x86_64'];

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

/**
 * virDomainChrIsaSerialDefPostParse then virDomainChrDefPostParse: ISA serial
 * ports, a console without target type becomes 'serial', isa-debug only on
 * x86, and every port still unset takes (highest port of its kind) + 1.
 */
export const chardevPorts: ParseRule = (def, ctx) => {
  const lists = new Map<ChrKind, Chr[]>();
  const ports = new Map<Chr, number>();
  for (const [kind, key] of CHR_KINDS) {
    const list = deviceList<Chr>(def, key);
    lists.set(kind, list);
    for (const c of list) ports.set(c, c.target?.port === undefined ? -1 : Number(c.target.port));
  }
  if (!ctx.deviceOnly) isaSerialPorts(lists.get('serial')!, ports);
  const arch = def.os?.type?.arch;
  for (const [kind] of CHR_KINDS) {
    const list = lists.get(kind)!;
    if (list.length === 0) continue;
    list.forEach((c, i) => {
      const path = devicePath(ctx, kind, i);
      c.target ??= {};
      if (kind === 'console' && (c.target.type === 'none' || c.target.type === undefined)) c.target.type = 'serial';
      if (kind === 'serial' && c.target.type === 'isa-debug' && arch !== undefined && !X86.includes(arch)) {
        throw new VirtError('CONFIG_UNSUPPORTED', 'isa-debug serial type only valid on x86 architecture', `${path}/target/@type`);
      }
      if (kind !== 'channel' && ports.get(c) === -1) ports.set(c, 1 + Math.max(-1, ...list.map((p) => ports.get(p)!)));
    });
  }
  for (const [kind] of CHR_KINDS) {
    if (kind === 'channel') continue;
    for (const c of lists.get(kind)!) {
      c.target!.port = String(ports.get(c));
      // A serial's target type is written only when set.
      if (kind === 'serial' && c.target!.type === 'none') delete c.target!.type;
    }
  }
};

/** virDomainChrIsaSerialDefPostParse: explicit isa-serial targets take the lowest free of the four ISA ports. */
function isaSerialPorts(serials: Chr[], ports: Map<Chr, number>): void {
  const isa = serials.filter((c) => c.target!.type === 'isa-serial');
  const used = new Set<number>();
  isa.forEach((c, k) => {
    const port = ports.get(c)!;
    const path = `/domain/devices/serial[${serials.indexOf(c) + 1}]/target/@port`;
    if (k >= MAX_ISA_SERIAL_PORTS || port >= MAX_ISA_SERIAL_PORTS) {
      throw new VirtError('INTERNAL_ERROR', `Maximum supported number of ISA serial ports is '${MAX_ISA_SERIAL_PORTS}'`, path);
    }
    if (port !== -1) {
      if (used.has(port)) throw new VirtError('INTERNAL_ERROR', `target port '${port}' already allocated`, path);
      used.add(port);
    }
  });
  for (const c of isa) {
    if (ports.get(c) !== -1) continue;
    let p = 0;
    while (used.has(p)) p++;
    used.add(p);
    ports.set(c, p);
  }
}

/**
 * deepClone's copy, made directly for plain data (objects, arrays, primitives)
 * — structuredClone's serialisation was a visible cost of every hvm domain
 * with a serial — keeping shared references shared as structuredClone does;
 * anything else (an immer draft, another kind of object) goes to deepClone.
 */
function clone<T>(v: T): T {
  if (isDraft(v)) return deepClone(v);
  const out = plainCopy(v, new Map());
  return out === NOT_PLAIN ? deepClone(v) : (out as T);
}

const NOT_PLAIN = Symbol('not plain data');

function plainCopy(v: unknown, seen: Map<object, unknown>): unknown {
  if (v === null || typeof v !== 'object') return v;
  const known = seen.get(v);
  if (known !== undefined) return known;
  if (isDraft(v)) return NOT_PLAIN;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    seen.set(v, out);
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) continue;
      const c = plainCopy(v[i], seen);
      if (c === NOT_PLAIN) return NOT_PLAIN;
      out[i] = c;
    }
    return out;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return NOT_PLAIN;
  const out: Record<string, unknown> = {};
  seen.set(v, out);
  for (const k in v) {
    const c = plainCopy((v as Record<string, unknown>)[k], seen);
    if (c === NOT_PLAIN) return NOT_PLAIN;
    out[k] = c;
  }
  return out;
}

/** The console libvirt writes in place of a serial-aliasing console: the serial itself, relabelled. */
function consoleFromSerial(serial: Chr): Chr {
  const c = clone(serial);
  c.target = { type: 'serial', port: serial.target!.port! };
  return c;
}

/**
 * virDomainDefAddConsoleCompat and the console formatter. In an hvm domain
 * the first console of target type serial is an alias of the first serial:
 * it becomes that serial when there is none, is replaced when its source
 * differs, and a domain with a serial gets such a console. The model keeps
 * what libvirt writes: the aliasing console is a copy of the serial.
 */
export const consoleCompat: ParseRule = (def) => {
  const consoles = deviceList<Chr>(def, 'consoles');
  const j = consoles.findIndex((c, k) => k > 0 && c.target?.type === 'serial');
  if (j > 0) throw new VirtError('CONFIG_UNSUPPORTED', 'Only the first console can be a serial port', `/domain/devices/console[${j + 1}]/target/@type`);
  if (def.os?.type?.text !== 'hvm') return;
  const devices = (def.devices ??= {}) as Record<string, unknown>;
  const serials = deviceList<Chr>(def, 'serials');
  const first = consoles[0];
  if (first && (first.target?.type === 'serial' || first.target?.type === 'none')) {
    if (serials.length === 0) {
      const serial = clone(first);
      serial.target = { port: '0' };
      serials.push(serial);
      devices['serials'] = serials;
    }
    // Whether libvirt keeps the console (same source as the serial) or replaces it
    // with a stub, it writes the serial's copy.
    consoles[0] = consoleFromSerial(serials[0]!);
  } else if (serials.length > 0 && ['isa-serial', 'spapr-vio-serial', 'system-serial', 'sclp-serial', 'none', undefined].includes(serials[0]!.target?.type)) {
    consoles.unshift(consoleFromSerial(serials[0]!));
    devices['consoles'] = consoles;
    // The shifted consoles keep their parse-time port in libvirt's output (they
    // take their new position only when libvirt next reads it).
  }
};

/** A passthrough smartcard's chardev source (virDomainSmartcardDefParseXML). */
export function parseSmartcardSource(sc: SourceHolder & { mode?: string }, path: string, ctx: ParseContext): void {
  if (sc.mode === undefined) throw new VirtError('XML_ERROR', "Missing required attribute 'mode' in element 'smartcard'", `${path}/@mode`);
  if (!['host', 'host-certificates', 'passthrough'].includes(sc.mode)) throw invalidAttr('mode', 'smartcard', sc.mode, `${path}/@mode`);
  if (sc.mode !== 'passthrough') return;
  if (sc.type === undefined) throw new VirtError('XML_ERROR', 'passthrough mode requires a character device type attribute', path);
  if (!CHR_TYPES.includes(sc.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown type presented to host for character device: ${sc.type}`, `${path}/@type`);
  normaliseSource(sc, path, ctx, false);
}

/** A redirdev's chardev source (virDomainRedirdevDefParseXML, after the bus). */
export function parseRedirdevSource(r: SourceHolder, path: string, ctx: ParseContext): void {
  if (r.type === undefined) throw new VirtError('INTERNAL_ERROR', 'missing type in redirdev', path);
  if (!CHR_TYPES.includes(r.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown redirdev character device type '${r.type}'`, `${path}/@type`);
  normaliseSource(r, path, ctx, false);
  if (r.type === 'dbus' && !r.sources) r.sources = [{ channel: 'org.qemu.usbredir' }];
}

/** An egd rng backend's chardev source (virDomainRNGDefParseXML, after the backend model); `path` is the backend's. */
export function parseRngEgdSource(b: SourceHolder, path: string, ctx: ParseContext): void {
  if (b.type === undefined) throw new VirtError('XML_ERROR', 'missing EGD backend type', path);
  if (!CHR_TYPES.includes(b.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown backend type '${b.type}' for egd`, `${path}/@type`);
  normaliseSource(b, path, ctx, false);
}

/**
 * virDomainChrSourceDefValidate (domain_validate.c) on every chardev source:
 * a validation, so it runs once every device is read, in the order libvirt's
 * device iterator validates them (smartcards, serials, parallels, channels,
 * consoles, rngs, redirdevs).
 */
export const chardevSourcesValidate: ParseRule = (def, ctx) => {
  deviceList<SourceHolder & { mode?: string }>(def, 'smartcards').forEach((sc, i) => {
    if (sc.mode === 'passthrough') validateSource(sc, devicePath(ctx, 'smartcard', i), false);
  });
  for (const [kind, key] of CHR_KINDS) {
    deviceList<Chr>(def, key).forEach((c, i) => {
      const t = c.target!.type;
      validateSource(c, devicePath(ctx, kind, i), kind === 'channel' && (t === 'virtio' || t === 'xen'));
    });
  }
  deviceList<{ backend?: SourceHolder & { model?: string } }>(def, 'rngs').forEach((rng, i) => {
    if (rng.backend?.model === 'egd') validateSource(rng.backend, `${devicePath(ctx, 'rng', i)}/backend`, false);
  });
  deviceList<SourceHolder>(def, 'redirdevs').forEach((r, i) => validateSource(r, devicePath(ctx, 'redirdev', i), false));
};
