/**
 * libvirt's attribute readers (virXMLProp* over virStrToLong_*, src/util/
 * virxml.c and virstring.c) as pure checks on decoded strings: the same
 * number syntax (strtoul's whitespace, sign and base-0 prefixes) and the same
 * messages, so rules that read a number or an enum fail exactly where libvirt
 * does. Also the path helpers the rules share.
 */
import { VirtError } from '../../errors.ts';
import type { ParseContext } from './index.ts';
import { indexedDevicePath } from '../../util/device-path.ts';

const SPACE = /[ \t\n\v\f\r]/;

interface Scanned {
  readonly value: bigint;
  readonly negative: boolean;
  /** Index just past the last digit; 0 when no digit was read. */
  readonly end: number;
}

function digitValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  if (code >= 65 && code <= 90) return code - 55;
  return 99;
}

/** C's strtoul/strtol scan: leading space, a sign, `0x`/`0` prefixes for base 0 (and `0x` for 16). */
export function scanNumber(s: string, base: 0 | 8 | 10 | 16): Scanned {
  let i = 0;
  while (i < s.length && SPACE.test(s[i]!)) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') negative = s[i++] === '-';
  let b: number = base;
  const hexPrefix = s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && i + 2 < s.length && digitValue(s[i + 2]!) < 16;
  if ((b === 0 || b === 16) && hexPrefix) {
    b = 16;
    i += 2;
  } else if (b === 0) b = s[i] === '0' ? 8 : 10;
  const start = i;
  let value = 0n;
  // Past ULLONG_MAX every reader reports an overflow: the value stays just above it, so a
  // long run of digits costs a scan, not BigInt arithmetic quadratic in its length.
  while (i < s.length && digitValue(s[i]!) < b) {
    if (value <= ULLONG_MAX) value = value * BigInt(b) + BigInt(digitValue(s[i]!));
    i++;
  }
  if (value > ULLONG_MAX) value = ULLONG_MAX + 1n;
  return { value, negative, end: i === start ? 0 : i };
}

/**
 * scanNumber's value for the common case — no space, no sign, digits of the
 * base (after its prefix) to the end, few enough to be exact in a double —
 * or -1 where scanNumber must decide. Saves its BigInt arithmetic on every
 * address and index of a definition.
 */
function scanSimple(s: string, base: 0 | 8 | 10 | 16): number {
  const n = s.length;
  if (n === 0 || n > 12) return -1;
  let i = 0;
  let b: number = base;
  if (s.charCodeAt(0) === 48 /* 0 */ && n > 1) {
    const x = s.charCodeAt(1);
    if ((base === 0 || base === 16) && (x === 120 || x === 88) /* x X */) {
      if (n === 2) return -1;
      b = 16;
      i = 2;
    } else if (base === 0) b = 8;
  } else if (base === 0) b = 10;
  let v = 0;
  for (; i < n; i++) {
    const d = digitValue(s[i]!);
    if (d >= b) return -1;
    v = v * b + d;
  }
  return v;
}

const UINT_MAX = 0xffffffffn;
const ULLONG_MAX = 0xffffffffffffffffn;
const INT_MIN = -0x80000000n;
const INT_MAX = 0x7fffffffn;

/** virStrToLong_uip: an unsigned int, no `-`, nothing after the digits. */
export function toUInt(text: string, base: 0 | 8 | 10 | 16): number | undefined {
  const v = scanSimple(text, base);
  if (v >= 0) return v > 0xffffffff ? undefined : v;
  const r = scanNumber(text, base);
  if (r.end === 0 || r.end !== text.length || r.negative || r.value > UINT_MAX) return undefined;
  return Number(r.value);
}

/** virStrToLong_ullp: an unsigned long long, no `-`, nothing after the digits. */
export function toULongLong(text: string, base: 0 | 8 | 10 | 16): bigint | undefined {
  const v = scanSimple(text, base);
  if (v >= 0) return BigInt(v);
  const r = scanNumber(text, base);
  if (r.end === 0 || r.end !== text.length || r.negative || r.value > ULLONG_MAX) return undefined;
  return r.value;
}

/** virStrToLong_i: a signed int, nothing after the digits. */
export function toInt(text: string, base: 0 | 8 | 10 | 16): number | undefined {
  const simple = scanSimple(text, base);
  if (simple >= 0) return simple > 0x7fffffff ? undefined : simple;
  const r = scanNumber(text, base);
  if (r.end === 0 || r.end !== text.length) return undefined;
  const v = r.negative ? -r.value : r.value;
  if (v < INT_MIN || v > INT_MAX) return undefined;
  return Number(v);
}

export interface PropOptions {
  readonly base?: 0 | 8 | 10 | 16;
  readonly required?: boolean;
  readonly nonzero?: boolean;
  readonly nonnegative?: boolean;
}

/** Where an attribute of an element is. */
export function attrPath(elPath: string, attr: string): string {
  return `${elPath}/@${attr}`;
}

