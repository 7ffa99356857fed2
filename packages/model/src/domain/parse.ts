/**
 * parseDomainXML / parseDeviceXML: text → frozen DomainDef, running libvirt's
 * parse-time defaults and checks (what domain_conf.c does before any driver).
 */
import { deepFreeze } from '../util/freeze.ts';
import { decode, type Warning } from '../codec/codec.ts';
import { resolve } from '../codec/spec.ts';
import { VirtError } from '../errors.ts';
import { DEFAULT_MAX_DEPTH, readXml, readXmlText, xmlText, type ReadOptions } from '../xml/read.ts';
import { fastDecode } from '../codec/fast-decode.ts';
import type { XmlElement } from '../xml/tree.ts';
import { applyParseRules, type ParseContext } from './rules/index.ts';
import { devicesSpec } from './spec/devices.ts';
import { domainSpec } from './spec/domain.ts';
import type { DeviceDef, DeviceKind, DomainDef, DomainDraft } from './types.ts';

/** How deep a device sits in its domain: <domain><devices><device>. */
const DEVICE_DEPTH_IN_DOMAIN = 2;

export interface ParseOptions extends ReadOptions {
  /** Source of randomness for generated values (UUID, MAC). Default: crypto.getRandomValues. */
  readonly random?: (bytes: Uint8Array) => Uint8Array;
  /** Parse as libvirt's inactive (persistent) definition. Default true. */
  readonly inactive?: boolean;
  /** Arch when <os><type arch> is absent (the driver's defArch or the host's). Default x86_64. */
  readonly defArch?: string;
  /** Prefix of generated MAC addresses. Default 52:54:00, as libvirt's. */
  readonly macPrefix?: readonly [number, number, number];
  /** Hand back an unfrozen draft (for the post-parse runner's in-place mode). */
  readonly mutable?: boolean;
  /** The driver's parse-time defaults, looked up by the domain type once it is read. */
  readonly driverDefaults?: (domainType: string | undefined) => { defArch?: string; macPrefix?: readonly [number, number, number] } | undefined;
}

function parseContext(opts: ParseOptions, warnings: Warning[], deviceOnly = false): ParseContext {
  return {
    random: opts.random ?? defaultRandom,
    inactive: opts.inactive ?? true,
    warnings,
    deviceOnly,
    defArch: opts.defArch ?? 'x86_64',
    macPrefix: opts.macPrefix ?? [0x52, 0x54, 0x00],
  };
}

type DriverDefaults = ReturnType<NonNullable<ParseOptions['driverDefaults']>>;

/**
 * `{ ...opts, ...defaults }` for the two fields parseContext reads from the
 * defaults (a key present in them wins, even when undefined, as in a spread);
 * without copying every option on each parse.
 */
function withDriverDefaults(opts: ParseOptions, defaults: DriverDefaults): ParseOptions {
  if (defaults === undefined) return opts;
  return {
    random: opts.random,
    inactive: opts.inactive,
    defArch: 'defArch' in defaults ? defaults.defArch : opts.defArch,
    macPrefix: 'macPrefix' in defaults ? defaults.macPrefix : opts.macPrefix,
  } as ParseOptions;
}

export interface Parsed<T> {
  readonly def: T;
  /** What the model kept without understanding it. */
  readonly warnings: readonly Warning[];
}

/** Parse time only (libvirt's virDomainDefParseXML): no post-parse, no validation. */
export function readDomain(xml: string | Uint8Array, opts: ParseOptions = {}): Parsed<DomainDef> {
  const text = xmlText(xml, opts);
  let warnings: Warning[] = [];
  // A plain document is read straight into data; anything else takes the tree, as it always did.
  let draft = fastDecode(text, opts.maxDepth ?? DEFAULT_MAX_DEPTH, 'domain', domainSpec, '/domain', warnings) as DomainDraft | undefined;
  // Several <devices>: the tree path reads them as one.
  if (draft !== undefined && hasUnknownChild(draft, 'devices')) {
    draft = undefined;
    warnings = [];
  }
  if (draft === undefined) {
    const root = readXmlText(text, opts);
    if (root.name !== 'domain') throw new VirtError('XML_ERROR', `expecting root element of 'domain', not '${root.name}'`, `/${root.name}`);
    draft = decode(mergeDevices(root), domainSpec, '/domain', warnings) as DomainDraft;
  }
  const ctx = parseContext(withDriverDefaults(opts, opts.driverDefaults?.(draft.type)), warnings);
  applyParseRules(draft, ctx);
  return { def: (opts.mutable ? draft : deepFreeze(draft)) as DomainDef, warnings };
}

