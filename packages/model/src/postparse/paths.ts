/**
 * Turns a data path (immer's patch path: keys and array indexes) into the
 * XML path a user reads (`/domain/devices/disk[2]/target/@bus`), by walking
 * the same specs that decode and encode the XML.
 */
import { type AnySpec, type ElementSpec, camel, resolve } from '../codec/spec.ts';

interface Reverse {
  readonly kind: 'attr' | 'child' | 'text';
  readonly xml: string;
  readonly many: boolean;
  readonly spec?: AnySpec;
}
const cache = new WeakMap<ElementSpec, Map<string, Reverse>>();

function reverse(spec: ElementSpec): Map<string, Reverse> {
  let map = cache.get(spec);
  if (!map) {
    map = new Map();
    for (const a of spec.attrs) map.set(camel(a), { kind: 'attr', xml: a, many: false });
    for (const [name, c] of Object.entries(spec.children)) map.set(c.key ?? camel(name), { kind: 'child', xml: name, many: c.many, spec: c.spec });
    map.set('text', { kind: 'text', xml: '', many: false });
    cache.set(spec, map);
  }
  return map;
}

export type DataPath = ReadonlyArray<string | number>;

export function xmlPath(spec: AnySpec, prefix: string, keys: DataPath): string {
  let s = resolve(spec);
  let path = prefix;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (s.kind !== 'element') return `${path}/${keys.slice(i).join('/')}`;
    const r = reverse(s).get(String(k));
    if (!r) return `${path}/${keys.slice(i).join('/')}`;
    if (r.kind === 'attr') return `${path}/@${r.xml}`;
    if (r.kind === 'text') return path;
    const next = keys[i + 1];
    if (r.many && typeof next === 'number') {
      path += `/${r.xml}[${next + 1}]`;
      i++;
    } else path += `/${r.xml}`;
    s = resolve(r.spec!);
  }
  return path;
}

/** Every leaf (attribute or text) under a value, with its data path. */
export function leaves(value: unknown, keys: DataPath, out: Array<[DataPath, string]> = []): Array<[DataPath, string]> {
  if (value === null || value === undefined) return out;
  if (typeof value !== 'object') {
    out.push([keys, String(value)]);
    return out;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => leaves(v, [...keys, i], out));
    return out;
  }
  if ('name' in value && 'attrs' in value && 'children' in value) {
    out.push([keys, '(kept as written)']);
    return out;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([k]) => k !== '$unknown');
  // An empty element (<readonly/>) is a value in itself.
  if (entries.length === 0) out.push([keys, '']);
  for (const [k, v] of entries) leaves(v, [...keys, k], out);
  return out;
}
