/**
 * What the fuzzer feeds the model, as fast-check arbitraries of *recipes*:
 * a seed index plus lists of small, index-based mutations (or a random tree,
 * a token soup, raw bytes). A recipe is plain data, so fast-check shrinks it
 * well — fewer mutations, smaller indices, the first (smallest) seeds — and a
 * counterexample prints as what was done to which seed. `build` turns a
 * recipe into the document, deterministically and without side effects.
 *
 * Indices (`i`, `j`, `at`, ...) are taken modulo whatever they index, so
 * every recipe applies to every seed.
 */
import fc from 'fast-check';
import { DEFAULT_MAX_DEPTH, DEVICE_KINDS } from '@virtflow/model';
import type { Seeds, Vocabulary } from './seeds.ts';
import { type FEl, type FNode, clone, contains, elements, textOnly, write } from './tree.ts';

// ------------------------------------------------------------------ values

/** Attribute and text values at the edges of what the model's rules read. */
export const BOUNDARY_VALUES: readonly string[] = [
  '', ' ', '0', '-0', '-1', '1', '+1', '01', '00000000000000000001', '2147483647', '2147483648', '-2147483649',
  '4294967295', '4294967296', '9007199254740991', '9007199254740993', '18446744073709551615', '18446744073709551616',
  '99999999999999999999999999999999999999', '1e3', '1e308', '1e309', '-1e309', '1.5', '0.0000001', '1,5', ' 12 ', '12 ',
  'NaN', 'nan', 'Infinity', '-Infinity', 'undefined', 'null', 'true', 'false', '[object Object]', 'constructor', '__proto__', 'toString', 'hasOwnProperty',
  '0x', '0x0', '0x10', '0xffffffffffffffff', '0x1ffffffffffffffffff', '0X1F', '-0x1', '0b101', '0o17', '017', '1_000',
  '０', '٣', 'Ⅻ', '¹', '𝟙', 'é', 'ß', 'İ', 'ǅ', '\u200b', '\u00a0', '\u2028', '\uFEFF', '𝕏𝕏', '🖥️', 'Ω', 'ﬀ', 'K', // Kelvin sign, upper-cases to K
  '\u0001', '\u0008', '\u000b', '\u000c', '\u001f', '\u007f', '\u0085', '\uFFFE', '\uFFFF', '\t', '\n', '\r', '\r\n',
  "'", '"', '<', '>', '&', ']]>', '<!--', '&amp;', '&#0;', '%s%s%s%n', '${x}', '\\', '\\0',
  '/', '//', '/..', '../../../../etc/passwd', '/dev/zero', '/proc/self/mem', 'C:\\', 'a/b', '.', '..', '-',
  'b', 'B', 'k', 'K', 'KB', 'KiB', 'kib', 'KIB', 'MiB', 'mib', 'M', 'G', 'GiB', 'T', 'TiB', 'P', 'PiB', 'E', 'EiB', 'Z', 'ZiB', 'Y', 'YiB', 'bytes', 'byte', 'kB', 'Ki', 'parsecs', '%',
  'yes', 'no', 'YES', 'No', 'on', 'off', 'On', 'OFF', 'enable', 'disabled', 'default', 'none', 'auto', 'AUTO',
  'kvm', 'KVM', 'qemu', 'Qemu', 'lxc', 'xen', 'bhyve', 'test', 'vmware', 'hvf', 'hvm', 'HVM', 'exe', 'linux', 'xenpvh',
  'pc', 'q35', 'pc-q35-99.0', 'pc-i440fx-0.0', 'virt', 'x86_64', 'X86_64', 'i686', 'aarch64', 'ppc64', 's390x', 'riscv64',
  'pci', 'PCI', 'drive', 'usb', 'virtio', 'VirtIO', 'virtio-scsi', 'ide', 'sata', 'scsi', 'fdc', 'ccw', 'isa',
  '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '52:54:00:zz:00:01', '52:54:00:00:00:01:02',
  '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'c7a5fdbd-edaf-9455-926a-d65c16db1809x', '{c7a5fdbd-edaf-9455-926a-d65c16db1809}',
  '0x0000', '0xffff', '0x10000', '0x1f', '0x20', '0xff', '0x100', '-0x1',
];

const LONG_CHARS = ['a', '9', 'é', '𝕏', ' ', '<', '&', '\u0001'];
const LONG_LENGTHS = [256, 256, 4096, 4096, 65_536, 600_000];