function hasUnknownChild(draft: DomainDraft, name: string): boolean {
  const u = (draft as { $unknown?: { children?: readonly { node: XmlElement }[] } }).$unknown;
  return u?.children?.some((c) => c.node.name === name) ?? false;
}

/**
 * libvirt reads devices as `./devices/disk` and so on: from every <devices>
 * of the domain, in document order. Several <devices> are read here as one,
 * at the place of the first, holding all their children in order (and the
 * attributes of the first where they share names).
 */
function mergeDevices(root: XmlElement): XmlElement {
  let first = -1;
  let count = 0;
  root.children.forEach((c, i) => {
    if (typeof c !== 'string' && c.name === 'devices') {
      count++;
      if (first === -1) first = i;
    }
  });
  if (count < 2) return root;
  const all = root.children.filter((c): c is XmlElement => typeof c !== 'string' && c.name === 'devices');
  const merged: XmlElement = {
    name: 'devices',
    attrs: Object.assign({}, ...all.slice().reverse().map((d) => d.attrs)) as Record<string, string>,
    children: all.flatMap((d) => d.children.filter((k) => typeof k !== 'string' || k.trim() !== '')),
  };
  const children = root.children.filter((c, i) => i === first || typeof c === 'string' || c.name !== 'devices');
  children[children.indexOf(root.children[first]!)] = merged;
  return { ...root, children };
}

export const DEVICE_KINDS = Object.keys(devicesSpec.children).filter((k) => k !== 'emulator') as DeviceKind[];

/** One device at parse time only (libvirt's virDomainDeviceDefParse before its post-parse). */
export function readDevice(xml: string | Uint8Array, opts: ParseOptions = {}): Parsed<DeviceDef> {
  // A device joins a domain two levels down (<domain><devices>): its own depth limit
  // leaves room for them, so that the domain written with it can be read back.
  const maxDepth = (opts.maxDepth ?? DEFAULT_MAX_DEPTH) - DEVICE_DEPTH_IN_DOMAIN;
  const root = readXml(xml, { documentName: '(device_definition)', ...opts, maxDepth });
  return decodeDevice(root, opts);
}


function decodeDevice(root: XmlElement, opts: ParseOptions): Parsed<DeviceDef> {
  const kind = root.name as DeviceKind;
  const child = (devicesSpec.children as Record<string, { spec: Parameters<typeof resolve>[0]; many: boolean; key?: string }>)[kind];
  if (!child || kind === ('emulator' as string)) {
    throw new VirtError('XML_ERROR', `unknown device type '${root.name}'`, `/${root.name}`);
  }
  const warnings: Warning[] = [];
  const def = decode(root, child.spec, `/${kind}`, warnings);
  // Run the device through the same parse-time rules as inside a domain.
  const key = child.key ?? kind;
  const holder = { devices: { [key]: child.many ? [def] : def } } as unknown as DomainDraft;
  const ctx = parseContext(opts, warnings, true);
  applyParseRules(holder, ctx);
  const devs = holder.devices as Record<string, unknown>;
  const out = child.many ? (devs[key] as unknown[])[0] : devs[key];
  return { def: deepFreeze({ kind, def: out }) as DeviceDef, warnings };
}

function defaultRandom(bytes: Uint8Array): Uint8Array {
  return globalThis.crypto.getRandomValues(bytes);
}
