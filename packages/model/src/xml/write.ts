/**
 * Writes an XmlElement tree as libvirt writes XML: two-space indent, attribute
 * values in single quotes, text-only elements on one line, empty elements
 * self-closed (but where an element's `style` says otherwise).
 */
import { escapeXml } from './escape.ts';
import type { XmlElement } from './tree.ts';

export function writeXml(root: XmlElement, indent = 0): string {
  const out: string[] = [];
  writeElement(root, indent, out, false);
  return out.join('');
}

/** libxml2's escaping of an attribute value in double quotes. */
function escapeLibxmlAttr(s: string): string {
  return s.replace(/[&<>"\n\r\t]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' })[c]!);
}

/** libxml2's escaping of text. */
function escapeLibxmlText(s: string): string {
  return s.replace(/[&<>\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' })[c]!);
}

function writeElement(el: XmlElement, depth: number, out: string[], libxml: boolean): void {
  libxml ||= el.style === 'libxml';
  const pad = '  '.repeat(depth);
  let open = `${pad}<${el.name}`;
  if (libxml) for (const k in el.attrs) open += ` ${k}="${escapeLibxmlAttr(el.attrs[k]!)}"`;
  else for (const k in el.attrs) open += ` ${k}='${escapeXml(el.attrs[k]!)}'`;
  const kids = el.children;
  if (kids.length === 0) {
    if (el.style === 'open') out.push(open, '>\n', pad, `</${el.name}>\n`);
    else out.push(open, '/>\n');
    return;
  }
  const text = libxml ? escapeLibxmlText : escapeXml;
  if (kids.every((c) => typeof c === 'string')) {
    out.push(open, '>', text(kids.join('')), `</${el.name}>\n`);
    return;
  }
  out.push(open, '>\n');
  for (const c of kids) {
    if (typeof c === 'string') out.push(pad, '  ', text(c.trim()), '\n');
    else writeElement(c, depth + 1, out, libxml);
  }
  out.push(pad, `</${el.name}>\n`);
}
