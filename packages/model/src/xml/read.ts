/**
 * Reads XML text into an XmlElement tree, refusing hostile input before any
 * work is done on it: oversized documents, DOCTYPE and entity declarations
 * (no XXE, no entity expansion), invalid UTF-8 and excessive nesting.
 */
import { isUtf8 } from 'node:buffer';
import { XMLValidator } from 'fast-xml-parser';
import { VirtError } from '../errors.ts';
import type { XmlElement, XmlNode } from './tree.ts';

export interface ReadOptions {
  /** Largest document accepted, in bytes. Default 1 MiB. */
  readonly maxBytes?: number;
  /** Deepest element nesting accepted. Default 64 (libvirt's deepest is about 10). */
  readonly maxDepth?: number;
  /** Name libvirt gives the document in parse errors. */
  readonly documentName?: string;
}

export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 64;


const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Turns bytes or text into checked text. */
function decode(input: string | Uint8Array, maxBytes: number): string {
  if (typeof input === 'string') {
    // A string can only hold invalid UTF-8 as lone surrogates (from a lenient decoder upstream).
    if (input.length > maxBytes && Buffer.byteLength(input, 'utf8') > maxBytes) tooLarge(maxBytes);
    if (!input.isWellFormed()) {
      throw new VirtError('XML_DETAIL', 'document is not valid UTF-8 (it holds an unpaired surrogate)', '/');
    }
    return input;
  }
  if (input.byteLength > maxBytes) tooLarge(maxBytes);
  // isUtf8 (simdutf) checks what the fatal decoder would refuse, faster than the decoder
  // does; then the plain decode is exact. The decoder drops a leading BOM: so does this.
  if (isUtf8(input)) {
    const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
  try {
    return utf8.decode(input);
  } catch {
    throw new VirtError('XML_DETAIL', `document is not valid UTF-8 (first bad byte at offset ${firstBadUtf8(input)})`, '/');
  }
}

function tooLarge(maxBytes: number): never {
  throw new VirtError('XML_DETAIL', `document is larger than the limit of ${maxBytes} bytes`, '/');
}

function firstBadUtf8(bytes: Uint8Array): number {
  for (let lo = 0, hi = bytes.length; ; ) {
    if (hi - lo <= 1) return lo;
    const mid = (lo + hi) >> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid));
      lo = mid;
    } catch {
      hi = mid;
    }
  }
}

const DTD_RE = /<!DOCTYPE|<!ENTITY/i;
const DTD_AT = /^(?:DOCTYPE|ENTITY)/i;

/** DTD_RE.test(text), looking only where a '<!' is (a plain document has a few comments at most). */
function hasDtd(text: string): boolean {
  for (let i = text.indexOf('<!'); i !== -1; i = text.indexOf('<!', i + 2)) {
    if (DTD_AT.test(text.slice(i + 2, i + 9))) return true;
  }
  return false;
}

/** The libxml2-like "name:line: message" detail of a well-formedness error. */
function syntaxError(doc: string, text: string, line: number, col: number, msg: string): VirtError {
  const srcLine = text.split('\n')[line - 1] ?? '';
  const pointer = srcLine.slice(0, Math.max(0, col - 1)).replace(/[^\t]/g, '-') + '^';
  return new VirtError('XML_DETAIL', `${doc}:${line}: ${msg}\n${srcLine}\n${pointer}`, col ? `/ (line ${line}, column ${col})` : `/ (line ${line})`);
}

