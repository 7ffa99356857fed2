/**
 * Decodes an XmlElement into plain data by a spec and encodes it back in the
 * spec's (libvirt's) order. Nothing is dropped: what the spec does not list
 * goes to `$unknown`, is reported as a warning, and is written back after the
 * known sibling it followed.
 */
import { escapeXml } from '../xml/escape.ts';
import type { XmlElement, XmlNode } from '../xml/tree.ts';
import { indentOf, writeElement } from '../xml/write.ts';
import { type AnySpec, type ElementSpec, type GenericElement, type LazySpec, type Unknown, camel, resolve } from './spec.ts';

export interface Warning {
  readonly path: string;
  readonly message: string;
}

export interface CompiledChild {
  readonly name: string;
  readonly key: string;
  readonly many: boolean;
  readonly spec: AnySpec;
  /** The child's spec, a lazy one resolved. */
  readonly resolved: Exclude<AnySpec, LazySpec>;
  /** The child's spec is a leaf. */
  readonly leaf: boolean;
  /** The child's compiled spec, once compiled (an element spec). */
  compiled?: Compiled;
}
export interface Compiled {
  readonly attrKeys: ReadonlyMap<string, string>;
  readonly childKeys: ReadonlyMap<string, CompiledChild>;
  /** The same, as arrays in spec order: encoding walks them for every element. */
  readonly attrList: ReadonlyArray<readonly [xmlName: string, key: string]>;
  /** Each attribute's ` name='` as written, in attrList's order. */
  readonly attrOpen: readonly string[];
  readonly childList: readonly CompiledChild[];
  /**
   * Data key → its place in libvirt's order (attributes, then children), for
   * writing an element from the keys it has rather than every key the spec
   * knows (a few against a dozen and more); undefined where keys are shared
   * (with each other, `text` or `$unknown`), which the ordered walk handles.
   */
  readonly slots: ReadonlyMap<string, number> | undefined;
  /**
   * The keys of the element last written by this spec, by position, with
   * their slots (-1: none): elements of a kind mostly have the same keys in
   * the same order, and comparing a key to the one at its place costs less
   * than looking it up in `slots`.
   */
  readonly seenKeys: string[];
  readonly seenSlots: number[];
  /** The same for decoding (codec/fast-decode.ts): the known child last met at each position, */
  readonly seenChildren: CompiledChild[];
  /** and the known attribute last met at each position, with its key. */
  readonly seenAttrs: string[];
  readonly seenAttrKeys: string[];
}
const compiled = new WeakMap<ElementSpec, Compiled>();

export function compile(spec: ElementSpec): Compiled {
  let c = compiled.get(spec);
  if (!c) {
    const attrList = spec.attrs.map((a) => [a, camel(a)] as const);
    const childList: CompiledChild[] = Object.entries(spec.children).map(([n, cs]) => {
      const resolved = resolve(cs.spec);
      return { name: n, key: cs.key ?? camel(n), many: cs.many, spec: cs.spec, resolved, leaf: resolved.kind === 'leaf' };
    });
    const keys = [...attrList.map((a) => a[1]), ...childList.map((x) => x.key)];
    const unique = new Set(keys).size === keys.length && !keys.includes('text') && !keys.includes('$unknown');
    const attrOpen = attrList.map((a) => ` ${a[0]}='`);
    c = { attrKeys: new Map(attrList), childKeys: new Map(childList.map((x) => [x.name, x])), attrList, attrOpen, childList, slots: unique ? new Map(keys.map((k, i) => [k, i])) : undefined, seenKeys: [], seenSlots: [], seenChildren: [], seenAttrs: [], seenAttrKeys: [] };
    compiled.set(spec, c);
  }
  return c;
}

export function childPath(parent: string, name: string, many: boolean, index: number): string {
  return many ? `${parent}/${name}[${index}]` : `${parent}/${name}`;
}

export function isTextOnly(el: XmlElement): boolean {
  for (const k in el.attrs) return false;
  const kids = el.children;
  for (let i = 0; i < kids.length; i++) if (typeof kids[i] !== 'string') return false;
  return true;
}

// The path of the element being decoded, kept as segments below the path
// decode() was given: each one's name, parent element and position in it,
// and whether the spec lists it as repeated. A warning's path is built from
// them, so neither an element's path nor its index among same-named
// siblings is worked out when nothing is to be said about it.
const segNames: string[] = [];
const segParents: XmlElement[] = [];
const segPos: number[] = [];
const segMany: boolean[] = [];
let segDepth = 0;
let basePath = '';

