/** Escaping as libvirt's virBufferEscapeString does it: the five XML specials. */
const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' };
const NEEDS_ESCAPE = /[&<>'"]/;
const ESC_ALL = /[&<>'"]/g;

export function escapeXml(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESC_ALL, (c) => ESC[c]!) : s;
}