const ENTITY_RE = /&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_][\w.-]*);/g;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Expands the five predefined entities and character references; anything else is an undefined entity. */
/** `path` (and `attr`) name the node in an error; the string is only built when there is one. */
function unescape(raw: string, path: string, attr?: string): string {
  if (!raw.includes('&')) return raw;
  const where = () => (attr === undefined ? path : `${path}/@${attr}`);
  const out = raw.replace(ENTITY_RE, (_m, ref: string) => {
    if (ref[0] === '#') {
      const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!Number.isFinite(cp) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) {
        throw new VirtError('XML_DETAIL', `invalid character reference '&${ref};'`, where());
      }
      return String.fromCodePoint(cp);
    }
    const v = PREDEFINED[ref];
    if (v === undefined) throw new VirtError('XML_DETAIL', `Entity '${ref}' not defined`, where());
    return v;
  });
  if (/&(?![^;]*;)/.test(raw.replace(ENTITY_RE, ''))) {
    throw new VirtError('XML_DETAIL', "xmlParseEntityRef: no name ('&' must be written '&amp;')", where());
  }
  return out;
}

/**
 * Parses a document and returns its root element. Comments, processing
 * instructions and whitespace-only text between elements are dropped, as
 * libvirt drops them.
 *
 * fast-xml-parser's validator is the judge of well-formedness, and gives the
 * line and column of the first fault. A plain document (what libvirt and its
 * users write) is read by fastTree in one checking pass that accepts only
 * what the validator accepts; anything else — a fault, or merely something
 * unusual — takes the slow path: the depth check, the validator, then
 * buildTree over the validated text, so errors read exactly as before.
 * fast-xml-parser's ordered mode (the only one that keeps sibling order) was
 * the slowest step of the whole pipeline (3.8k docs/s against 10k for its
 * validator on libvirt's corpus), and the validator followed by buildTree
 * still took a fifth of parse + format; fastTree is about four times faster
 * than the two (bench/parse.ts measures the pipeline).
 */
export function readXml(input: string | Uint8Array, opts: ReadOptions = {}): XmlElement {
  return readXmlText(xmlText(input, opts), opts);
}

/**
 * readXml's first half: the document as checked text (size, UTF-8, no DTD,
 * not empty), refused with readXml's errors. A reader that decodes the text
 * in one pass (codec/fast-decode.ts) starts here, and hands what it declines
 * to readXmlText.
 */
export function xmlText(input: string | Uint8Array, opts: ReadOptions = {}): string {
  const doc = opts.documentName ?? '(domain_definition)';
  const text = decode(input, opts.maxBytes ?? DEFAULT_MAX_BYTES);
  if (hasDtd(text)) {
    const at = text.search(DTD_RE);
    const line = text.slice(0, at).split('\n').length;
    throw new VirtError('XML_DETAIL', `${doc}:${line}: DOCTYPE and entity declarations are not accepted (no external or internal DTD subset is processed)`, '/');
  }
  if (isBlank(text)) throw new VirtError('XML_DETAIL', `${doc}:1: Document is empty`, '/');
  return text;
}

/** readXml's second half, on text xmlText has checked. */
export function readXmlText(text: string, opts: ReadOptions = {}): XmlElement {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const doc = opts.documentName ?? '(domain_definition)';
  const fast = fastTree(text, maxDepth);
  if (fast) return fast;
  checkDepth(text, maxDepth);
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) throw syntaxError(doc, text, valid.err.line, valid.err.col, valid.err.msg);
  return buildTree(text, doc);
}

// ------------------------------------------------------------- fast path
//
// Most documents are plain: ASCII names, quoted attributes, the five
// predefined entities and character references, comments. fastTree reads
// those in one pass, checking as it goes, and builds the same tree buildTree
// would. It accepts only what fast-xml-parser's validator accepts, checkDepth
// lets through and buildTree reads without an error; on anything else (or
// anything unusual: CDATA, processing instructions but the XML declaration,
// a BOM, non-ASCII names, an entity it does not know) it gives up and
// readXml takes the slow path — depth check, validator, buildTree — which
// produces the error, with its line and column, exactly as before.

/**
 * An element being read: the XmlElement it becomes, its children still
 * growing (one object per element; whether it has element children is kept
 * beside the stack, in fastTree's `hasElements`).
 */
