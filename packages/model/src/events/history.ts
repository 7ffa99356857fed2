/**
 * History, which libvirt and Nova lack: every version of a definition, the
 * domain as of any instant, and a structural diff between two definitions.
 */
import { VirtError } from '../errors.ts';
import { readXml } from '../xml/read.ts';
import { escapeXml } from '../xml/escape.ts';
import { childElements, textOf, type XmlElement } from '../xml/tree.ts';
import { resolve, type AnySpec } from '../codec/spec.ts';
import { domainSpec } from '../domain/spec/domain.ts';
import type { AnyEvent } from './types.ts';
import { domainOf, reduceDomain, type DefinitionVersion, type DomainState } from './domain.ts';

/** Every version of the domain's definition, oldest first. */
export function history(state: DomainState): readonly DefinitionVersion[] {
  return state.history;
}

/** The definition as it was at one aggregate version (the newest written at or before it). */
export function definitionAt(state: DomainState, version: number): DefinitionVersion | undefined {
  let found: DefinitionVersion | undefined;
  for (const h of state.history) if (h.version <= version) found = h;
  return found;
}

function instant(time: Date | string): number {
  const t = typeof time === 'string' ? Date.parse(time) : time.getTime();
  if (!Number.isFinite(t)) throw new VirtError('INVALID_ARG', `'${String(time)}' is not a time`);
  return t;
}

/**
 * The domain as of an instant: its events folded in log order up to the first
 * one stamped after `time`. The log's order is the causal one, so a writer's
 * clock running behind cannot slip a later event in before an earlier one.
 * Events of other aggregates are skipped; the first domain event names the
 * domain unless `uuid` does. Undefined when nothing had happened yet.
 */
export function asOf(events: Iterable<AnyEvent>, time: Date | string, uuid?: string): DomainState | undefined {
  const t = instant(time);
  let state: DomainState | undefined;
  let id = uuid;
  for (const e of events) {
    const of = domainOf(e);
    if (of === undefined || (id !== undefined && of !== id)) continue;
    if (Date.parse(e.at) > t) break;
    id = of;
    state = reduceDomain(state, e);
  }
  return state;
}

export interface DefinitionChange {
  readonly op: 'added' | 'removed' | 'changed';
  /**
   * `/domain/devices/disk[1]/target/@bus` for an attribute, the element's path
   * for its text or for the element itself. Removed nodes are indexed as in the
   * old definition, added and changed ones as in the new (as diff numbers lines).
   */
  readonly path: string;
  /** The old value: an attribute's, a text, or a removed element's XML. */
  readonly from?: string;
  /** The new value. */
  readonly to?: string;
}

/**
 * A structural diff of two definitions by element path, in document order.
 * Attribute order and layout are not differences. Same-named siblings are
 * aligned on their longest common run of identical elements, and the ones in
 * between paired in order, so attaching one disk reads as one added disk, not
 * as every later disk changed.
 */
export function diffDefinitions(xmlA: string, xmlB: string): DefinitionChange[] {
  const a = readXml(xmlA);
  const b = readXml(xmlB);
  const out: DefinitionChange[] = [];
  if (a.name !== b.name) {
    out.push({ op: 'removed', path: `/${a.name}`, from: compact(a) }, { op: 'added', path: `/${b.name}`, to: compact(b) });
    return out;
  }
  diffElement(a, b, `/${a.name}`, a.name === 'domain' ? domainSpec : undefined, out);
  return out;
}

/** The diff between two versions of one domain's definition. */
export function diffVersions(state: DomainState, versionA: number, versionB: number): DefinitionChange[] {
  const a = definitionAt(state, versionA);
  const b = definitionAt(state, versionB);
  if (!a || !b) throw new VirtError('INVALID_ARG', `domain '${state.name}' has no definition at version ${!a ? versionA : versionB}`);
  return diffDefinitions(a.xml, b.xml);
}

/** One line per change: `~ /domain/devices/disk[1]/target/@bus: 'ide' → 'virtio'`. */
export function formatDiff(changes: readonly DefinitionChange[]): string {
  return changes
    .map((c) => {
      if (c.op === 'changed') return `~ ${c.path}: ${quote(c.from)} → ${quote(c.to)}`;
      if (c.op === 'added') return `+ ${c.path}: ${quote(c.to)}`;
      return `- ${c.path}: ${quote(c.from)}`;
    })
    .join('\n');
}

const quote = (s: string | undefined): string => (s === undefined ? '(none)' : `'${s}'`);

function childSpecs(spec: AnySpec | undefined): Readonly<Record<string, { readonly many: boolean; readonly spec: AnySpec }>> | undefined {
  if (!spec) return undefined;
  const s = resolve(spec);
  return s.kind === 'element' ? s.children : undefined;
}

