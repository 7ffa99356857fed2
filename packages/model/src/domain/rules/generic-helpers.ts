/**
 * Small helpers shared by the generic (driver-independent) rules: device
 * lists, device paths, and libvirt's number and boolean readers.
 */
import type { DomainDraft } from '../types.ts';
import type { ParseContext } from './index.ts';
import { indexedDevicePath } from '../../util/device-path.ts';

/** The array of devices under `key` (e.g. 'graphics', 'channels'); [] when absent. */
export function deviceList<T = Record<string, unknown>>(def: DomainDraft, key: string): T[] {
  const v = (def.devices as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(v) ? (v as T[]) : [];
}

/** The path of device `i` of element `name`: `/domain/devices/NAME[i+1]`, or `/NAME` for a device parsed alone. */
export function devicePath(ctx: ParseContext, name: string, i: number): string {
  return ctx.deviceOnly ? `/${name}` : indexedDevicePath(name, i);
}

/** virStrToLong_i: optional leading space and sign, decimal digits to the end, within int range. */
export function parseInt32(s: string | undefined): number | undefined {
  if (s === undefined || !/^\s*[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s.trim());
  return n >= -2147483648 && n <= 2147483647 ? n : undefined;
}

/** virStrToLong_uip: optional leading space and '+', decimal digits to the end, within unsigned int range. */
export function parseUInt32(s: string | undefined): number | undefined {
  if (s === undefined || !/^\s*\+?\d+$/.test(s)) return undefined;
  const n = Number(s.trim());
  return n <= 4294967295 ? n : undefined;
}

/** virStringParseYesNo / virTristateBool: 'yes' → true, 'no' → false, anything else undefined. */
export function yesNo(s: string | undefined): boolean | undefined {
  return s === 'yes' ? true : s === 'no' ? false : undefined;
}
