/**
 * Driver XML namespaces (libvirt's virXMLNamespace: `<lxc:namespace>`,
 * `<bhyve:commandline>`, `<xen:commandline>`). The generic decoder keeps
 * such elements as written, under the domain's `$unknown`; a driver reads
 * them by namespace URI (whatever prefix the document binds to it, as
 * libvirt's XPath lookups do) and writes back its canonical block: the
 * driver's prefix, declared on <domain>, as the last child of <domain>
 * (virDomainDefFormatInternal calls the namespace formatter last).
 */
import type { Draft } from 'immer';
import type { Unknown } from '../../codec/spec.ts';
import type { DomainDef } from '../../domain/types.ts';
import type { XmlElement } from '../../xml/tree.ts';

/** The last child <domain>'s spec knows: unknown children placed after it are written last. */
const LAST_DOMAIN_CHILD = 'launchSecurity';

type Attrs = Readonly<Record<string, string>>;

function unknownOf(def: DomainDef | Draft<DomainDef>): Unknown | undefined {
  return (def as { $unknown?: Unknown }).$unknown;
}

/** The namespace URI of an element name, resolved through the `xmlns` declarations in scope (innermost first). */
function nsOf(name: string, scopes: readonly Attrs[]): string | undefined {
  const i = name.indexOf(':');
  const decl = i < 0 ? 'xmlns' : `xmlns:${name.slice(0, i)}`;
  for (const s of scopes) if (s[decl] !== undefined) return s[decl];
  return undefined;
}

function localName(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

export interface NsElement {
  readonly el: XmlElement;
  /** Declarations in scope for the element's children, innermost first. */
  readonly scopes: readonly Attrs[];
}

/** Domain-level elements `<P:local>` with P bound to `uri`, in document order. */
export function namespaceElements(def: DomainDef, uri: string, local: string): NsElement[] {
  const u = unknownOf(def);
  const rootScope: Attrs = u?.attrs ?? {};
  const out: NsElement[] = [];
  for (const { node } of u?.children ?? []) {
    const scopes = [node.attrs, rootScope];
    if (localName(node.name) === local && nsOf(node.name, scopes) === uri) out.push({ el: node, scopes });
  }
  return out;
}

/** Child elements of `parent` in namespace `uri` named `local` (`*`: any child element, whatever its namespace). */
export function namespaceChildren(parent: NsElement, uri: string, local: string): NsElement[] {
  const out: NsElement[] = [];
  for (const c of parent.el.children) {
    if (typeof c === 'string') continue;
    const scopes = [c.attrs, ...parent.scopes];
    if (local === '*' || (localName(c.name) === local && nsOf(c.name, scopes) === uri)) out.push({ el: c, scopes });
  }
  return out;
}

export { localName };

/**
 * Replaces whatever the document held in namespace `uri` at domain level
 * (elements and their declarations on <domain>) by the driver's canonical
 * block, or by nothing when `block` is undefined, as libvirt re-formats
 * namespace data and drops the rest.
 */
export function setNamespaceBlock(d: Draft<DomainDef>, prefix: string, uri: string, block: XmlElement | undefined): void {
  const holder = d as { $unknown?: { attrs?: Record<string, string>; children?: Array<{ after: string | null; node: XmlElement }> } };
  const u = holder.$unknown;
  const rootScope: Attrs = u?.attrs ?? {};
  const children = (u?.children ?? []).filter(({ node }) => nsOf(node.name, [node.attrs, rootScope]) !== uri);
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(rootScope)) if (!(k.startsWith('xmlns:') && v === uri)) attrs[k] = v;
  if (block) {
    attrs[`xmlns:${prefix}`] = uri;
    children.push({ after: LAST_DOMAIN_CHILD, node: block });
  }
  const next = { ...(Object.keys(attrs).length ? { attrs } : {}), ...(children.length ? { children } : {}) };
  const same =
    JSON.stringify(next.attrs ?? {}) === JSON.stringify(u?.attrs ?? {}) && JSON.stringify(next.children ?? []) === JSON.stringify(u?.children ?? []);
  if (same) return;
  if (next.attrs || next.children) holder.$unknown = next;
  else delete holder.$unknown;
}

/** `<P:commandline><P:arg value='…'/>…</P:commandline>`, libvirt's form for bhyve and xen. */
export function commandlineBlock(prefix: string, args: readonly string[]): XmlElement | undefined {
  if (!args.length) return undefined;
  return { name: `${prefix}:commandline`, attrs: {}, children: args.map((value) => ({ name: `${prefix}:arg`, attrs: { value }, children: [] })) };
}

/**
 * `./P:commandline/P:arg` values; `missing` is libvirt's message for an arg
 * without `value` (thrown by the caller's error factory).
 */
export function commandlineArgs(def: DomainDef, uri: string, onMissing: (path: string) => never): string[] {
  const args: string[] = [];
  namespaceElements(def, uri, 'commandline').forEach((cl) => {
    namespaceChildren(cl, uri, 'arg').forEach((arg, i) => {
      const v = arg.el.attrs['value'];
      if (v === undefined) onMissing(`/domain/${cl.el.name}/${arg.el.name}[${i + 1}]/@value`);
      args.push(v);
    });
  });
  return args;
}

/**
 * For a driver whose namespace has no formatter (libvirt's test driver reads
 * `test:` elements and writes none) or that has none at all: every
 * domain-level element in an XML namespace, and every namespace declaration
 * on <domain>, is gone once libvirt formats the definition.
 */
export function dropNamespaces(d: Draft<DomainDef>): void {
  const holder = d as { $unknown?: { attrs?: Record<string, string>; children?: Array<{ after: string | null; node: XmlElement }> } };
  const u = holder.$unknown;
  if (!u) return;
  const rootScope: Attrs = u.attrs ?? {};
  const children = (u.children ?? []).filter(({ node }) => nsOf(node.name, [node.attrs, rootScope]) === undefined);
  const attrs = Object.fromEntries(Object.entries(rootScope).filter(([k]) => k !== 'xmlns' && !k.startsWith('xmlns:')));
  if (children.length === (u.children ?? []).length && Object.keys(attrs).length === Object.keys(rootScope).length) return;
  const next = { ...(Object.keys(attrs).length ? { attrs } : {}), ...(children.length ? { children } : {}) };
  if (next.attrs || next.children) holder.$unknown = next;
  else delete holder.$unknown;
}