/** 1-based position of `parent.children[pos]` among its siblings of the same name. */
function sameNameIndex(parent: XmlElement, pos: number, name: string): number {
  const kids = parent.children;
  let n = 0;
  for (let k = 0; k <= pos; k++) {
    const c = kids[k]!;
    if (typeof c !== 'string' && c.name === name) n++;
  }
  return n;
}

function currentPath(): string {
  let p = basePath;
  for (let i = 0; i < segDepth; i++) {
    const name = segNames[i]!;
    p += segMany[i] ? `/${name}[${sameNameIndex(segParents[i]!, segPos[i]!, name)}]` : `/${name}`;
  }
  return p;
}

/** Decodes `el` by `spec`. `path` is the element's own path, used in warnings. */
export function decode(el: XmlElement, spec: AnySpec, path: string, warnings: Warning[]): unknown {
  const savedBase = basePath;
  const savedDepth = segDepth;
  basePath = path;
  segDepth = 0;
  try {
    const s = resolve(spec);
    return decodeAt(el, s, s.kind === 'element' ? compile(s) : undefined, warnings);
  } finally {
    basePath = savedBase;
    segDepth = savedDepth;
    // The outermost call lets go of the document's elements.
    if (savedDepth === 0) segParents.length = 0;
  }
}

/** `c` is `s`'s compiled form when `s` is an element spec. */
function decodeAt(el: XmlElement, s: Exclude<AnySpec, LazySpec>, c: Compiled | undefined, warnings: Warning[]): unknown {
  if (s.kind === 'leaf') return el.children.join('');
  if (s.kind === 'raw' || c === undefined) return el;
  const { attrKeys, childKeys } = c;
  const out: GenericElement = {};
  let unknownAttrs: Record<string, string> | undefined;
  const attrs = el.attrs;
  for (const name in attrs) {
    const key = attrKeys.get(name);
    if (key !== undefined) out[key] = attrs[name]!;
    else {
      (unknownAttrs ??= {})[name] = attrs[name]!;
      warnings.push({ path: `${currentPath()}/@${name}`, message: `attribute '${name}' of <${el.name}> is not modelled; kept as written` });
    }
  }
  let unknownChildren: Array<{ after: string | null; node: XmlElement }> | undefined;
  let lastKnown: string | null = null;
  let text = '';
  const kids = el.children;
  for (let i = 0; i < kids.length; i++) {
    const child = kids[i]!;
    if (typeof child === 'string') {
      text += child;
      continue;
    }
    const cname = child.name;
    const cs = childKeys.get(cname);
    if (cs === undefined || (cs.leaf && !isTextOnly(child)) || (!cs.many && out[cs.key] !== undefined)) {
      // A second element where the spec (as libvirt) reads one, a twin, is kept right
      // after the first: anchored after the last known sibling before it, it would be
      // written before the first wherever the spec orders that sibling earlier, and
      // read back as the first. So is a leaf not in the expected form (attributes,
      // element children): a rule may fill its known namesake after the first read
      // (a <uuid> generated, an <on_reboot> defaulted), which a reparse then reads first.
      const twin = cs !== undefined && ((!cs.many && out[cs.key] !== undefined) || cs.leaf);
      (unknownChildren ??= []).push({ after: twin ? cname : lastKnown, node: child });
      // Indexed when the spec repeats it, or (unknown to the spec) when it is not the first of its name.
      const n = sameNameIndex(el, i, cname);
      const index = (cs !== undefined ? cs.many : n > 1) ? n : 0;
      warnings.push({
        path: index ? `${currentPath()}/${cname}[${index}]` : `${currentPath()}/${cname}`,
        message: cs === undefined ? `element <${cname}> in <${el.name}> is not modelled; kept as written` : `element <${cname}> in <${el.name}> is not in the expected form; kept as written`,
      });
      continue;
    }
    lastKnown = cname;
    segNames[segDepth] = cname;
    segParents[segDepth] = el;
    segPos[segDepth] = i;
    segMany[segDepth] = cs.many;
    segDepth++;
    const cr = cs.resolved;
    const value = decodeAt(child, cr, cr.kind === 'element' ? (cs.compiled ??= compile(cr)) : undefined, warnings);
    segDepth--;
    if (cs.many) ((out[cs.key] as unknown[] | undefined) ?? (out[cs.key] = [] as GenericElement[]) as unknown[]).push(value);
    else out[cs.key] = value as GenericElement;
  }
  if (s.text && text !== '') out['text'] = text;
  else if (!s.text && text.trim() !== '') {
    warnings.push({ path: currentPath(), message: `text in <${el.name}> is not modelled; kept as written` });
    out['text'] = text;
  }
  if (unknownAttrs || unknownChildren) {
    const u: Unknown = { ...(unknownAttrs ? { attrs: unknownAttrs } : {}), ...(unknownChildren ? { children: unknownChildren } : {}) };
    out['$unknown'] = u;
  }
  return out;
}