export interface FastOpen {
  readonly name: string;
  readonly attrs: Record<string, string>;
  children: XmlNode[];
}

/** Name start: A-Z a-z _ : */
export function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
}
/** Name char: a name start, digits, '-' and '.'. */
export function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 58) || c === 45 || c === 46 || c === 95;
}
export function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/** Whether `s` is whitespace by String.prototype.trim's measure (what finish() drops). */
export function isBlank(s: string): boolean {
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === 32 || c === 10 || c === 9 || c === 13) continue;
    if (c > 32 && c < 127) return false;
    return s.trim() === '';
  }
  return true;
}

/**
 * Expands the entities of `text[from, to)` as unescape() would, or returns
 * undefined where the validator (in text) or unescape (anywhere) might
 * object: only &lt; &gt; &amp; &quot; &apos;, &#N; and &#xH; of a valid
 * code point are taken.
 */
export function fastUnescape(text: string, from: number, to: number): string | undefined {
  // The next '&' of the document is remembered: looking for it afresh in each
  // value would scan the rest of the document every time when it has none.
  if (nextAmp < from) nextAmp = ampAt(text, from);
  if (nextAmp >= to) return text.slice(from, to);
  let amp = nextAmp;
  let out = '';
  let at = from;
  while (amp !== -1 && amp < to) {
    const semi = text.indexOf(';', amp + 1);
    if (semi === -1 || semi >= to) return undefined;
    out += text.slice(at, amp);
    const ref = text.slice(amp + 1, semi);
    let v: string | undefined;
    if (ref.charCodeAt(0) === 35 /* # */) {
      const hex = ref.charCodeAt(1) === 120; /* x */
      const digits = ref.slice(hex ? 2 : 1);
      if (digits.length === 0 || digits.length > 7 || !(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) return undefined;
      const cp = parseInt(digits, hex ? 16 : 10);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) return undefined;
      v = String.fromCodePoint(cp);
    } else v = PREDEFINED[ref];
    if (v === undefined) return undefined;
    out += v;
    at = semi + 1;
    amp = text.indexOf('&', at);
  }
  return out + text.slice(at, to);
}

/** Where fastUnescape's document has its next '&' (its length when none is left). */
let nextAmp = 0;

/** Readies fastUnescape for a new document (fastTree does it for its own). */
export function beginUnescape(text: string): void {
  nextAmp = ampAt(text, 0);
}

function ampAt(text: string, from: number): number {
  const i = text.indexOf('&', from);
  return i === -1 ? text.length : i;
}

/** Adds `el` to `parent`; `hadElements`: whether the parent already had an element child (its text is then layout). */
export function fastPushElement(parent: FastOpen, hadElements: boolean, el: XmlElement): void {
  if (!hadElements) {
    const kids = parent.children;
    if (kids.length === 1 && isBlank(kids[0] as string)) kids.length = 0;
    else if (kids.length) parent.children = kids.filter((k) => typeof k !== 'string' || k.trim() !== '');
  }
  parent.children.push(el);
}

/** Whether text[from, to) is XML whitespace only (then it is blank too). */
export function spacesOnly(text: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (!isSpace(text.charCodeAt(k))) return false;
  return true;
}

/** The element `o` once closed: text in pieces (entities between them) becomes one string. */
export function fastFinish(o: FastOpen, hasElements: boolean): XmlElement {
  const kids = o.children;
  if (!hasElements && kids.length > 1) o.children = [kids.join('')];
  return o;
}

/**
 * Where the root element starts, past whitespace, comments and an XML declaration at the very start;
 * undefined for anything else before it (the slow path decides). Shared by the fast readers.
 */
