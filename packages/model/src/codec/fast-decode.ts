/**
 * decode(readXml(text)) in one pass, for plain documents: the text is read as
 * xml/read.ts's fastTree reads it, and each element the spec models becomes
 * its plain data as soon as it closes, without the XmlElement tree in between
 * (fastTree and decode's walk over its attribute records and child arrays were
 * a sixth of parse + post-parse + format on the post-parse benchmark's sample,
 * much of it in V8's property caches missing on the attribute records' many
 * shapes). Elements kept as XmlElements (raw
 * specs such as <metadata>, leaves and what the spec does not know) are built
 * as fastTree builds them.
 *
 * The result, and the warnings, are decode()'s on fastTree's tree. Where
 * fastTree would give up (anything unusual, or a fault), or where decode
 * would do something other than build data (a root of another name, a
 * repeated child whose key already holds something else), this gives up too,
 * having changed nothing: the caller then takes the two steps, which read and
 * report such documents exactly as before.
 */
import type { XmlElement } from '../xml/tree.ts';
import { type FastOpen, beginUnescape, fastFinish, fastPushElement, fastUnescape, isBlank, isNameChar, isNameStart, isSpace, skipProlog, spacesOnly } from '../xml/read.ts';
import { type Compiled, type CompiledChild, type Warning, compile, isTextOnly } from './codec.ts';
import { type ElementSpec, type GenericElement, type Unknown, resolve } from './spec.ts';

// How an element's parent takes it once it closes.
/** The document's root. */
const ROOT = 0;
/** Decoded by its element spec. */
const ELEMENT = 1;
/** A leaf: its text, when it is text only. */
const LEAF = 2;
/** Kept as written (a raw spec). */
const RAW = 3;
/** Unknown to the spec (or not in the expected form): kept in `$unknown`. */
const UNKNOWN = 4;
/** Inside an element kept as written. */
const TREE = 5;

/** An open element: decoded (`c` set) or built as an XmlElement (`el` set). Reused per depth. */
class Frame {
  name = '';
  role: number = ROOT;
  /** The parent's compiled child (Element, Leaf, Raw; Unknown when the spec lists it). */
  cs: CompiledChild | undefined = undefined;
  /** Its position among the parent's element children, and whether the spec repeats it (its path). */
  pos = 0;
  many = false;
  /** Whether an element child has closed in it (text is then layout). */
  hasElements = false;
  el: FastOpen | undefined = undefined;
  s: ElementSpec | undefined = undefined;
  c: Compiled | undefined = undefined;
  out: GenericElement | undefined = undefined;
  unknownAttrs: Record<string, string> | undefined = undefined;
  unknownChildren: Array<{ after: string | null; node: XmlElement }> | undefined = undefined;
  lastKnown: string | null = null;
  /** The text pieces: all of them, and those that are not blank. */
  all = '';
  kept = '';
  /** Names of the element children met so far, names[0, nNames) (for the paths of warnings). */
  readonly names: string[] = [];
  nNames = 0;
}

// ---------------------------------------------------------------- names
//
// The element and attribute names the specs know, by a hash taken while the
// name is scanned: a name met in the text is the spec's own string (its hash
// already computed, for the lookups in the compiled specs) rather than a new
// slice of the text hashed again on each lookup. Names the specs do not know
// are sliced as before.

const NAME_BITS = 12;
const NAME_MASK = (1 << NAME_BITS) - 1;
/** Open addressing, linear probing; kept at most half full. */
const nameTable: Array<string | undefined> = new Array<string | undefined>(1 << NAME_BITS).fill(undefined);
let namesHeld = 0;
const namesKnown = new WeakSet<ElementSpec>();

function nameHash(s: string): number {
  let h = s.charCodeAt(0);
  for (let k = 1; k < s.length; k++) h = (Math.imul(h, 31) + s.charCodeAt(k)) | 0;
  return h;
}

function slotOf(h: number): number {
  return (h ^ (h >>> NAME_BITS) ^ (h >>> (2 * NAME_BITS))) & NAME_MASK;
}

function addName(s: string): void {
  if (namesHeld >= (NAME_MASK + 1) >> 1) return;
  let k = slotOf(nameHash(s));
  for (let cand = nameTable[k]; cand !== undefined; cand = nameTable[k]) {
    if (cand === s) return;
    k = (k + 1) & NAME_MASK;
  }
  nameTable[k] = s;
  namesHeld++;
}

