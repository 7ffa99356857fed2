/** Escaping as libvirt's virBufferEscapeString does it: the five XML specials. */
const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' };
const NEEDS_ESCAPE = /[&<>'"]/;
const ESC_ALL = /[&<>'"]/g;

export function escapeXml(s: string): string {
  return needsEscape(s) ? s.replace(ESC_ALL, (c) => ESC[c]!) : s;
}

/**
 * Whether `s` holds one of the five. Most values written are short names and
 * numbers without any: a loop over their characters costs less than a call
 * into the regexp engine; long text still goes to the regexp.
 */
function needsEscape(s: string): boolean {
  const n = s.length;
  if (n > 64) return NEEDS_ESCAPE.test(s);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    // & 38, ' 39, " 34, < 60, > 62: all below '?' (63), which letters and digits but ':' ';' '=' are not.
    if (c < 63 && (c === 38 || c === 60 || c === 62 || c === 39 || c === 34)) return true;
  }
  return false;
}
