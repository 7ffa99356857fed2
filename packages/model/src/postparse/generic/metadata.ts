/**
 * virXMLNodeSanitizeNamespaces on <metadata> (the end of
 * virDomainDefPostParseCommon): each application owns one element, found by
 * its namespace. Elements in no namespace are dropped, and of several in
 * one namespace only the first is kept.
 */
import type { XmlElement } from '../../xml/tree.ts';
import { domainRule } from '../rules.ts';

type Attrs = Readonly<Record<string, string>>;

/** The namespace URI of an element, through the declarations in scope (innermost first). */
function namespaceOf(name: string, scopes: readonly Attrs[]): string | undefined {
  const i = name.indexOf(':');
  const decl = i < 0 ? 'xmlns' : `xmlns:${name.slice(0, i)}`;
  for (const s of scopes) if (s[decl] !== undefined) return s[decl] === '' ? undefined : s[decl];
  return undefined;
}

export const metadataNamespaces = domainRule(
  'metadata-namespaces',
  '<metadata> holds one element per application namespace: libvirt drops elements in no namespace and repeats of a namespace (the first is kept)',
  (def) => {
    const md = def.metadata as XmlElement | undefined;
    if (!md) return;
    const rootScope = ((def as { $unknown?: { attrs?: Attrs } }).$unknown?.attrs ?? {}) as Attrs;
    const seen = new Set<string>();
    let changed = false;
    const children = md.children.filter((c) => {
      if (typeof c === 'string') return true;
      const ns = namespaceOf(c.name, [c.attrs, md.attrs, rootScope]);
      if (ns === undefined || seen.has(ns)) {
        changed = true;
        return false;
      }
      seen.add(ns);
      return true;
    });
    if (changed) def.metadata = { ...md, children } as typeof def.metadata;
  },
);