export function skipProlog(text: string): number | undefined {
  const n = text.length;
  let i = 0;
  for (;;) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n || text.charCodeAt(i) !== 60 /* < */) return undefined;
    const c = text.charCodeAt(i + 1);
    if (c === 33 /* ! */) {
      if (!text.startsWith('<!--', i)) return undefined;
      const end = text.indexOf('-->', i + 4);
      if (end === -1) return undefined;
      i = end + 3;
    } else if (c === 63 /* ? */) {
      // The validator wants '<?xml' at offset 0 only; anything else goes the slow way.
      if (i !== 0 || !text.startsWith('<?xml ', 0)) return undefined;
      const end = text.indexOf('?>', 2);
      if (end === -1 || text.lastIndexOf('<', end) !== 0) return undefined;
      i = end + 2;
    } else return i;
  }
}

/** The tree of a plain, well-formed document; undefined where the slow path must decide. */
function fastTree(text: string, maxDepth: number): XmlElement | undefined {
  const n = text.length;
  nextAmp = ampAt(text, 0);
  const stack: FastOpen[] = [];
  // Per open element: whether it has an element child (whitespace-only text is then layout and is dropped).
  const hasElements: boolean[] = [];
  let root: XmlElement | undefined;
  // The next '<' once a start tag has been read (-1: to be looked for).
  let nextLt = -1;
  const start = skipProlog(text);
  if (start === undefined) return undefined;
  let i = start;
  while (i < n) {
    // i is at '<'.
    const c = text.charCodeAt(i + 1);
    if (c === 47 /* / */) {
      const open = stack.pop();
      if (!open) return undefined;
      const nameEnd = i + 2 + open.name.length;
      if (!text.startsWith(open.name, i + 2)) return undefined;
      let j = nameEnd;
      while (j < n && isSpace(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 62 /* > */) return undefined;
      const el = fastFinish(open, hasElements[stack.length]!);
      i = j + 1;
      const parent = stack[stack.length - 1];
      if (parent) {
        fastPushElement(parent, hasElements[stack.length - 1]!, el);
        hasElements[stack.length - 1] = true;
      } else {
        root = el;
        break;
      }
    } else if (c === 33 /* ! */) {
      if (!text.startsWith('<!--', i)) return undefined;
      const end = text.indexOf('-->', i + 4);
      if (end === -1) return undefined;
      i = end + 3;
    } else {
      // A start tag.
      if (!isNameStart(c)) return undefined;
      let j = i + 2;
      while (j < n && isNameChar(text.charCodeAt(j))) j++;
      const name = text.slice(i + 1, j);
      // The tag ends before the next '<' (a '<' inside a value: the slow path);
      // the text after it runs up to that '<'.
      let tagLt = text.indexOf('<', j);
      if (tagLt === -1) tagLt = n;
      const attrs: Record<string, string> = {};
      let selfClosing = false;
      for (;;) {
        const ws = j;
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        const d = text.charCodeAt(j);
        if (d === 62 /* > */) break;
        if (d === 47 /* / */) {
          if (text.charCodeAt(j + 1) !== 62) return undefined;
          selfClosing = true;
          j++;
          break;
        }
        if (j === ws || !isNameStart(d)) return undefined;
        const ks = j;
        j++;
        while (j < n && isNameChar(text.charCodeAt(j))) j++;
        const key = text.slice(ks, j);
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) !== 61 /* = */) return undefined;
        j++;
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        const q = text.charCodeAt(j);
        if (q !== 39 && q !== 34) return undefined;
        const close = text.indexOf(q === 39 ? "'" : '"', j + 1);
        if (close === -1) return undefined;
        // '<' in a value: checkDepth and the validator agree with us, but keep to the plain case.
        if (tagLt < close) return undefined;
        if (Object.hasOwn(attrs, key) || key === '__proto__') return undefined;
        const v = fastUnescape(text, j + 1, close);
        if (v === undefined) return undefined;
        attrs[key] = v;
        j = close + 1;
      }
      i = j + 1;
      nextLt = tagLt;
      const parent = stack[stack.length - 1];
      if (selfClosing) {
        const el: XmlElement = { name, attrs, children: [] };
        if (parent) {
          fastPushElement(parent, hasElements[stack.length - 1]!, el);
          hasElements[stack.length - 1] = true;
        } else {
          root = el;
          break;
        }
      } else {
        if (stack.length >= maxDepth) return undefined;
        hasElements[stack.length] = false;
        stack.push({ name, attrs, children: [] });
      }
    }
    // Text up to the next '<', inside the current element.
    let lt = nextLt;
    if (lt < i) lt = text.indexOf('<', i);
    if (lt === -1 || lt >= n) return undefined;
    if (lt > i) {
      const top = stack[stack.length - 1]!;
      const layout = hasElements[stack.length - 1]!;
      if (!(layout && spacesOnly(text, i, lt))) {
        const t = fastUnescape(text, i, lt);
        if (t === undefined) return undefined;
        if (!(layout && isBlank(t))) top.children.push(t);
      }
    }
    i = lt;
  }
  if (!root) return undefined;
  // After the root: whitespace and comments only.
  for (;;) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n) return root;
    if (!text.startsWith('<!--', i)) return undefined;
    const end = text.indexOf('-->', i + 4);
    if (end === -1) return undefined;
    i = end + 3;
  }
}

