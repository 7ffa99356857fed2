/**
 * The chardev source of the devices that are not chr devices but carry one:
 * a passthrough <smartcard>, a <redirdev> and an egd <rng> backend.
 */
import { VirtError } from '../../errors.ts';
import type { ParseContext } from './index.ts';
import { CHR_TYPES, invalidAttr, normaliseSource, type SourceHolder } from './chardev-source.ts';

/** A passthrough smartcard's chardev source (virDomainSmartcardDefParseXML). */
export function parseSmartcardSource(sc: SourceHolder & { mode?: string }, path: string, ctx: ParseContext): void {
  if (sc.mode === undefined) throw new VirtError('XML_ERROR', "Missing required attribute 'mode' in element 'smartcard'", `${path}/@mode`);
  if (!['host', 'host-certificates', 'passthrough'].includes(sc.mode)) throw invalidAttr('mode', 'smartcard', sc.mode, `${path}/@mode`);
  if (sc.mode !== 'passthrough') return;
  if (sc.type === undefined) throw new VirtError('XML_ERROR', 'passthrough mode requires a character device type attribute', path);
  if (!CHR_TYPES.includes(sc.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown type presented to host for character device: ${sc.type}`, `${path}/@type`);
  normaliseSource(sc, path, ctx, false);
}

/** A redirdev's chardev source (virDomainRedirdevDefParseXML, after the bus). */
export function parseRedirdevSource(r: SourceHolder, path: string, ctx: ParseContext): void {
  if (r.type === undefined) throw new VirtError('INTERNAL_ERROR', 'missing type in redirdev', path);
  if (!CHR_TYPES.includes(r.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown redirdev character device type '${r.type}'`, `${path}/@type`);
  normaliseSource(r, path, ctx, false);
  if (r.type === 'dbus' && !r.sources) r.sources = [{ channel: 'org.qemu.usbredir' }];
}

/** An egd rng backend's chardev source (virDomainRNGDefParseXML, after the backend model); `path` is the backend's. */
export function parseRngEgdSource(b: SourceHolder, path: string, ctx: ParseContext): void {
  if (b.type === undefined) throw new VirtError('XML_ERROR', 'missing EGD backend type', path);
  if (!CHR_TYPES.includes(b.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown backend type '${b.type}' for egd`, `${path}/@type`);
  normaliseSource(b, path, ctx, false);
}
