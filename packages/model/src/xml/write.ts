/**
 * Writes an XmlElement tree as libvirt writes XML: two-space indent, attribute
 * values in single quotes, text-only elements on one line, empty elements
 * self-closed (but where an element's `style` says otherwise).
 */
import { escapeXml } from './escape.ts';
import type { XmlElement } from './tree.ts';

const PADS: string[] = [''];

/** The indentation of an element at `depth`: two spaces a level. */
export function indentOf(depth: number): string {
  let p = PADS[depth];
  if (p === undefined) PADS[depth] = p = '  '.repeat(depth);
  return p;
}

export function writeXml(root: XmlElement, indent = 0): string {
  return writeElement(root, indent, false);
}

const LIBXML_ATTR: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' };
const LIBXML_ATTR_RE = /[&<>"\n\r\t]/g;
const LIBXML_TEXT: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };
const LIBXML_TEXT_RE = /[&<>\r]/g;

/** libxml2's escaping of an attribute value in double quotes. */
function escapeLibxmlAttr(s: string): string {
  return s.replace(LIBXML_ATTR_RE, (c) => LIBXML_ATTR[c]!);
}

/** libxml2's escaping of text. */
function escapeLibxmlText(s: string): string {
  return s.replace(LIBXML_TEXT_RE, (c) => LIBXML_TEXT[c]!);
}

/** `el` and its subtree at `depth`, one element a line (strings are concatenated: V8 joins them once). */
export function writeElement(el: XmlElement, depth: number, libxml: boolean): string {
  libxml ||= el.style === 'libxml';
  const pad = indentOf(depth);
  let open = `${pad}<${el.name}`;
  const attrs = el.attrs;
  if (libxml) for (const k in attrs) open += ` ${k}="${escapeLibxmlAttr(attrs[k]!)}"`;
  else for (const k in attrs) open += ` ${k}='${escapeXml(attrs[k]!)}'`;
  const kids = el.children;
  if (kids.length === 0) {
    return el.style === 'open' ? `${open}>\n${pad}</${el.name}>\n` : `${open}/>\n`;
  }
  const text = libxml ? escapeLibxmlText : escapeXml;
  let textOnly = true;
  for (let i = 0; i < kids.length; i++) if (typeof kids[i] !== 'string') textOnly = false;
  if (textOnly) return `${open}>${text(kids.length === 1 ? (kids[0] as string) : kids.join(''))}</${el.name}>\n`;
  let out = `${open}>\n`;
  for (let i = 0; i < kids.length; i++) {
    const c = kids[i]!;
    if (typeof c === 'string') out += `${pad}  ${text(c.trim())}\n`;
    else out += writeElement(c, depth + 1, libxml);
  }
  return `${out}${pad}</${el.name}>\n`;
}