interface Open {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  path: string;
  counts: Map<string, number> | undefined;
  /** Offset of its '<' (for the line libxml2 names in a tag mismatch). */
  at: number;
}

const NAME_END = /[\s/>]/g;
const ATTR_RE = /\s*([^\s=/>]+)\s*=\s*(?:'([^']*)'|"([^"]*)")/y;

/** Builds the tree from text the validator has accepted. */
function buildTree(text: string, doc: string): XmlElement {
  const stack: Open[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf('<', i);
    if (lt === -1) break;
    if (lt > i && stack.length) pushText(stack[stack.length - 1]!, text.slice(i, lt));
    const c = text.charCodeAt(lt + 1);
    // The validator lets some malformed constructs through (an unclosed
    // comment or processing instruction, CDATA or a declaration after the
    // root): libxml2 refuses them, and so do we, with its message and place.
    if (c === 33 /* ! */) {
      if (text.startsWith('<!--', lt)) {
        const end = text.indexOf('-->', lt + 4);
        if (end === -1) throw unterminatedComment(doc, text, lt);
        i = end + 3;
      } else if (root !== undefined && stack.length === 0) {
        throw syntaxErrorAt(doc, text, lt, 'Extra content at the end of the document');
      } else if (text.startsWith('<![CDATA[', lt)) {
        const end = text.indexOf(']]>', lt + 9);
        if (end === -1) break;
        if (stack.length) stack[stack.length - 1]!.children.push(text.slice(lt + 9, end));
        i = end + 3;
      } else i = after(text.indexOf('>', lt), 1, n);
      continue;
    }
    if (c === 63 /* ? */) {
      const end = text.indexOf('?>', lt + 2);
      if (end === -1) throw unterminatedPI(doc, text, lt);
      i = end + 2;
      continue;
    }
    if (c === 47 /* / */) {
      const done = endTag(doc, text, lt, stack);
      i = text.indexOf('>', lt) + 1;
      const el = finish(done);
      if (stack.length) stack[stack.length - 1]!.children.push(el);
      else root ??= el;
      continue;
    }
    if (root !== undefined && stack.length === 0) throw syntaxErrorAt(doc, text, lt, 'Extra content at the end of the document');
    NAME_END.lastIndex = lt + 1;
    NAME_END.exec(text);
    const nameEnd = NAME_END.lastIndex - 1;
    const name = text.slice(lt + 1, nameEnd);
    const parent = stack[stack.length - 1];
    let path: string;
    if (parent) {
      const counts = (parent.counts ??= new Map());
      const k = (counts.get(name) ?? 0) + 1;
      counts.set(name, k);
      path = `${parent.path}/${name}${k > 1 ? `[${k}]` : ''}`;
    } else path = `/${name}`;
    const attrs: Record<string, string> = {};
    let j = nameEnd;
    ATTR_RE.lastIndex = j;
    for (let m = ATTR_RE.exec(text); m; m = ATTR_RE.exec(text)) {
      const key = m[1]!;
      attrs[key] = unescape(m[2] ?? m[3] ?? '', path, key);
      j = ATTR_RE.lastIndex;
    }
    const close = text.indexOf('>', j);
    if (close === -1) throw unterminatedStartTag(doc, text, lt, name, nameEnd);
    const open: Open = { name, attrs, children: [], path, counts: undefined, at: lt };
    i = close + 1;
    if (text.charCodeAt(close - 1) === 47 /* / */) {
      const el = finish(open);
      if (parent) parent.children.push(el);
      else root ??= el;
    } else stack.push(open);
  }
  if (!root) throw new VirtError('INTERNAL_ERROR', 'missing root element', '/');
  void doc;
  return root;
}

