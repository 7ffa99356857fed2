/**
 * "Nothing the user wrote is lost": every attribute value and text of the
 * input must appear in the output at the same element path (by names), after
 * the normalisations libvirt itself applies (units to KiB, canonical UUID and
 * MAC, compact CPU sets, hex address fields).
 */
import type { XmlElement } from '@virtflow/model';
import { readXml } from '@virtflow/model';

type Values = Map<string, Set<string>>;

function collect(el: XmlElement, path: string, out: Values) {
  const here = `${path}/${el.name}`;
  for (const [k, v] of Object.entries(el.attrs)) add(out, `${here}/@${k}`, v);
  const text = el.children.filter((c) => typeof c === 'string').join('').trim();
  if (text) add(out, here, text);
  for (const c of el.children) if (typeof c !== 'string') collect(c, here, out);
}

function add(out: Values, key: string, v: string) {
  let s = out.get(key);
  if (!s) out.set(key, (s = new Set()));
  s.add(v);
}

/** Values whose spelling libvirt normalises, compared in a normal form. */
function normal(key: string, v: string): string {
  if (/^0x[0-9a-f]+$/i.test(v) || (/\/address\/@/.test(key) && /^\d+$/.test(v))) return `#${parseInt(v, /^0x/i.test(v) ? 16 : 10)}`;
  if (/\/mac\/@address$/.test(key)) return v.toLowerCase();
  if (/\/uuid$/.test(key) || /\/genid$/.test(key)) return v.replace(/[-\s]/g, '').toLowerCase();
  return v.trim();
}

/**
 * Keys that libvirt rewrites by design: memory units and sizes (checked by unit
 * tests instead), the live-only domain id (ignored when defining).
 */
const SCALED = /^\/domain\/@id$|\/(memory|currentMemory|maxMemory|hard_limit|soft_limit|swap_hard_limit|min_guarantee)(\/@unit)?$|\/@unit$|\/cell\/@memory$|\/page\/@size$|\/vcpu\/@current$|\/@cpuset$/;

/**
 * Input values missing from our output. A value libvirt's own output for the
 * same input also lacks is libvirt's normalisation (a live-only attribute, a
 * scheduler range split per vCPU, a port reset by autoport), not a loss:
 * pass libvirt's XML to excuse those.
 */
export function lostValues(input: XmlElement, outputXml: string, libvirtXml?: string): string[] {
  const a: Values = new Map();
  const b: Values = new Map();
  const l: Values = new Map();
  collect(input, '', a);
  collect(readXml(outputXml), '', b);
  if (libvirtXml) collect(readXml(libvirtXml), '', l);
  const lost: string[] = [];
  for (const [key, vals] of a) {
    if (SCALED.test(key)) continue;
    const got = new Set([...(b.get(key) ?? [])].map((v) => normal(key, v)));
    const kept = new Set([...(l.get(key) ?? [])].map((v) => normal(key, v)));
    for (const v of vals) {
      const n = normal(key, v);
      if (!got.has(n) && (!libvirtXml || kept.has(n))) lost.push(`${key}='${v}'`);
    }
  }
  return lost;
}
