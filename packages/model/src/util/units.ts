/**
 * Memory sizes as libvirt reads them (virScaleInteger, virDomainParseMemory):
 * an unsigned decimal with an optional unit, scaled to bytes, checked for
 * overflow, then rounded UP to KiB. BigInt keeps the overflow checks exact.
 */
import { VirtError } from '../errors.ts';

const POW: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/** Bytes per unit, or undefined for a unit libvirt does not know. Case-insensitive, as libvirt. */
export function unitMultiplier(unit: string | undefined, defaultMultiplier = 1024n): bigint | undefined {
  if (unit === undefined || unit === '') return defaultMultiplier;
  const u = unit.toLowerCase();
  if (u === 'b' || u === 'byte' || u === 'bytes') return 1n;
  const p = POW[u[0]!];
  if (p === undefined) return undefined;
  const rest = u.slice(1);
  if (rest === '' || rest === 'ib') return 1024n ** BigInt(p);
  if (rest === 'b') return 1000n ** BigInt(p);
  return undefined;
}

/** LLONG_MAX: the byte limit for memory, currentMemory and maxMemory on 64-bit hosts. */
export const MEMORY_BYTE_LIMIT = 9223372036854775807n;
/** 2^53: KiB values at or above it cannot be represented exactly by libvirt's clients. */
export const KIB_LIMIT = 9007199254740992n;

export interface ScaledInput {
  /** The number as written (element text or attribute value). */
  readonly value: string;
  /** The unit attribute as written. */
  readonly unit?: string | undefined;
  /** The node path, for the error. */
  readonly path: string;
  /** libvirt's XPath for the value, used in its message (e.g. `./memory[1]`). */
  readonly xpath: string;
  /** Largest accepted byte value. Default MEMORY_BYTE_LIMIT. */
  readonly byteLimit?: bigint;
}

const UNSIGNED_RE = /^\s*\+?[0-9]+$/;

/** Parses a scaled memory size; returns KiB (rounded up), as libvirt stores it. */
export function parseScaledKiB(input: ScaledInput): number {
  const { value, unit, path, xpath } = input;
  if (!UNSIGNED_RE.test(value)) {
    throw new VirtError('XML_ERROR', `Invalid value '${value}' for element or attribute '${xpath}'`, path);
  }
  const mult = unitMultiplier(unit);
  if (mult === undefined) throw new VirtError('INVALID_ARG', `unknown suffix '${unit}'`, unitPath(path));
  const n = BigInt(value.trim().replace(/^\+/, ''));
  const limit = input.byteLimit ?? MEMORY_BYTE_LIMIT;
  if (n > limit / mult) throw new VirtError('OVERFLOW', `value too large: ${value.trim()}${unit ?? ''}`, path);
  const kib = (n * mult + 1023n) / 1024n;
  if (kib >= KIB_LIMIT) throw new VirtError('OVERFLOW', 'size value too large', path);
  return Number(kib);
}

function unitPath(path: string): string {
  // An attribute's unit is a sibling attribute; an element's is its own @unit.
  return path.includes('/@') ? path.replace(/\/@[^/]+$/, '/@unit') : `${path}/@unit`;
}

/** Bytes → KiB for display and comparison; exact. */
export function kibToBytes(kib: number): bigint {
  return BigInt(kib) * 1024n;
}