// ------------------------------------------- what the validator lets through
//
// libxml2's first error (the one libvirt reports) for the malformed endings
// fast-xml-parser's validator accepts, at the place libxml2 stops.

/** syntaxError at an offset of the text: its line, and its column as libvirt counts it. */
function syntaxErrorAt(doc: string, text: string, at: number, msg: string): VirtError {
  let line = 1;
  for (let k = text.indexOf('\n'); k !== -1 && k < at; k = text.indexOf('\n', k + 1)) line++;
  const col = at - (text.lastIndexOf('\n', at - 1) + 1) + 1;
  return syntaxError(doc, text, line, col, msg);
}

/** xmlParseComment at the end of the text: a double hyphen is refused first, else the missing end. */
function unterminatedComment(doc: string, text: string, lt: number): VirtError {
  const dashes = text.indexOf('--', lt + 4);
  if (dashes !== -1) return syntaxErrorAt(doc, text, dashes, `Double hyphen within comment: <!--${text.slice(lt + 4, dashes).slice(0, 50)}`);
  return syntaxErrorAt(doc, text, text.length, 'Comment not terminated');
}

/** xmlParsePI without its '?>': no target, no space after it, or no end. */
function unterminatedPI(doc: string, text: string, lt: number): VirtError {
  let j = lt + 2;
  if (j >= text.length || !isNameStart(text.charCodeAt(j))) return syntaxErrorAt(doc, text, j, 'xmlParsePI : no target name');
  while (j < text.length && isNameChar(text.charCodeAt(j))) j++;
  const target = text.slice(lt + 2, j);
  if (j < text.length && isSpace(text.charCodeAt(j))) return syntaxErrorAt(doc, text, text.length, `ParsePI: PI ${target} never end ...`);
  return syntaxErrorAt(doc, text, j, `ParsePI: PI ${target} space expected`);
}

/**
 * xmlParseStartTag2 on a tag the text ends inside: after an attribute, what
 * follows must be a blank ('attributes construct error'); after a blank, an
 * attribute name ('error parsing attribute name'); at the end of the text,
 * the tag has no end.
 */
function unterminatedStartTag(doc: string, text: string, lt: number, name: string, nameEnd: number): VirtError {
  const n = text.length;
  let j = nameEnd;
  let afterAttr = false;
  for (;;) {
    const ws = j;
    while (j < n && isSpace(text.charCodeAt(j))) j++;
    if (afterAttr && j === ws) return syntaxErrorAt(doc, text, j, 'attributes construct error');
    if (j >= n) break;
    if (!isNameStart(text.charCodeAt(j))) return syntaxErrorAt(doc, text, j, 'error parsing attribute name');
    ATTR_RE.lastIndex = j;
    if (!ATTR_RE.exec(text)) break;
    j = ATTR_RE.lastIndex;
    afterAttr = true;
  }
  let line = 1;
  for (let k = text.indexOf('\n'); k !== -1 && k < lt; k = text.indexOf('\n', k + 1)) line++;
  return syntaxErrorAt(doc, text, n, `Couldn't find end of Start Tag ${name} line ${line}`);
}