export type Value = { readonly v: string; readonly raw?: true } | { readonly long: number; readonly ch: number };

function valueArb(vocab: Vocabulary): fc.Arbitrary<Value> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...BOUNDARY_VALUES).map((v) => ({ v })) },
    { weight: 3, arbitrary: fc.constantFrom(...vocab.values).map((v) => ({ v })) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }).map((v) => ({ v })) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }).map((n) => ({ v: String(n) })) },
    { weight: 1, arbitrary: fc.constantFrom(...BOUNDARY_VALUES, "x' y='1", '1\' /><x a=\'').map((v) => ({ v, raw: true as const })) },
    { weight: 1, arbitrary: fc.record({ long: fc.nat(LONG_LENGTHS.length - 1), ch: fc.nat(LONG_CHARS.length - 1) }) },
  );
}

function valueOf(v: Value): { text: string; raw: boolean } {
  if ('v' in v) return { text: v.v, raw: v.raw === true };
  return { text: LONG_CHARS[v.ch % LONG_CHARS.length]!.repeat(LONG_LENGTHS[v.long % LONG_LENGTHS.length]!), raw: false };
}

/** Ways to bend a value that is already there (mixed case, wrong sign, overflow, units glued on). */
const PERTURB = ['upper', 'lower', 'mixed', 'negate', 'double', 'pad', 'nines', 'k-suffix', 'plus-one', 'trailing-nul', 'hex', 'empty'] as const;
type Perturb = (typeof PERTURB)[number];

function perturb(v: string, how: Perturb, mask: number): string {
  switch (how) {
    case 'upper':
      return v.toUpperCase();
    case 'lower':
      return v.toLowerCase();
    case 'mixed':
      return [...v].map((c, n) => ((mask >> n % 30) & 1 ? c.toUpperCase() : c.toLowerCase())).join('');
    case 'negate':
      return v.startsWith('-') ? v.slice(1) : `-${v}`;
    case 'double':
      return v + v;
    case 'pad':
      return ` ${v}\t`;
    case 'nines':
      return v.replace(/[0-9a-fA-F]/g, '9').repeat(3);
    case 'k-suffix':
      return `${v}k`;
    case 'plus-one':
      return /^\d+$/.test(v) ? String(BigInt(v) + 1n) : `${v}1`;
    case 'trailing-nul':
      return `${v}\u0000`;
    case 'hex':
      return /^\d+$/.test(v) ? `0x${BigInt(v).toString(16)}` : `0x${v}`;
    case 'empty':
      return '';
  }
}

// ------------------------------------------------------------- tree ops

export type TreeOp =
  | { readonly op: 'drop'; readonly i: number }
  | { readonly op: 'dup'; readonly i: number }
  | { readonly op: 'swap'; readonly i: number; readonly j: number }
  | { readonly op: 'move'; readonly i: number; readonly j: number; readonly k: number }
  /** An element of another seed put where it does not belong. */
  | { readonly op: 'graft'; readonly seed: number; readonly i: number; readonly j: number; readonly k: number }
  /** A chain of elements under element i reaching the depth limit plus `delta`. */
  | { readonly op: 'nest'; readonly i: number; readonly delta: number; readonly name: number }
  | { readonly op: 'rename'; readonly i: number; readonly name: number; readonly how?: Perturb }
  | { readonly op: 'dropAttr'; readonly i: number; readonly k: number }
  | { readonly op: 'dupAttr'; readonly i: number; readonly k: number }
  | { readonly op: 'setAttr'; readonly i: number; readonly k: number; readonly value: Value }
  | { readonly op: 'addAttr'; readonly i: number; readonly name: number | string; readonly value: Value }
  | { readonly op: 'bendAttr'; readonly i: number; readonly k: number; readonly how: Perturb; readonly mask: number }
  | { readonly op: 'setText'; readonly i: number; readonly value: Value }
  | { readonly op: 'bendText'; readonly i: number; readonly how: Perturb; readonly mask: number }
  | { readonly op: 'addText'; readonly i: number; readonly value: Value };

// Far deeper documents come from the 'deep' recipe: a chain of 100k elements would make every later op slow.
const DEPTH_DELTAS = [-3, -2, -1, 0, 1, 2, 3, 50, 1000];

