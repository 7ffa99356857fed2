/**
 * A lossless, ordered XML element tree: the common ground between the text a
 * user wrote and the typed definition. Attribute order is the object's
 * insertion order; text nodes are plain strings.
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlNode[];
  /**
   * How the writer writes it: `open` writes an element without children as
   * an opening and a closing tag on lines of their own (as libvirt writes
   * <devices>); `libxml` writes it and its subtree as libxml2's serializer
   * does (double-quoted attributes), as libvirt writes <metadata>.
   */
  readonly style?: 'open' | 'libxml';
}
export type XmlNode = XmlElement | string;

export function isElement(node: XmlNode): node is XmlElement {
  return typeof node !== 'string';
}

export function childElements(el: XmlElement): XmlElement[] {
  return el.children.filter(isElement);
}

/** Concatenated text of an element's direct text children. */
export function textOf(el: XmlElement): string {
  let out = '';
  for (const c of el.children) if (typeof c === 'string') out += c;
  return out;
}

export function element(name: string, attrs: Record<string, string> = {}, children: XmlNode[] = []): XmlElement {
  return { name, attrs, children };
}