/** Encodes `value` as element `name` by `spec`, in the spec's order. */
export function encode(name: string, value: unknown, spec: AnySpec): XmlElement {
  const s = resolve(spec);
  if (s.kind === 'leaf') return { name, attrs: {}, children: value === '' ? [] : [String(value)] };
  if (s.kind === 'raw') return value as XmlElement;
  const data = value as GenericElement;
  const { attrList, childList } = compile(s);
  const attrs: Record<string, string> = {};
  for (let i = 0; i < attrList.length; i++) {
    const [xmlName, key] = attrList[i]!;
    const v = data[key];
    if (v !== undefined) attrs[xmlName] = v as string;
  }
  const unknown = data['$unknown'] as Unknown | undefined;
  if (unknown?.attrs) Object.assign(attrs, unknown.attrs);
  const children: XmlNode[] = [];
  if (typeof data['text'] === 'string' && data['text'] !== '') children.push(data['text']);
  const pending = unknown?.children;
  if (pending) flushAfter(pending, null, children, true);
  for (let i = 0; i < childList.length; i++) {
    const cs = childList[i]!;
    const v = data[cs.key];
    if (v !== undefined) {
      if (cs.many) for (const item of v as unknown[]) children.push(encode(cs.name, item, cs.spec));
      else children.push(encode(cs.name, v, cs.spec));
    }
    if (pending) flushAfter(pending, cs.name, children, v !== undefined, cs.leaf);
  }
  return { name, attrs, children };
}

/**
 * Writes back the unknown children that followed the known child `after` (null: the first ones).
 * `present`: whether that child is written. A second of a one-only child (a twin: kept after
 * the first, of the same name) goes with the first: written without it, it would be read
 * back as the first (libvirt, which reads only the first, never writes the second).
 */
function flushAfter(pending: NonNullable<Unknown['children']>, after: string | null, children: XmlNode[], present: boolean, leaf = false): void {
  for (const u of pending) if (u.after === after && !isOrphanTwin(u.node, after, present, leaf)) children.push(u.node);
}

/**
 * Whether `node`, kept after the known child `after`, is a twin of it that is
 * not written because that child is not (a leaf not in the expected form is
 * no twin: it is kept, as any element the spec does not read).
 */
function isOrphanTwin(node: XmlElement, after: string | null, present: boolean, leaf: boolean): boolean {
  return !present && node.name === after && !(leaf && !isTextOnly(node));
}

/**
 * Leaves children out while writing: in an element named `at`, its children
 * named `drop`; the rule reaches the `at` children of the element it is
 * applied to and, through elements named in `through`, their descendants
 * (how libvirt leaves a disk's HTTP cookies out, down the backing chain).
 */
export interface Prune {
  readonly at: string;
  readonly drop: string;
  readonly through: readonly string[];
}

/** `prune` applied to a tree, as writeEncoded applies it while writing. */
export function pruneXml(el: XmlElement, prune: Prune): XmlElement {
  if (el.name === prune.at) return { ...el, children: el.children.filter((c) => typeof c === 'string' || c.name !== prune.drop) };
  if (!prune.through.includes(el.name)) return el;
  return { ...el, children: el.children.map((c) => (typeof c === 'string' ? c : pruneXml(c, prune))) };
}

/** How writeEncoded treats the direct children of the element it writes. */
export interface WriteHooks {
  /** Writes a known child itself (at `depth`); undefined leaves it to the generic writer. */
  readonly child?: (name: string, value: unknown, spec: AnySpec, depth: number) => string | undefined;
  /** Rewrites an unknown child before it is written. */
  readonly unknown?: (node: XmlElement) => XmlElement;
  /** Children of these names are written as an opening and a closing tag when empty. */
  readonly openChildren?: readonly string[];
}