/** Every name under `spec` (lazy specs followed once). */
function knowNames(spec: ElementSpec): void {
  const seen = new Set<object>();
  const walk = (s: ElementSpec): void => {
    if (seen.has(s)) return;
    seen.add(s);
    for (const a of s.attrs) addName(a);
    for (const [child, cs] of Object.entries(s.children)) {
      addName(child);
      const r = resolve(cs.spec);
      if (r.kind === 'element') walk(r);
    }
  };
  walk(spec);
  namesKnown.add(spec);
}

/** text[from, to), with `h` its nameHash: the spec's string when it is one of theirs. */
function nameAt(text: string, from: number, to: number, h: number): string {
  const len = to - from;
  for (let k = slotOf(h); ; k = (k + 1) & NAME_MASK) {
    const cand = nameTable[k];
    if (cand === undefined) return text.slice(from, to);
    if (cand.length === len && text.startsWith(cand, from)) return cand;
  }
}

const frames: Frame[] = [];
const attrNames: string[] = [];
const attrValues: string[] = [];
let warnings: Warning[] = [];
let basePath = '';

/** 1-based position of `names[pos]` among the names equal to it up to there. */
function sameNameIndex(names: readonly string[], pos: number, name: string): number {
  let n = 0;
  for (let k = 0; k <= pos; k++) if (names[k] === name) n++;
  return n;
}

/** The path of the decoded element at depth `d` (0: the root, at basePath). */
function pathOf(d: number): string {
  let p = basePath;
  for (let k = 1; k <= d; k++) {
    const f = frames[k]!;
    p += f.many ? `/${f.name}[${sameNameIndex(frames[k - 1]!.names, f.pos, f.name)}]` : `/${f.name}`;
  }
  return p;
}

function unknownChildWarning(parentDepth: number, cs: CompiledChild | undefined, name: string, pos: number): void {
  const parent = frames[parentDepth]!;
  const n = sameNameIndex(parent.names, pos, name);
  const index = (cs !== undefined ? cs.many : n > 1) ? n : 0;
  const at = pathOf(parentDepth);
  warnings.push({
    path: index ? `${at}/${name}[${index}]` : `${at}/${name}`,
    message: cs === undefined ? `element <${name}> in <${parent.name}> is not modelled; kept as written` : `element <${name}> in <${parent.name}> is not in the expected form; kept as written`,
  });
}

/** Puts a decoded child's value in its parent's data, as decode does; false where decode would not build data. */
function store(parent: Frame, cs: CompiledChild, value: unknown): boolean {
  const out = parent.out!;
  if (cs.many) {
    const cur = out[cs.key];
    if (cur === undefined) out[cs.key] = [value] as GenericElement[];
    else if (Array.isArray(cur)) (cur as unknown[]).push(value);
    else return false;
  } else out[cs.key] = value as GenericElement;
  return true;
}

/** Opens the element `name` at depth `d` with the attributes read into attrNames/attrValues[0, m). */
function open(d: number, name: string, m: number): Frame {
  let f = frames[d];
  if (f === undefined) frames[d] = f = new Frame();
  f.name = name;
  f.hasElements = false;
  f.nNames = 0;
  f.all = '';
  f.kept = '';
  f.lastKnown = null;
  f.unknownAttrs = undefined;
  f.unknownChildren = undefined;
  f.out = undefined;
  f.el = undefined;
  f.s = undefined;
  f.c = undefined;
  f.cs = undefined;
  f.many = false;
  f.pos = 0;
  return f;
}

/** The frame becomes an XmlElement being built, with its attributes. */
function asTree(f: Frame, m: number): void {
  const attrs: Record<string, string> = {};
  for (let k = 0; k < m; k++) attrs[attrNames[k]!] = attrValues[k]!;
  f.el = { name: f.name, attrs, children: [] };
}

/** The frame decodes by `s`: its attributes go to its data (or, unknown, aside with a warning). */
function asDecoded(f: Frame, d: number, s: ElementSpec, c: Compiled, m: number): void {
  f.s = s;
  f.c = c;
  const out: GenericElement = {};
  f.out = out;
  const attrKeys = c.attrKeys;
  const seenAttrs = c.seenAttrs;
  for (let k = 0; k < m; k++) {
    const name = attrNames[k]!;
    // The known attribute met at this position last time, when it has this name (see Compiled.seenAttrs).
    let key: string | undefined;
    if (seenAttrs[k] === name) key = c.seenAttrKeys[k]!;
    else {
      key = attrKeys.get(name);
      if (key !== undefined) {
        seenAttrs[k] = name;
        c.seenAttrKeys[k] = key;
      }
    }
    if (key !== undefined) out[key] = attrValues[k]!;
    else {
      (f.unknownAttrs ??= {})[name] = attrValues[k]!;
      warnings.push({ path: `${pathOf(d)}/@${name}`, message: `attribute '${name}' of <${f.name}> is not modelled; kept as written` });
    }
  }
}