function missing(attr: string, elem: string, elPath: string): VirtError {
  return new VirtError('XML_ERROR', `Missing required attribute '${attr}' in element '${elem}'`, attrPath(elPath, attr));
}

function zero(attr: string, elem: string, elPath: string): VirtError {
  return new VirtError('XML_ERROR', `Invalid value for attribute '${attr}' in element '${elem}': Zero is not permitted`, attrPath(elPath, attr));
}

/** virXMLPropUInt. Returns undefined when absent (and not required). */
export function propUInt(value: string | undefined, attr: string, elem: string, elPath: string, opts: PropOptions = {}): number | undefined {
  if (value === undefined) {
    if (opts.required) throw missing(attr, elem, elPath);
    return undefined;
  }
  const n = toUInt(value, opts.base ?? 10);
  if (n === undefined) {
    throw new VirtError('XML_ERROR', `Invalid value for attribute '${attr}' in element '${elem}': '${value}'. Expected non-negative integer value`, attrPath(elPath, attr));
  }
  if (opts.nonzero && n === 0) throw zero(attr, elem, elPath);
  return n;
}

/** virXMLPropULongLong. */
export function propULongLong(value: string | undefined, attr: string, elem: string, elPath: string, opts: PropOptions = {}): bigint | undefined {
  if (value === undefined) {
    if (opts.required) throw missing(attr, elem, elPath);
    return undefined;
  }
  const n = toULongLong(value, opts.base ?? 10);
  if (n === undefined) {
    throw new VirtError('XML_ERROR', `Invalid value for attribute '${attr}' in element '${elem}': '${value}'. Expected non-negative integer value`, attrPath(elPath, attr));
  }
  if (opts.nonzero && n === 0n) throw zero(attr, elem, elPath);
  return n;
}

/** virXMLPropInt. */
export function propInt(value: string | undefined, attr: string, elem: string, elPath: string, opts: PropOptions = {}): number | undefined {
  if (value === undefined) {
    if (opts.required) throw missing(attr, elem, elPath);
    return undefined;
  }
  const n = toInt(value, opts.base ?? 10);
  const at = attrPath(elPath, attr);
  if (n === undefined) throw new VirtError('XML_ERROR', `Invalid value for attribute '${attr}' in element '${elem}': '${value}'. Expected integer value`, at);
  if (opts.nonnegative && n < 0) throw new VirtError('XML_ERROR', `Invalid value for attribute '${attr}' in element '${elem}': '${value}'. Expected non-negative value`, at);
  if (opts.nonzero && n === 0) throw zero(attr, elem, elPath);
  return n;
}

/**
 * virXMLPropEnum: `values` is the enum's string table in order; with
 * `nonzero`, its first entry (libvirt's `default`/`none`) is rejected too.
 */
export function propEnum<T extends string>(value: string | undefined, attr: string, elem: string, elPath: string, values: readonly T[], opts: PropOptions = {}): T | undefined {
  if (value === undefined) {
    if (opts.required) throw missing(attr, elem, elPath);
    return undefined;
  }
  const i = values.indexOf(value as T);
  if (i < 0 || (opts.nonzero && i === 0)) {
    throw new VirtError('XML_ERROR', `Invalid value for attribute '${attr}' in element '${elem}': '${value}'.`, attrPath(elPath, attr));
  }
  return values[i];
}

/** virXMLPropTristateBool: `yes` or `no`. */
export function propYesNo(value: string | undefined, attr: string, elem: string, elPath: string, opts?: PropOptions): 'yes' | 'no' | undefined {
  if (value === 'yes' || value === 'no') return value;
  if (value === undefined && !opts?.required) return undefined;
  return propEnum(value, attr, elem, elPath, ['absent', 'yes', 'no'] as const, { ...opts, nonzero: true }) as 'yes' | 'no' | undefined;
}

/** virXMLPropTristateSwitch: `on` or `off`. */
export function propOnOff(value: string | undefined, attr: string, elem: string, elPath: string, opts?: PropOptions): 'on' | 'off' | undefined {
  if (value === 'on' || value === 'off') return value;
  if (value === undefined && !opts?.required) return undefined;
  return propEnum(value, attr, elem, elPath, ['absent', 'on', 'off'] as const, { ...opts, nonzero: true }) as 'on' | 'off' | undefined;
}

/**
 * The path of the i-th (0-based) device of a kind: `/domain/devices/disk[2]`,
 * or `/disk` for a device parsed alone. Singletons have no index.
 */
export function devicePath(ctx: ParseContext, xmlName: string, index: number, singleton = false): string {
  if (ctx.deviceOnly) return `/${xmlName}`;
  return singleton ? `/domain/devices/${xmlName}` : indexedDevicePath(xmlName, index);
}

/** Elements the decoder kept aside under `$unknown` because the spec allows one: how many more there were. */
export function extraChildren(el: { $unknown?: { children?: ReadonlyArray<{ node: { name: string } }> } } | undefined, name: string): number {
  return el?.$unknown?.children?.filter((c) => c.node.name === name).length ?? 0;
}
