/**
 * Decodes an XmlElement into plain data by a spec and encodes it back in the
 * spec's (libvirt's) order. Nothing is dropped: what the spec does not list
 * goes to `$unknown`, is reported as a warning, and is written back after the
 * known sibling it followed.
 */
import type { XmlElement, XmlNode } from '../xml/tree.ts';
import { type AnySpec, type ElementSpec, type GenericElement, type Unknown, camel, resolve } from './spec.ts';

export interface Warning {
  readonly path: string;
  readonly message: string;
}

interface CompiledChild {
  readonly name: string;
  readonly key: string;
  readonly many: boolean;
  readonly spec: AnySpec;
}
interface Compiled {
  readonly attrKeys: ReadonlyMap<string, string>;
  readonly childKeys: ReadonlyMap<string, CompiledChild>;
  /** The same, as arrays in spec order: encoding walks them for every element. */
  readonly attrList: ReadonlyArray<readonly [xmlName: string, key: string]>;
  readonly childList: readonly CompiledChild[];
}
const compiled = new WeakMap<ElementSpec, Compiled>();

function compile(spec: ElementSpec): Compiled {
  let c = compiled.get(spec);
  if (!c) {
    const attrList = spec.attrs.map((a) => [a, camel(a)] as const);
    const childList = Object.entries(spec.children).map(([n, cs]) => ({ name: n, key: cs.key ?? camel(n), many: cs.many, spec: cs.spec }));
    c = { attrKeys: new Map(attrList), childKeys: new Map(childList.map((x) => [x.name, x])), attrList, childList };
    compiled.set(spec, c);
  }
  return c;
}

export function childPath(parent: string, name: string, many: boolean, index: number): string {
  return many ? `${parent}/${name}[${index}]` : `${parent}/${name}`;
}

function isTextOnly(el: XmlElement): boolean {
  for (const k in el.attrs) return false;
  return el.children.every((c) => typeof c === 'string');
}

/** Decodes `el` by `spec`. `path` is the element's own path, used in warnings. */
export function decode(el: XmlElement, spec: AnySpec, path: string, warnings: Warning[]): unknown {
  const s = resolve(spec);
  if (s.kind === 'leaf') return el.children.join('');
  if (s.kind === 'raw') return el;
  const { attrKeys, childKeys } = compile(s);
  const out: GenericElement = {};
  let unknownAttrs: Record<string, string> | undefined;
  for (const name in el.attrs) {
    const key = attrKeys.get(name);
    if (key !== undefined) out[key] = el.attrs[name]!;
    else {
      (unknownAttrs ??= {})[name] = el.attrs[name]!;
      warnings.push({ path: `${path}/@${name}`, message: `attribute '${name}' of <${el.name}> is not modelled; kept as written` });
    }
  }
  let unknownChildren: Array<{ after: string | null; node: XmlElement }> | undefined;
  let lastKnown: string | null = null;
  const counts = new Map<string, number>();
  let text = '';
  for (const child of el.children) {
    if (typeof child === 'string') {
      text += child;
      continue;
    }
    const n = (counts.get(child.name) ?? 0) + 1;
    counts.set(child.name, n);
    const cs = childKeys.get(child.name);
    const cpath = childPath(path, child.name, cs?.many ?? n > 1, n);
    const leafWithExtras = cs !== undefined && resolve(cs.spec).kind === 'leaf' && !isTextOnly(child);
    if (cs === undefined || leafWithExtras || (!cs.many && out[cs.key] !== undefined)) {
      (unknownChildren ??= []).push({ after: lastKnown, node: child });
      warnings.push({
        path: cpath,
        message: cs === undefined ? `element <${child.name}> in <${el.name}> is not modelled; kept as written` : `element <${child.name}> in <${el.name}> is not in the expected form; kept as written`,
      });
      continue;
    }
    lastKnown = child.name;
    const value = decode(child, cs.spec, cpath, warnings);
    if (cs.many) ((out[cs.key] as unknown[] | undefined) ?? (out[cs.key] = [] as GenericElement[]) as unknown[]).push(value);
    else out[cs.key] = value as GenericElement;
  }
  if (s.text && text !== '') out['text'] = text;
  else if (!s.text && text.trim() !== '') {
    warnings.push({ path, message: `text in <${el.name}> is not modelled; kept as written` });
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
  if (pending) flushAfter(pending, null, children);
  for (let i = 0; i < childList.length; i++) {
    const cs = childList[i]!;
    const v = data[cs.key];
    if (v !== undefined) {
      if (cs.many) for (const item of v as unknown[]) children.push(encode(cs.name, item, cs.spec));
      else children.push(encode(cs.name, v, cs.spec));
    }
    if (pending) flushAfter(pending, cs.name, children);
  }
  return { name, attrs, children };
}

/** Writes back the unknown children that followed the known child `after` (null: the first ones). */
function flushAfter(pending: NonNullable<Unknown['children']>, after: string | null, children: XmlNode[]): void {
  for (const u of pending) if (u.after === after) children.push(u.node);
}