function treeOpArb(vocab: Vocabulary, seedCount: number): fc.Arbitrary<TreeOp> {
  const i = fc.nat(4095);
  const value = valueArb(vocab);
  const how = fc.constantFrom(...PERTURB);
  return fc.oneof(
    fc.record({ op: fc.constant('drop' as const), i }),
    fc.record({ op: fc.constant('dup' as const), i }),
    fc.record({ op: fc.constant('swap' as const), i, j: i }),
    fc.record({ op: fc.constant('move' as const), i, j: i, k: fc.nat(63) }),
    fc.record({ op: fc.constant('graft' as const), seed: fc.nat(Math.max(0, seedCount - 1)), i, j: i, k: fc.nat(63) }),
    fc.record({ op: fc.constant('nest' as const), i, delta: fc.nat(DEPTH_DELTAS.length - 1), name: fc.nat(vocab.elements.length - 1) }),
    fc.record({ op: fc.constant('rename' as const), i, name: fc.nat(vocab.elements.length - 1), how: fc.option(how, { nil: undefined }) }, { requiredKeys: ['op', 'i', 'name'] }),
    fc.record({ op: fc.constant('dropAttr' as const), i, k: fc.nat(15) }),
    fc.record({ op: fc.constant('dupAttr' as const), i, k: fc.nat(15) }),
    fc.record({ op: fc.constant('setAttr' as const), i, k: fc.nat(15), value }),
    fc.record({ op: fc.constant('addAttr' as const), i, name: fc.oneof(fc.nat(vocab.attributes.length - 1), fc.constantFrom('xmlns', 'xmlns:qemu', 'xml:lang', 'a:b:c', 'Type', 'TYPE', 'type ')), value }),
    fc.record({ op: fc.constant('bendAttr' as const), i, k: fc.nat(15), how, mask: fc.nat() }),
    fc.record({ op: fc.constant('setText' as const), i, value }),
    fc.record({ op: fc.constant('bendText' as const), i, how, mask: fc.nat() }),
    fc.record({ op: fc.constant('addText' as const), i, value }),
  );
}

interface Doc {
  root: FEl;
  /** Values written unescaped. */
  raw: Set<string>;
}

const pick = <T>(xs: readonly T[], n: number): T | undefined => (xs.length ? xs[n % xs.length] : undefined);