/** Opens a child of the frame at depth d - 1 (the parent), deciding how the parent takes it. */
function openChild(d: number, name: string, m: number): void {
  const parent = frames[d - 1]!;
  const f = open(d, name, m);
  if (parent.el !== undefined) {
    f.role = TREE;
    asTree(f, m);
    return;
  }
  const pos = parent.nNames++;
  parent.names[pos] = name;
  f.pos = pos;
  // The known child met at this position last time, when it has this name (see Compiled.seenChildren).
  const pc = parent.c!;
  let cs = pc.seenChildren[pos];
  if (cs === undefined || cs.name !== name) {
    cs = pc.childKeys.get(name);
    if (cs !== undefined) pc.seenChildren[pos] = cs;
  }
  f.cs = cs;
  if (cs === undefined || (!cs.many && parent.out![cs.key] !== undefined)) {
    f.role = UNKNOWN;
    unknownChildWarning(d - 1, cs, name, pos);
    asTree(f, m);
    return;
  }
  f.many = cs.many;
  const r = cs.resolved;
  if (r.kind === 'leaf') {
    f.role = LEAF;
    asTree(f, m);
  } else if (r.kind === 'raw') {
    f.role = RAW;
    asTree(f, m);
  } else {
    f.role = ELEMENT;
    asDecoded(f, d, r, (cs.compiled ??= compile(r)), m);
  }
}

/** The data of a decoded frame once closed: its text and what it kept aside. */
function finishDecoded(f: Frame, d: number): GenericElement {
  const out = f.out!;
  const text = f.hasElements ? f.kept : f.all;
  if (f.s!.text && text !== '') out['text'] = text;
  else if (!f.s!.text && text.trim() !== '') {
    warnings.push({ path: pathOf(d), message: `text in <${f.name}> is not modelled; kept as written` });
    out['text'] = text;
  }
  const unknownAttrs = f.unknownAttrs;
  const unknownChildren = f.unknownChildren;
  if (unknownAttrs || unknownChildren) {
    const u: Unknown = { ...(unknownAttrs ? { attrs: unknownAttrs } : {}), ...(unknownChildren ? { children: unknownChildren } : {}) };
    out['$unknown'] = u;
  }
  return out;
}

/** Closes the frame at depth d > 0 into its parent; false where decode would not build data. */
function closeChild(d: number): boolean {
  const f = frames[d]!;
  const parent = frames[d - 1]!;
  const role = f.role;
  if (role === ELEMENT) {
    const out = finishDecoded(f, d);
    parent.lastKnown = f.name;
    if (!store(parent, f.cs!, out)) return false;
  } else {
    const el = fastFinish(f.el!, f.hasElements);
    if (role === TREE) fastPushElement(parent.el!, parent.hasElements, el);
    else if (role === UNKNOWN) {
      // A second of a one-only child is kept right after the first, as decode keeps it.
      const cs = f.cs;
      const twin = cs !== undefined && !cs.many && parent.out![cs.key] !== undefined;
      (parent.unknownChildren ??= []).push({ after: twin ? f.name : parent.lastKnown, node: el });
    }
    else if (role === RAW) {
      parent.lastKnown = f.name;
      if (!store(parent, f.cs!, el)) return false;
    } else if (!isTextOnly(el)) {
      // A leaf not in the expected form is kept after its name, as decode keeps it.
      (parent.unknownChildren ??= []).push({ after: f.name, node: el });
      unknownChildWarning(d - 1, f.cs, f.name, f.pos);
    } else {
      parent.lastKnown = f.name;
      // Text only: no string or one (fastFinish joined the pieces).
      const kids = el.children as readonly string[];
      if (!store(parent, f.cs!, kids.length === 0 ? '' : kids.length === 1 ? kids[0]! : kids.join(''))) return false;
    }
  }
  parent.hasElements = true;
  return true;
}

/**
 * decode(fastTree(text), spec, path, into) for a document whose root is
 * `rootName`; undefined (and `into` untouched) where the two steps are needed.
 */
