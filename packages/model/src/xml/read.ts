/**
 * Reads XML text into an XmlElement tree, refusing hostile input before any
 * work is done on it: oversized documents, DOCTYPE and entity declarations
 * (no XXE, no entity expansion), invalid UTF-8 and excessive nesting.
 */
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
 * fast-xml-parser's validator is the gatekeeper: it checks well-formedness
 * and gives the line and column of the first fault. The tree is then built by
 * a single pass over the validated text, because fast-xml-parser's ordered
 * mode (the only one that keeps sibling order) was the slowest step of the
 * whole pipeline: 3.8k docs/s against 10k for its validator on libvirt's
 * corpus (bench/parse.ts measures the pipeline).
 */
export function readXml(input: string | Uint8Array, opts: ReadOptions = {}): XmlElement {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const doc = opts.documentName ?? '(domain_definition)';
  const text = decode(input, maxBytes);
  if (DTD_RE.test(text)) {
    const at = text.search(DTD_RE);
    const line = text.slice(0, at).split('\n').length;
    throw new VirtError('XML_DETAIL', `${doc}:${line}: DOCTYPE and entity declarations are not accepted (no external or internal DTD subset is processed)`, '/');
  }
  if (text.trim() === '') throw new VirtError('XML_DETAIL', `${doc}:1: Document is empty`, '/');
  checkDepth(text, maxDepth);
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) throw syntaxError(doc, text, valid.err.line, valid.err.col, valid.err.msg);
  return buildTree(text, doc);
}

interface Open {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  path: string;
  counts: Map<string, number> | undefined;
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
    if (c === 33 /* ! */) {
      if (text.startsWith('<!--', lt)) i = text.indexOf('-->', lt + 4) + 3;
      else if (text.startsWith('<![CDATA[', lt)) {
        const end = text.indexOf(']]>', lt + 9);
        if (stack.length) stack[stack.length - 1]!.children.push(text.slice(lt + 9, end));
        i = end + 3;
      } else i = text.indexOf('>', lt) + 1;
      continue;
    }
    if (c === 63 /* ? */) {
      i = text.indexOf('?>', lt + 2) + 2;
      continue;
    }
    if (c === 47 /* / */) {
      i = text.indexOf('>', lt) + 1;
      const done = stack.pop()!;
      const el = finish(done);
      if (stack.length) stack[stack.length - 1]!.children.push(el);
      else root ??= el;
      continue;
    }
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
    const open: Open = { name, attrs, children: [], path, counts: undefined };
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