function applyTreeOp(doc: Doc, op: TreeOp, seeds: readonly FEl[], vocab: Vocabulary): void {
  const all = elements(doc.root);
  const inner = all.slice(1);
  const setValue = (v: Value): string => {
    const { text, raw } = valueOf(v);
    if (raw) doc.raw.add(text);
    return text;
  };
  switch (op.op) {
    case 'drop': {
      const t = pick(inner, op.i);
      if (t) t.parent!.children.splice(t.at, 1);
      return;
    }
    case 'dup': {
      const t = pick(inner, op.i);
      if (t) t.parent!.children.splice(t.at + 1, 0, clone(t.el));
      return;
    }
    case 'swap': {
      const a = pick(inner, op.i);
      const b = pick(inner, op.j);
      if (!a || !b || a === b || contains(a.el, b.el) || contains(b.el, a.el)) return;
      a.parent!.children[a.at] = b.el;
      b.parent!.children[b.at] = a.el;
      return;
    }
    case 'move': {
      const a = pick(inner, op.i);
      const to = pick(all, op.j);
      if (!a || !to || contains(a.el, to.el)) return;
      a.parent!.children.splice(a.at, 1);
      to.el.children.splice(op.k % (to.el.children.length + 1), 0, a.el);
      return;
    }
    case 'graft': {
      const donor = seeds[op.seed % seeds.length];
      const to = pick(all, op.j);
      if (!donor || !to) return;
      const from = pick(elements(donor), op.i)!;
      to.el.children.splice(op.k % (to.el.children.length + 1), 0, clone(from.el));
      return;
    }
    case 'nest': {
      const t = pick(all, op.i)!;
      const n = Math.max(1, DEFAULT_MAX_DEPTH + DEPTH_DELTAS[op.delta % DEPTH_DELTAS.length]! - t.depth);
      const name = pick(vocab.elements, op.name) ?? 'a';
      // Built bottom-up without recursion: the chain can be far deeper than the stack.
      let chain: FEl = { name, attrs: [], children: [] };
      for (let d = 1; d < n; d++) chain = { name, attrs: [], children: [chain] };
      t.el.children.push(chain);
      return;
    }
    case 'rename': {
      const t = pick(all, op.i)!;
      const name = pick(vocab.elements, op.name) ?? t.el.name;
      t.el.name = op.how ? perturb(t.el.name, op.how, op.name).replace(/[^\w.:-]/g, '') || name : name;
      return;
    }
    case 'dropAttr': {
      const t = pick(all, op.i)!;
      if (t.el.attrs.length) t.el.attrs.splice(op.k % t.el.attrs.length, 1);
      return;
    }
    case 'dupAttr': {
      const t = pick(all, op.i)!;
      const a = pick(t.el.attrs, op.k);
      if (a) t.el.attrs.push([a[0], a[1]]);
      return;
    }
    case 'setAttr': {
      const t = pick(all, op.i)!;
      const a = pick(t.el.attrs, op.k);
      if (a) a[1] = setValue(op.value);
      else t.el.attrs.push([pick(vocab.attributes, op.k) ?? 'type', setValue(op.value)]);
      return;
    }
    case 'addAttr': {
      const t = pick(all, op.i)!;
      const name = typeof op.name === 'string' ? op.name : (pick(vocab.attributes, op.name) ?? 'type');
      const existing = t.el.attrs.find(([k]) => k === name);
      if (existing) existing[1] = setValue(op.value);
      else t.el.attrs.push([name, setValue(op.value)]);
      return;
    }
    case 'bendAttr': {
      const t = pick(all, op.i)!;
      const a = pick(t.el.attrs, op.k);
      if (a) a[1] = perturb(a[1], op.how, op.mask);
      return;
    }
    case 'setText': {
      const texts = all.filter((l) => textOnly(l.el));
      const t = pick(texts, op.i);
      if (t) t.el.children = [setValue(op.value)];
      return;
    }
    case 'bendText': {
      const texts = all.filter((l) => textOnly(l.el));
      const t = pick(texts, op.i);
      if (t) t.el.children = [perturb(t.el.children.join(''), op.how, op.mask)];
      return;
    }
    case 'addText': {
      const t = pick(all, op.i)!;
      t.el.children.push(setValue(op.value));
      return;
    }
  }
}

// ------------------------------------------------------------- byte ops

/** Text put into a document at a random place: markup the reader must refuse or handle. */
export const INJECTIONS: readonly string[] = [
  '<!DOCTYPE domain [<!ENTITY x "xx">]>', '<!DOCTYPE domain SYSTEM "file:///etc/passwd">', '<!DOCTYPE domain>', '<!doctype domain>',
  '<!ENTITY a "&b;&b;&b;">', '<!ELEMENT domain ANY>', '<!ATTLIST domain type CDATA "kvm">',
  '&x;', '&lol9;', '&#0;', '&#x0;', '&#xD800;', '&#xDFFF;', '&#1114112;', '&#x110000;', '&#99999999999999999999;', '&#x;', '&#;', '&#-1;', '&amp', '&', '&&', '&#x41;', '&#65;', '&#x1F600;', '&#8232;', '&apos;', '&quot;', '&gt;',
  '<![CDATA[<domain type="kvm"/>]]>', '<![CDATA[x]]>', '<![CDATA[', ']]>', '<![CDATA[]]>', '<![INCLUDE[',
  '<!-- c -->', '<!-- -- -->', '<!--', '-->', '<!---->', '<!--->',
  '<?pi data?>', '<?xml version="1.0"?>', '<?xml version="1.1" encoding="UTF-16"?>', '<?xml-stylesheet href="x"?>', '<?', '?>', '<??>', '<?xml ?>',
  '\uFEFF', '\u0000', '\u0001', '\u000b', '\u001b[31m', '\uFFFE', '\uFFFF', '\u2028', '\u0085', '\r', '\r\n', '\t', '\u00a0',
  '<', '>', '</', '/>', "'", '"', '=', ' ', '</domain>', '<domain>', '<domain/>', '</devices>', '<devices>', '<disk>', '</disk>', '<a:b:c/>', '<1a/>', '<-a/>', '<a b c/>', "<a b='1' b='2'/>",
  '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>', ' xmlns="urn:x"', " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'", ' xml:space="preserve"',
];