export function fastDecode(text: string, maxDepth: number, rootName: string, spec: ElementSpec, path: string, into: Warning[]): GenericElement | undefined {
  if (!namesKnown.has(spec)) knowNames(spec);
  warnings = [];
  basePath = path;
  try {
    const out = scan(text, maxDepth, rootName, spec);
    if (out !== undefined) for (let k = 0; k < warnings.length; k++) into.push(warnings[k]!);
    return out;
  } finally {
    warnings = [];
    for (const f of frames) {
      f.out = undefined;
      f.el = undefined;
      f.unknownAttrs = undefined;
      f.unknownChildren = undefined;
    }
  }
}

/** fastTree's reading, element by element (its comments say why each step is as it is). */
function scan(text: string, maxDepth: number, rootName: string, spec: ElementSpec): GenericElement | undefined {
  const n = text.length;
  beginUnescape(text);
  let depth = 0;
  let root: GenericElement | undefined;
  let nextLt = -1;
  const start = skipProlog(text);
  if (start === undefined) return undefined;
  let i = start;
  while (i < n) {
    const c = text.charCodeAt(i + 1);
    if (c === 47 /* / */) {
      if (depth === 0) return undefined;
      const f = frames[depth - 1]!;
      if (!text.startsWith(f.name, i + 2)) return undefined;
      let j = i + 2 + f.name.length;
      while (j < n && isSpace(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 62 /* > */) return undefined;
      depth--;
      i = j + 1;
      if (depth === 0) {
        root = finishDecoded(f, 0);
        break;
      }
      if (!closeChild(depth)) return undefined;
    } else if (c === 33 /* ! */) {
      if (!text.startsWith('<!--', i)) return undefined;
      const end = text.indexOf('-->', i + 4);
      if (end === -1) return undefined;
      i = end + 3;
    } else {
      if (!isNameStart(c)) return undefined;
      let j = i + 2;
      let h = c;
      for (let d: number; j < n && isNameChar((d = text.charCodeAt(j))); j++) h = (Math.imul(h, 31) + d) | 0;
      const name = nameAt(text, i + 1, j, h);
      let tagLt = text.indexOf('<', j);
      if (tagLt === -1) tagLt = n;
      let m = 0;
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
        let h = d;
        for (let e: number; j < n && isNameChar((e = text.charCodeAt(j))); j++) h = (Math.imul(h, 31) + e) | 0;
        const key = nameAt(text, ks, j, h);
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) !== 61 /* = */) return undefined;
        j++;
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        const q = text.charCodeAt(j);
        if (q !== 39 && q !== 34) return undefined;
        const close = text.indexOf(q === 39 ? "'" : '"', j + 1);
        if (close === -1) return undefined;
        if (tagLt < close) return undefined;
        if (key === '__proto__') return undefined;
        for (let k = 0; k < m; k++) if (attrNames[k] === key) return undefined;
        const v = fastUnescape(text, j + 1, close);
        if (v === undefined) return undefined;
        attrNames[m] = key;
        attrValues[m] = v;
        m++;
        j = close + 1;
      }
      i = j + 1;
      nextLt = tagLt;
      if (!selfClosing && depth >= maxDepth) return undefined;
      if (depth === 0) {
        if (name !== rootName) return undefined;
        const f = open(0, name, m);
        f.role = ROOT;
        asDecoded(f, 0, spec, compile(spec), m);
        if (selfClosing) {
          root = finishDecoded(f, 0);
          break;
        }
      } else {
        openChild(depth, name, m);
        if (selfClosing && !closeChild(depth)) return undefined;
      }
      if (!selfClosing) depth++;
    }
    let lt = nextLt;
    if (lt < i) lt = text.indexOf('<', i);
    if (lt === -1 || lt >= n) return undefined;
    if (lt > i) {
      const top = frames[depth - 1]!;
      const layout = top.hasElements;
      if (!(layout && spacesOnly(text, i, lt))) {
        const t = fastUnescape(text, i, lt);
        if (t === undefined) return undefined;
        const el = top.el;
        if (el !== undefined) {
          if (!(layout && isBlank(t))) el.children.push(t);
        } else {
          top.all += t;
          if (!isBlank(t)) top.kept += t;
        }
      }
    }
    i = lt;
  }
  if (!root) return undefined;
  for (;;) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n) return root;
    if (!text.startsWith('<!--', i)) return undefined;
    const end = text.indexOf('-->', i + 4);
    if (end === -1) return undefined;
    i = end + 3;
  }
}
