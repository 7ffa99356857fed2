/**
 * The console/serial back-compat of an hvm domain: virDomainDefAddConsoleCompat
 * and the console formatter.
 */
import { isDraft } from 'immer';
import { deepClone } from '../../util/clone.ts';
import { VirtError } from '../../errors.ts';
import { deviceList } from './generic-helpers.ts';
import type { ParseRule } from './index.ts';
import type { Chr } from './chardev.ts';

/**
 * deepClone's copy, made directly for plain data (objects, arrays, primitives)
 * — structuredClone's serialisation was a visible cost of every hvm domain
 * with a serial — keeping shared references shared as structuredClone does;
 * anything else (an immer draft, another kind of object) goes to deepClone.
 */
function clone<T>(v: T): T {
  if (isDraft(v)) return deepClone(v);
  const out = plainCopy(v, new Map());
  return out === NOT_PLAIN ? deepClone(v) : (out as T);
}

const NOT_PLAIN = Symbol('not plain data');

function plainCopy(v: unknown, seen: Map<object, unknown>): unknown {
  if (v === null || typeof v !== 'object') return v;
  const known = seen.get(v);
  if (known !== undefined) return known;
  if (isDraft(v)) return NOT_PLAIN;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    seen.set(v, out);
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) continue;
      const c = plainCopy(v[i], seen);
      if (c === NOT_PLAIN) return NOT_PLAIN;
      out[i] = c;
    }
    return out;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return NOT_PLAIN;
  const out: Record<string, unknown> = {};
  seen.set(v, out);
  for (const k in v) {
    const c = plainCopy((v as Record<string, unknown>)[k], seen);
    if (c === NOT_PLAIN) return NOT_PLAIN;
    out[k] = c;
  }
  return out;
}

/** The console libvirt writes in place of a serial-aliasing console: the serial itself, relabelled. */
function consoleFromSerial(serial: Chr): Chr {
  const c = clone(serial);
  c.target = { type: 'serial', port: serial.target!.port! };
  return c;
}

/**
 * virDomainDefAddConsoleCompat and the console formatter. In an hvm domain
 * the first console of target type serial is an alias of the first serial:
 * it becomes that serial when there is none, is replaced when its source
 * differs, and a domain with a serial gets such a console. The model keeps
 * what libvirt writes: the aliasing console is a copy of the serial.
 */
export const consoleCompat: ParseRule = (def) => {
  const consoles = deviceList<Chr>(def, 'consoles');
  const j = consoles.findIndex((c, k) => k > 0 && c.target?.type === 'serial');
  if (j > 0) throw new VirtError('CONFIG_UNSUPPORTED', 'Only the first console can be a serial port', `/domain/devices/console[${j + 1}]/target/@type`);
  if (def.os?.type?.text !== 'hvm') return;
  const devices = (def.devices ??= {}) as Record<string, unknown>;
  const serials = deviceList<Chr>(def, 'serials');
  const first = consoles[0];
  if (first && (first.target?.type === 'serial' || first.target?.type === 'none')) {
    if (serials.length === 0) {
      const serial = clone(first);
      serial.target = { port: '0' };
      serials.push(serial);
      devices['serials'] = serials;
    }
    // Whether libvirt keeps the console (same source as the serial) or replaces it
    // with a stub, it writes the serial's copy.
    consoles[0] = consoleFromSerial(serials[0]!);
  } else if (serials.length > 0 && ['isa-serial', 'spapr-vio-serial', 'system-serial', 'sclp-serial', 'none', undefined].includes(serials[0]!.target?.type)) {
    consoles.unshift(consoleFromSerial(serials[0]!));
    devices['consoles'] = consoles;
    // The shifted consoles keep their parse-time port in libvirt's output (they
    // take their new position only when libvirt next reads it).
  }
};