function diffElement(a: XmlElement, b: XmlElement, path: string, spec: AnySpec | undefined, out: DefinitionChange[]): void {
  for (const [k, va] of Object.entries(a.attrs)) {
    const vb = Object.hasOwn(b.attrs, k) ? b.attrs[k] : undefined;
    if (vb === undefined) out.push({ op: 'removed', path: `${path}/@${k}`, from: va });
    else if (vb !== va) out.push({ op: 'changed', path: `${path}/@${k}`, from: va, to: vb });
  }
  for (const [k, vb] of Object.entries(b.attrs)) {
    if (!Object.hasOwn(a.attrs, k)) out.push({ op: 'added', path: `${path}/@${k}`, to: vb });
  }
  const ta = textOf(a);
  const tb = textOf(b);
  if (ta !== tb) out.push({ op: 'changed', path, from: ta, to: tb });

  const kidsA = groupByName(childElements(a));
  const kidsB = groupByName(childElements(b));
  const names = [...kidsA.keys()];
  for (const n of kidsB.keys()) if (!kidsA.has(n)) names.push(n);
  const specs = childSpecs(spec);
  for (const name of names) {
    const sa = kidsA.get(name) ?? [];
    const sb = kidsB.get(name) ?? [];
    const child = specs && Object.hasOwn(specs, name) ? specs[name] : undefined;
    const indexed = child?.many === true || sa.length > 1 || sb.length > 1;
    const at = (i: number) => `${path}/${name}${indexed ? `[${i + 1}]` : ''}`;
    for (const step of align(sa, sb)) {
      if (step.a !== undefined && step.b !== undefined) diffElement(sa[step.a]!, sb[step.b]!, at(step.b), child?.spec, out);
      else if (step.a !== undefined) out.push({ op: 'removed', path: at(step.a), from: compact(sa[step.a]!) });
      else if (step.b !== undefined) out.push({ op: 'added', path: at(step.b), to: compact(sb[step.b]!) });
    }
  }
}

function groupByName(els: readonly XmlElement[]): Map<string, XmlElement[]> {
  const m = new Map<string, XmlElement[]>();
  for (const e of els) {
    const list = m.get(e.name);
    if (list) list.push(e);
    else m.set(e.name, [e]);
  }
  return m;
}

interface Step {
  readonly a?: number;
  readonly b?: number;
  readonly same?: boolean;
}

/**
 * Aligns two runs of same-named siblings: identical elements on their longest
 * common subsequence; between two anchors, the leftovers paired in order (to be
 * diffed in depth) and the rest added or removed.
 */
function align(sa: readonly XmlElement[], sb: readonly XmlElement[]): Step[] {
  const ka = sa.map(canonical);
  const kb = sb.map(canonical);
  const n = ka.length;
  const m = kb.length;
  // lcs[i][j]: length of the LCS of ka[i..] and kb[j..].
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = ka[i] === kb[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const steps: Step[] = [];
  let gapA: number[] = [];
  let gapB: number[] = [];
  const flush = () => {
    const paired = Math.min(gapA.length, gapB.length);
    for (let k = 0; k < paired; k++) steps.push({ a: gapA[k]!, b: gapB[k]! });
    for (let k = paired; k < gapA.length; k++) steps.push({ a: gapA[k]! });
    for (let k = paired; k < gapB.length; k++) steps.push({ b: gapB[k]! });
    gapA = [];
    gapB = [];
  };
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && ka[i] === kb[j]) {
      flush();
      steps.push({ a: i++, b: j++, same: true });
    } else if (j >= m || (i < n && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) gapA.push(i++);
    else gapB.push(j++);
  }
  flush();
  return steps.filter((s) => !s.same);
}

/** An element's identity for alignment: attribute order and layout do not count. */
function canonical(el: XmlElement): string {
  const attrs = Object.keys(el.attrs).sort().map((k) => ` ${k}='${escapeXml(el.attrs[k]!)}'`).join('');
  const kids = el.children.map((c) => (typeof c === 'string' ? escapeXml(c) : canonical(c))).join('');
  return `<${el.name}${attrs}>${kids}</${el.name}>`;
}

/** An element on one line, as libvirt would write it, for added and removed nodes. */
export function compact(el: XmlElement): string {
  let s = `<${el.name}`;
  for (const [k, v] of Object.entries(el.attrs)) s += ` ${k}='${escapeXml(v)}'`;
  if (el.children.length === 0) return `${s}/>`;
  s += '>';
  for (const c of el.children) s += typeof c === 'string' ? escapeXml(c) : compact(c);
  return `${s}</${el.name}>`;
}