/** Bytes that are not UTF-8 (overlong, surrogates, truncated sequences, beyond U+10FFFF). */
export const BAD_BYTES: readonly (readonly number[])[] = [[0xff], [0xfe], [0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xe2, 0x82], [0xf0, 0x9f], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];

/** Byte order marks and other encodings' signatures. */
export const PREFIXES: readonly (readonly number[])[] = [[0xef, 0xbb, 0xbf], [0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], [0xff, 0xfe], [0xfe, 0xff], [0x00, 0x00, 0xfe, 0xff], [0x2b, 0x2f, 0x76], [0x00], [0x20, 0x0a]];

export type ByteOp =
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'inject'; readonly at: number; readonly what: number; readonly snap: boolean }
  | { readonly op: 'badBytes'; readonly at: number; readonly what: number }
  | { readonly op: 'prefix'; readonly what: number }
  | { readonly op: 'delete'; readonly at: number; readonly len: number }
  | { readonly op: 'repeat'; readonly at: number; readonly len: number; readonly times: number }
  | { readonly op: 'byte'; readonly at: number; readonly b: number }
  | { readonly op: 'utf16' };

function byteOpArb(): fc.Arbitrary<ByteOp> {
  const at = fc.nat();
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('truncate' as const), at }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant('inject' as const), at, what: fc.nat(INJECTIONS.length - 1), snap: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('badBytes' as const), at, what: fc.nat(BAD_BYTES.length - 1) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('prefix' as const), what: fc.nat(PREFIXES.length - 1) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 64 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('repeat' as const), at, len: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 2, max: 2000 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('byte' as const), at, b: fc.nat(255) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'utf16' as const }) },
  );
}

const enc = new TextEncoder();
/** Keeps a byte order mark as a character: the model must see it, not the decoder. */
const dec = new TextDecoder('utf-8', { ignoreBOM: true });

/** Positions just after a '>' (so injected markup lands between tags), or any position. */
function position(bytes: Uint8Array, at: number, snap: boolean): number {
  if (!snap) return at % (bytes.length + 1);
  const gts: number[] = [];
  for (let n = 0; n < bytes.length; n++) if (bytes[n] === 0x3e) gts.push(n + 1);
  return gts.length ? gts[at % gts.length]! : at % (bytes.length + 1);
}

