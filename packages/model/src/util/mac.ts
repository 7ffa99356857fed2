/**
 * MAC addresses as libvirt reads them (virMacAddrParse): six groups of one or
 * two hex digits separated by ':', no leading space or '+', written back
 * lowercase; a multicast address (odd first byte) is refused by the caller.
 */
export function parseMac(text: string): Uint8Array | undefined {
  const out = new Uint8Array(6);
  let i = 0;
  for (let n = 0; n < 6; n++) {
    let v = 0;
    let digits = 0;
    while (digits < 2) {
      const c = text.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      v = v * 16 + d;
      digits++;
      i++;
    }
    if (digits === 0) return undefined;
    out[n] = v;
    if (n < 5) {
      if (text[i] !== ':') return undefined;
      i++;
    }
  }
  // Anything at or below ASCII space after the sixth group ends the parse, as in libvirt.
  if (i < text.length && text.charCodeAt(i) > 32) return undefined;
  return out;
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function isMulticast(bytes: Uint8Array): boolean {
  return (bytes[0]! & 1) === 1;
}

/** A MAC with the driver's 3-byte prefix and 3 random bytes (virMacAddrGenerate). */
export function generateMac(prefix: readonly [number, number, number], random: (b: Uint8Array) => Uint8Array): string {
  const r = random(new Uint8Array(3));
  return formatMac(Uint8Array.of(prefix[0], prefix[1], prefix[2], r[0]!, r[1]!, r[2]!));
}
