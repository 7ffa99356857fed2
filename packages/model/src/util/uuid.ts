/**
 * UUIDs as libvirt reads and writes them (virUUIDParse / virUUIDFormat /
 * virUUIDGenerate): lenient on input, canonical lowercase 8-4-4-4-12 on output.
 */

/** Parses libvirt-style: surrounding whitespace, and '-' or ' ' between hex pairs, are accepted. */
export function parseUUID(text: string): Uint8Array | undefined {
  const s = text.trim();
  const out = new Uint8Array(16);
  let i = 0;
  let n = 0;
  while (n < 16) {
    while (s[i] === '-' || s[i] === ' ') i++;
    const hi = hexVal(s.charCodeAt(i));
    const lo = hexVal(s.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return undefined;
    out[n++] = (hi << 4) | lo;
    i += 2;
  }
  return i === s.length ? out : undefined;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Two lowercase hex digits per byte value: every definition's UUID is written through it. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export function formatUUID(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[bytes[i]!]!;
  }
  return out;
}

/** An RFC 4122 version-4 UUID from the given randomness. */
export function generateUUID(random: (b: Uint8Array) => Uint8Array): string {
  const b = random(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return formatUUID(b);
}

/** Canonical form of a UUID string, or undefined when it is malformed. */
export function canonicalUUID(text: string): string | undefined {
  const b = parseUUID(text);
  return b ? formatUUID(b) : undefined;
}