/**
 * writeXml(encode(name, value, spec), depth) in one pass, without the
 * intermediate tree; `open` writes the element as an opening and a closing
 * tag when it is empty (an XmlElement's style 'open'); `prune` leaves
 * children out as pruneXml does.
 */
export function writeEncoded(name: string, value: unknown, spec: AnySpec, depth: number, hooks?: WriteHooks, open = false, prune?: Prune): string {
  const s = resolve(spec);
  return writeWith(name, value, s, s.kind === 'element' ? compile(s) : undefined, depth, hooks, open, prune);
}

const slotBuffers: number[][] = [];
const valueBuffers: unknown[][] = [];
const buffersBusy: boolean[] = [];

/** writeEncoded with the spec resolved and, for an element spec, compiled (`c`). */
function writeWith(name: string, value: unknown, s: Exclude<AnySpec, LazySpec>, c: Compiled | undefined, depth: number, hooks: WriteHooks | undefined, open: boolean, prune: Prune | undefined): string {
  const pad = indentOf(depth);
  if (s.kind === 'leaf') {
    if (value === '') return open ? `${pad}<${name}>\n${pad}</${name}>\n` : `${pad}<${name}/>\n`;
    return `${pad}<${name}>${escapeXml(String(value))}</${name}>\n`;
  }
  if (s.kind === 'raw') {
    let el = value as XmlElement;
    if (prune) el = pruneXml(el, prune);
    if (open && el.children.length === 0) el = { ...el, style: 'open' };
    return writeElement(el, depth, false);
  }
  const data = value as GenericElement;
  if (c === undefined) c = compile(s);
  const slotOf = c.slots;
  // `text` and `$unknown` are read in the walk over the element's keys where the spec
  // has slots (none of its keys is either): two lookups less on objects of every shape.
  let unknown: Unknown | undefined;
  let text: unknown;
  let tag = `${pad}<${name}`;
  let body: string | undefined;
  if (slotOf !== undefined) {
    // The keys the element has, in libvirt's order (insertion sort: they are few), in
    // buffers kept per depth: the children written meanwhile are deeper and use others
    // (a writer called again at a depth in use, from a hook, gets its own).
    const shared = buffersBusy[depth] !== true;
    const slots = shared ? (slotBuffers[depth] ??= []) : [];
    const values = shared ? (valueBuffers[depth] ??= []) : [];
    if (shared) buffersBusy[depth] = true;
    const seenKeys = c.seenKeys;
    const seenSlots = c.seenSlots;
    try {
      let m = 0;
      let at = 0;
      for (const key in data) {
        let slot: number;
        if (seenKeys[at] === key) slot = seenSlots[at]!;
        else {
          slot = slotOf.get(key) ?? -1;
          seenKeys[at] = key;
          seenSlots[at] = slot;
        }
        at++;
        if (slot === -1) {
          if (key === 'text') text = data[key];
          else if (key === '$unknown') unknown = data[key] as Unknown | undefined;
          continue;
        }
        const v = data[key];
        if (v === undefined) continue;
        let j = m++;
        while (j > 0 && slots[j - 1]! > slot) {
          slots[j] = slots[j - 1]!;
          values[j] = values[j - 1];
          j--;
        }
        slots[j] = slot;
        values[j] = v;
      }
      if (unknown === undefined) {
        const nAttrs = c.attrList.length;
        const dropHere = prune !== undefined && name === prune.at ? prune.drop : undefined;
        const inner = prune !== undefined && prune.through.includes(name) ? prune : undefined;
        const sub = depth + 1;
        body = '';
        for (let i = 0; i < m; i++) {
          const slot = slots[i]!;
          const v = values[i];
          if (slot < nAttrs) {
            tag += c.attrOpen[slot]! + escapeXml(v as string) + "'";
            continue;
          }
          const cs = c.childList[slot - nAttrs]!;
          if (cs.name === dropHere) continue;
          const openChild = hooks?.openChildren?.includes(cs.name) ?? false;
          if (cs.many) {
            if (Array.isArray(v)) for (let j = 0; j < v.length; j++) body += writeChild(cs, v[j], sub, hooks, openChild, inner);
            else for (const item of v as Iterable<unknown>) body += writeChild(cs, item, sub, hooks, openChild, inner);
          } else body += writeChild(cs, v, sub, hooks, openChild, inner);
        }
      }
    } finally {
      if (shared) buffersBusy[depth] = false;
    }
  } else {
    unknown = data['$unknown'] as Unknown | undefined;
    text = data['text'];
  }
  if (body === undefined) body = writeOrdered(data, c, unknown, depth, hooks, prune, (t) => (tag += t), name);
  const t = text;
  const hasText = typeof t === 'string' && t !== '';
  if (body === '') {
    if (hasText) return `${tag}>${escapeXml(t)}</${name}>\n`;
    return open ? `${tag}>\n${pad}</${name}>\n` : `${tag}/>\n`;
  }
  return `${tag}>\n${hasText ? `${pad}  ${escapeXml(t.trim())}\n` : ''}${body}${pad}</${name}>\n`;
}

