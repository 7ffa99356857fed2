/**
 * The chardev source libvirt's generic layer reads and writes back
 * (virDomainChrSourceDefParseXML and virDomainChrSourceDefFormat), shared by
 * <serial>, <parallel>, <console>, <channel>, <smartcard mode='passthrough'>,
 * <redirdev> and an egd <rng> backend: its <source>s, <protocol> and <log>.
 */
import { VirtError } from '../../errors.ts';
import type { Unknown } from '../../codec/spec.ts';
import { parseUInt32 } from './generic-helpers.ts';
import type { ParseContext } from './index.ts';
import { propEnum, propYesNo } from './xmlprop.ts';
import { MOUSE_MODES } from './graphics.ts';

/** virDomainChr, in enum order. */
export const CHR_TYPES: readonly string[] = ['null', 'vc', 'pty', 'dev', 'file', 'pipe', 'stdio', 'udp', 'tcp', 'unix', 'spicevmc', 'spiceport', 'nmdm', 'qemu-vdagent', 'dbus'];
const TCP_PROTOCOLS = ['raw', 'telnet', 'telnets', 'tls'];

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
export interface SourceHolder {
  type?: string;
  sources?: Source[];
  protocol?: { type?: string };
  log?: { file?: string; append?: string };
  $unknown?: Unknown;
}

export function invalidAttr(attr: string, el: string, value: string, path: string): VirtError {
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
export function normaliseSource(h: SourceHolder, path: string, ctx: ParseContext, chr: boolean): void {
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