function splice(bytes: Uint8Array, at: number, del: number, ins: Uint8Array | readonly number[]): Uint8Array {
  const out = new Uint8Array(bytes.length - del + ins.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(ins, at);
  out.set(bytes.subarray(at + del), at + ins.length);
  return out;
}

const MAX_BUILT = 4 << 20;

function applyByteOp(bytes: Uint8Array, op: ByteOp): Uint8Array {
  switch (op.op) {
    case 'truncate':
      return bytes.subarray(0, op.at % (bytes.length + 1));
    case 'inject':
      return splice(bytes, position(bytes, op.at, op.snap), 0, enc.encode(INJECTIONS[op.what % INJECTIONS.length]!));
    case 'badBytes':
      return splice(bytes, op.at % (bytes.length + 1), 0, BAD_BYTES[op.what % BAD_BYTES.length]!);
    case 'prefix':
      return splice(bytes, 0, 0, PREFIXES[op.what % PREFIXES.length]!);
    case 'delete': {
      const at = op.at % (bytes.length + 1);
      return splice(bytes, at, Math.min(op.len, bytes.length - at), []);
    }
    case 'repeat': {
      const at = op.at % (bytes.length + 1);
      const piece = bytes.subarray(at, at + op.len);
      const times = Math.min(op.times, Math.floor(MAX_BUILT / Math.max(1, piece.length)));
      const ins = new Uint8Array(piece.length * times);
      for (let n = 0; n < times; n++) ins.set(piece, n * piece.length);
      return splice(bytes, at, 0, ins);
    }
    case 'byte': {
      if (bytes.length === 0) return Uint8Array.of(op.b);
      const out = Uint8Array.from(bytes);
      out[op.at % out.length] = op.b;
      return out;
    }
    case 'utf16': {
      const s = dec.decode(bytes);
      const out = new Uint8Array(2 + s.length * 2);
      out[0] = 0xff;
      out[1] = 0xfe;
      for (let n = 0; n < s.length; n++) {
        out[2 + 2 * n] = s.charCodeAt(n) & 0xff;
        out[3 + 2 * n] = s.charCodeAt(n) >> 8;
      }
      return out;
    }
  }
}

// ------------------------------------------------------------- recipes

export type Kind = 'domain' | 'device';

interface RecipeBase {
  readonly kind: Kind;
  /** For devices: which base domain attach-device targets. */
  readonly base: number;
  /** Hand the model bytes rather than a string. */
  readonly asBytes: boolean;
  /** A lone surrogate spliced into the string form (only a string can hold one). */
  readonly surrogate?: number;
}

export type Recipe = RecipeBase &
  (
    | { readonly from: 'seed'; readonly seed: number; readonly tree: readonly TreeOp[]; readonly bytes: readonly ByteOp[] }
    | { readonly from: 'tree'; readonly tree0: RandomEl; readonly tree: readonly TreeOp[]; readonly bytes: readonly ByteOp[] }
    | { readonly from: 'tokens'; readonly tokens: readonly string[] }
    | { readonly from: 'binary'; readonly data: Uint8Array }
    | { readonly from: 'deep'; readonly depth: number; readonly name: string; readonly closed: boolean }
  );

export interface RandomEl {
  readonly name: string;
  readonly attrs: readonly (readonly [string, Value])[];
  readonly children: readonly (RandomEl | Value)[];
}

function randomTreeArb(vocab: Vocabulary, kind: Kind): fc.Arbitrary<RandomEl> {
  const name = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...vocab.elements) }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z_][\w.-]{0,8}$/) });
  const attr = fc.tuple(fc.constantFrom(...vocab.attributes), valueArb(vocab));
  const { el } = fc.letrec<{ el: RandomEl; child: RandomEl | Value }>((tie) => ({
    el: fc.record({
      name,
      attrs: fc.array(attr, { maxLength: 4 }),
      children: fc.array(tie('child'), { maxLength: 5, depthIdentifier: 'tree' }),
    }),
    child: fc.oneof({ depthSize: 'small', withCrossShrink: true, depthIdentifier: 'tree' }, valueArb(vocab), tie('el')),
  }));
  const rootName = kind === 'domain' ? fc.constant('domain') : fc.constantFrom(...DEVICE_KINDS);
  const rootType = fc.constantFrom('qemu', 'kvm', 'lxc', 'xen', 'bhyve', 'test');
  return fc.tuple(el, rootName, rootType).map(([e, n, t]) => ({ ...e, name: n, attrs: kind === 'domain' ? [['type', { v: t }] as const, ...e.attrs] : e.attrs }));
}

const TOKENS = [
  '<', '>', '</', '/>', '<?', '?>', '<!--', '-->', '<![CDATA[', ']]>', '<!DOCTYPE', '=', "'", '"', ' ', '\n', '&', ';', '&amp;', '&#', 'x', ':',
  '<domain', "<domain type='kvm'>", '</domain>', '<name>', '</name>', '<devices>', '</devices>', '<memory unit=', '<vcpu>', '<disk', '<interface', "<target dev='vda'/>",
  'type', 'name', 'unit', 'dev', 'bus', "'kvm'", "'qemu'", "'KiB'", '1024', '-1', '0x', '\u0000', '\uFEFF',
];