/**
 * The element's attributes (through `attr`) and children by walking every key
 * the spec knows, in its order, with the unknown children after the known
 * sibling they followed: encode's walk.
 */
function writeOrdered(data: GenericElement, c: Compiled, unknown: Unknown | undefined, depth: number, hooks: WriteHooks | undefined, prune: Prune | undefined, attr: (text: string) => void, name: string): string {
  const { attrList, childList } = c;
  if (unknown?.attrs) {
    // Object.assign's order, as encode builds it: a known name keeps its place.
    const attrs: Record<string, string> = {};
    for (let i = 0; i < attrList.length; i++) {
      const a = attrList[i]!;
      const v = data[a[1]];
      if (v !== undefined) attrs[a[0]] = v as string;
    }
    Object.assign(attrs, unknown.attrs);
    for (const k in attrs) attr(` ${k}='${escapeXml(attrs[k]!)}'`);
  } else {
    for (let i = 0; i < attrList.length; i++) {
      const a = attrList[i]!;
      const v = data[a[1]];
      if (v !== undefined) attr(` ${a[0]}='${escapeXml(v as string)}'`);
    }
  }
  const dropHere = prune !== undefined && name === prune.at ? prune.drop : undefined;
  const inner = prune !== undefined && prune.through.includes(name) ? prune : undefined;
  const sub = depth + 1;
  const pending = unknown?.children;
  let body = pending ? writeUnknown(pending, null, true, sub, hooks, dropHere, inner) : '';
  for (let i = 0; i < childList.length; i++) {
    const cs = childList[i]!;
    const v = data[cs.key];
    if (v !== undefined && cs.name !== dropHere) {
      const openChild = hooks?.openChildren?.includes(cs.name) ?? false;
      if (cs.many) {
        if (Array.isArray(v)) for (let j = 0; j < v.length; j++) body += writeChild(cs, v[j], sub, hooks, openChild, inner);
        else for (const item of v as Iterable<unknown>) body += writeChild(cs, item, sub, hooks, openChild, inner);
      } else body += writeChild(cs, v, sub, hooks, openChild, inner);
    }
    if (pending) body += writeUnknown(pending, cs.name, v !== undefined && cs.name !== dropHere, sub, hooks, dropHere, inner, cs.leaf);
  }
  return body;
}

function writeChild(cs: CompiledChild, v: unknown, depth: number, hooks: WriteHooks | undefined, open: boolean, prune: Prune | undefined): string {
  if (hooks?.child) {
    const out = hooks.child(cs.name, v, cs.spec, depth);
    if (out !== undefined) return out;
  }
  const r = cs.resolved;
  return writeWith(cs.name, v, r, r.kind === 'element' ? (cs.compiled ??= compile(r)) : undefined, depth, undefined, open, prune);
}

/** The unknown children that followed the known child `after`, written (flushAfter's order and `present`). */
function writeUnknown(pending: NonNullable<Unknown['children']>, after: string | null, present: boolean, depth: number, hooks: WriteHooks | undefined, drop: string | undefined, prune: Prune | undefined, leaf = false): string {
  let out = '';
  for (const u of pending) {
    if (u.after !== after || isOrphanTwin(u.node, after, present, leaf)) continue;
    let node = u.node;
    if (node.name === drop) continue;
    if (prune) node = pruneXml(node, prune);
    if (hooks?.unknown) node = hooks.unknown(node);
    if (hooks?.openChildren?.includes(node.name) && node.children.length === 0) node = { ...node, style: 'open' };
    out += writeElement(node, depth, false);
  }
  return out;
}
