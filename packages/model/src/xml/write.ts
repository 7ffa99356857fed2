/**
 * Writes an XmlElement tree as libvirt writes XML: two-space indent, attribute
 * values in single quotes, text-only elements on one line, empty elements
 * self-closed.
 */
import { escapeXml } from './escape.ts';
import type { XmlElement } from './tree.ts';

export function writeXml(root: XmlElement, indent = 0): string {
  const out: string[] = [];
  writeElement(root, indent, out);
  return out.join('');
}

function writeElement(el: XmlElement, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  let open = `${pad}<${el.name}`;
  for (const k in el.attrs) open += ` ${k}='${escapeXml(el.attrs[k]!)}'`;
  const kids = el.children;
  if (kids.length === 0) {
    out.push(open, '/>\n');
    return;
  }
  if (kids.every((c) => typeof c === 'string')) {
    out.push(open, '>', escapeXml(kids.join('')), `</${el.name}>\n`);
    return;
  }
  out.push(open, '>\n');
  for (const c of kids) {
    if (typeof c === 'string') out.push(pad, '  ', escapeXml(c.trim()), '\n');
    else writeElement(c, depth + 1, out);
  }
  out.push(pad, `</${el.name}>\n`);
}