/**
 * xmlParseEndTag2 on the end tag at `lt`, which the validator lets through
 * even with attributes after a name it does not match (`</t e=''/>`): after
 * the name and blanks a '>' must come ("expected '>'", where it is missing),
 * and the name must be the open element's ("Opening and ending tag
 * mismatch", after the tag). Returns the element it closes.
 */
function endTag(doc: string, text: string, lt: number, stack: Open[]): Open {
  const n = text.length;
  let j = lt + 2;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (isSpace(c) || c === 62 /* > */ || c === 47 /* / */) break;
    j++;
  }
  const name = text.slice(lt + 2, j);
  while (j < n && isSpace(text.charCodeAt(j))) j++;
  if (text.charCodeAt(j) !== 62 /* > */) throw syntaxErrorAt(doc, text, j, "expected '>'");
  const open = stack.pop();
  if (open === undefined) throw syntaxErrorAt(doc, text, lt, 'Extra content at the end of the document');
  if (open.name !== name) {
    const line = lineAt(text, open.at);
    throw syntaxErrorAt(doc, text, j + 1, `Opening and ending tag mismatch: ${open.name} line ${line} and ${name}`);
  }
  return open;
}

/** The 1-based line of an offset of the text. */
function lineAt(text: string, at: number): number {
  let line = 1;
  for (let k = text.indexOf('\n'); k !== -1 && k < at; k = text.indexOf('\n', k + 1)) line++;
  return line;
}

/** The index `skip` past `end`, or `n` (the end of the text) when `end` was not found. */
function after(end: number, skip: number, n: number): number {
  return end === -1 ? n : end + skip;
}

function pushText(parent: Open, raw: string): void {
  parent.children.push(unescape(raw, parent.path));
}

/** Whitespace-only text around elements is layout, not content. */
function finish(o: Open): XmlElement {
  const kids = o.children;
  let hasElements = false;
  for (const k of kids) if (typeof k !== 'string') hasElements = true;
  let children: XmlNode[];
  if (hasElements) children = kids.filter((k) => typeof k !== 'string' || k.trim() !== '');
  else children = kids.length <= 1 ? kids : [kids.join('')];
  return { name: o.name, attrs: o.attrs, children };
}

/** A cheap scan for nesting depth, so a hostile document never reaches the parser. */
function checkDepth(text: string, maxDepth: number): void {
  let depth = 0;
  let i = text.indexOf('<');
  while (i !== -1) {
    const next = text.charCodeAt(i + 1);
    if (next === 47 /* / */) depth--;
    else if (next === 33 /* ! */) {
      const end = text.startsWith('<!--', i) ? text.indexOf('-->', i + 4) : text.startsWith('<![CDATA[', i) ? text.indexOf(']]>', i) : text.indexOf('>', i);
      if (end === -1) return; // the validator reports it
      i = text.indexOf('<', end);
      continue;
    } else if (next !== 63 /* ? */) {
      const close = findTagEnd(text, i);
      if (close === -1) return;
      if (text.charCodeAt(close - 1) !== 47) {
        depth++;
        if (depth > maxDepth) {
          const line = text.slice(0, i).split('\n').length;
          throw new VirtError('XML_DETAIL', `document nests elements deeper than the limit of ${maxDepth} (line ${line})`, '/');
        }
      }
      i = text.indexOf('<', close);
      continue;
    }
    i = text.indexOf('<', i + 1);
  }
}

/** Index of the '>' closing the tag at `start`, skipping quoted attribute values. */
function findTagEnd(text: string, start: number): number {
  let quote = 0;
  for (let j = start + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (quote) {
      if (c === quote) quote = 0;
    } else if (c === 34 || c === 39) quote = c;
    else if (c === 62) return j;
  }
  return -1;
}
