/**
 * parseDomainXML / parseDeviceXML: text → frozen definition, with libvirt's
 * parse-time rules and its generic (driver-independent) post-parse and
 * validation — what libvirt does for any driver before and around the
 * driver's own callbacks. `defineDomain` adds the domain driver's.
 */
import { bookwormQemuCaps } from './caps/index.ts';
import type { Capabilities } from './caps/types.ts';
import type { Warning } from './codec/codec.ts';
import type { ParseOptions } from './domain/parse.ts';
import type { DeviceDef, DomainDef } from './domain/types.ts';
import { genericDriver } from './drivers/generic.ts';
import { defineDevice, defineDomain } from './postparse/runner.ts';
import type { Provenance } from './postparse/types.ts';

export interface GenericParseOptions extends ParseOptions {
  /** Host capabilities; the generic layer only reads the host arch from them. */
  readonly caps?: Capabilities;
  /** The domain a device is parsed against (parseDevice); an empty one by default. */
  readonly domain?: DomainDef;
  /** Record what the generic layer filled (default false: parsing alone is faster without it). */
  readonly provenance?: boolean;
}

export interface Parsed<T> {
  readonly def: T;
  /** What the model kept without understanding it. */
  readonly warnings: readonly Warning[];
  /** What the generic layer filled, and why (with `provenance: true`). */
  readonly provenance: readonly Provenance[];
}

function runOptions(opts: GenericParseOptions) {
  const caps = opts.caps ?? { ...bookwormQemuCaps, host: { arch: opts.defArch ?? 'x86_64' } };
  return { caps, driver: genericDriver, read: opts, provenance: opts.provenance ?? false, ...(opts.random ? { random: opts.random } : {}), flags: { inactive: opts.inactive ?? true } };
}

export function parseDomain(xml: string | Uint8Array, opts: GenericParseOptions = {}): Parsed<DomainDef> {
  const r = defineDomain(xml, runOptions(opts));
  return { def: r.def, warnings: r.warnings, provenance: r.provenance };
}

export function parseDomainXML(xml: string | Uint8Array, opts?: GenericParseOptions): DomainDef {
  return parseDomain(xml, opts).def;
}

const EMPTY_DOMAIN = { type: 'none', name: '(device)', devices: {} } as DomainDef;

/** One device (as attach-device parses it), against `opts.domain` or an empty domain. */
export function parseDevice(xml: string | Uint8Array, opts: GenericParseOptions = {}): Parsed<DeviceDef> {
  const r = defineDevice(xml, opts.domain ?? EMPTY_DOMAIN, runOptions(opts));
  return { def: r.def, warnings: r.warnings, provenance: r.provenance };
}

export function parseDeviceXML(xml: string | Uint8Array, opts?: GenericParseOptions): DeviceDef {
  return parseDevice(xml, opts).def;
}