function recipeArb(seeds: Seeds, kind: Kind, bases: number): fc.Arbitrary<Recipe> {
  const pool = kind === 'domain' ? seeds.domains : seeds.devices;
  const treeOps = fc.array(treeOpArb(seeds.vocab, seeds.domains.length), { maxLength: 8 });
  const byteOps = fc.oneof({ weight: 6, arbitrary: fc.constant([] as ByteOp[]) }, { weight: 1, arbitrary: fc.array(byteOpArb(), { minLength: 1, maxLength: 3 }) });
  const common = { kind: fc.constant(kind), base: fc.nat(Math.max(0, bases - 1)), asBytes: fc.boolean(), surrogate: fc.oneof({ weight: 60, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }) };
  const req = ['kind', 'base', 'asBytes', 'surrogate'] as const;
  return fc.oneof(
    { weight: 12, arbitrary: fc.record({ ...common, from: fc.constant('seed' as const), seed: fc.nat(pool.length - 1), tree: treeOps, bytes: byteOps }, { requiredKeys: [...req, 'from', 'seed', 'tree', 'bytes'] }) },
    { weight: 2, arbitrary: fc.record({ ...common, from: fc.constant('tree' as const), tree0: randomTreeArb(seeds.vocab, kind), tree: treeOps, bytes: byteOps }, { requiredKeys: [...req, 'from', 'tree0', 'tree', 'bytes'] }) },
    {
      weight: 1,
      arbitrary: fc.record(
        { ...common, from: fc.constant('tokens' as const), tokens: fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TOKENS) }, fc.constantFrom(...seeds.vocab.elements), fc.constantFrom(...seeds.vocab.values), fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 80 }) },
        { requiredKeys: [...req, 'from', 'tokens'] },
      ),
    },
    { weight: 1, arbitrary: fc.record({ ...common, from: fc.constant('binary' as const), data: fc.uint8Array({ maxLength: 512 }) }, { requiredKeys: [...req, 'from', 'data'] }) },
    {
      weight: 1,
      arbitrary: fc.record(
        { ...common, from: fc.constant('deep' as const), depth: fc.oneof(fc.integer({ min: DEFAULT_MAX_DEPTH - 3, max: DEFAULT_MAX_DEPTH + 3 }), fc.constantFrom(1000, 10_000, 150_000)), name: fc.constantFrom('a', 'devices', 'domain', 'disk'), closed: fc.boolean() },
        { requiredKeys: [...req, 'from', 'depth', 'name', 'closed'] },
      ),
    },
  );
}

/** Any input: mostly domains, some device fragments for parseDeviceXML and attach-device. */
export function inputArb(seeds: Seeds, bases: number): fc.Arbitrary<Recipe> {
  return fc.oneof({ weight: 4, arbitrary: recipeArb(seeds, 'domain', bases) }, { weight: 1, arbitrary: recipeArb(seeds, 'device', bases) });
}

// ------------------------------------------------------------- build

export interface FuzzInput {
  readonly kind: Kind;
  readonly base: number;
  readonly data: string | Uint8Array;
}

function fromRandom(r: RandomEl, raw: Set<string>): FEl {
  const val = (v: Value) => {
    const { text, raw: isRaw } = valueOf(v);
    if (isRaw) raw.add(text);
    return text;
  };
  return {
    name: r.name,
    attrs: r.attrs.map(([k, v]) => [k, val(v)]),
    children: r.children.map((c): FNode => ('name' in c ? fromRandom(c, raw) : val(c))),
  };
}

function deepDoc(depth: number, name: string, closed: boolean): string {
  const open = `<${name}>`;
  const close = `</${name}>`;
  return `<domain type='test'><name>deep</name>${open.repeat(depth)}${closed ? close.repeat(depth) : ''}</domain>`;
}

/** The document a recipe describes. Pure: the same recipe always gives the same bytes. */
export function build(recipe: Recipe, seeds: Seeds): FuzzInput {
  let text: string | undefined;
  let bytes: Uint8Array | undefined;
  switch (recipe.from) {
    case 'seed':
    case 'tree': {
      const raw = new Set<string>();
      const pool = recipe.kind === 'domain' ? seeds.domains : seeds.devices;
      const root = recipe.from === 'seed' ? clone(pool[recipe.seed % pool.length]!) : fromRandom(recipe.tree0, raw);
      const doc: Doc = { root, raw };
      for (const op of recipe.tree) applyTreeOp(doc, op, seeds.domains, seeds.vocab);
      text = write(doc.root, doc.raw);
      if (recipe.bytes.length) {
        bytes = enc.encode(text);
        for (const op of recipe.bytes) bytes = applyByteOp(bytes, op);
        text = undefined;
      }
      break;
    }
    case 'tokens':
      text = recipe.tokens.join('');
      break;
    case 'binary':
      bytes = recipe.data;
      break;
    case 'deep':
      text = deepDoc(recipe.depth, recipe.name, recipe.closed);
      break;
  }
  let data: string | Uint8Array;
  if (recipe.surrogate !== undefined) {
    const s = text ?? dec.decode(bytes);
    const at = recipe.surrogate % (s.length + 1);
    data = `${s.slice(0, at)}\uD800${s.slice(at)}`;
  } else if (recipe.asBytes) data = bytes ?? enc.encode(text);
  else data = text ?? (isUtf8(bytes!) ? dec.decode(bytes) : bytes!);
  return { kind: recipe.kind, base: recipe.base, data };
}

/** Bytes that are not UTF-8 stay bytes: decoding them leniently would hide what was injected. */
function isUtf8(b: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

