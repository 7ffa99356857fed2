/**
 * The fuzzer's own XML tree: plain, mutable copies of seed documents that the
 * mutators rearrange, and a writer that can also write what no well-behaved
 * writer would (unescaped values, raw control characters). It is separate
 * from the model's XmlElement on purpose: the fuzzer must be able to produce
 * documents the model's writer never would.
 */
import type { XmlElement } from '@virtflow/model';

export interface FEl {
  name: string;
  attrs: [string, string][];
  children: FNode[];
}
export type FNode = FEl | string;

export const isEl = (n: FNode): n is FEl => typeof n !== 'string';

export function fromXml(el: XmlElement): FEl {
  return {
    name: el.name,
    attrs: Object.entries(el.attrs),
    children: el.children.map((c) => (typeof c === 'string' ? c : fromXml(c))),
  };
}

/** A deep copy; iterative, since a mutated tree can be nested far deeper than the stack. */
export function clone(el: FEl): FEl {
  const copyOf = (e: FEl): FEl => ({ name: e.name, attrs: e.attrs.map(([k, v]) => [k, v]), children: [...e.children] });
  const root = copyOf(el);
  const stack: FEl[] = [root];
  while (stack.length) {
    const cur = stack.pop()!;
    cur.children = cur.children.map((c) => {
      if (typeof c === 'string') return c;
      const copy = copyOf(c);
      stack.push(copy);
      return copy;
    });
  }
  return root;
}

/** An element found by a pre-order walk, with where it hangs. */
export interface Located {
  readonly el: FEl;
  readonly parent: FEl | undefined;
  /** Index in parent.children. */
  readonly at: number;
  readonly depth: number;
}

/** Every element, pre-order; the root is first. Iterative: seeds may be deep after mutation. */
export function elements(root: FEl): Located[] {
  const out: Located[] = [];
  const stack: Located[] = [{ el: root, parent: undefined, at: 0, depth: 1 }];
  while (stack.length) {
    const cur = stack.pop()!;
    out.push(cur);
    const kids = cur.el.children;
    for (let i = kids.length - 1; i >= 0; i--) {
      const k = kids[i]!;
      if (isEl(k)) stack.push({ el: k, parent: cur.el, at: i, depth: cur.depth + 1 });
    }
  }
  return out;
}

export function contains(ancestor: FEl, el: FEl): boolean {
  const stack: FEl[] = [ancestor];
  while (stack.length) {
    const cur = stack.pop()!;
    if (cur === el) return true;
    for (const k of cur.children) if (isEl(k)) stack.push(k);
  }
  return false;
}

export function textOnly(el: FEl): boolean {
  return el.children.length > 0 && el.children.every((c) => typeof c === 'string');
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' };
const escape = (s: string) => s.replace(/[&<>'"]/g, (c) => ESC[c]!);

/**
 * Writes the tree. Values are escaped (so what the mutators put in an
 * attribute arrives as that attribute's value), except where `raw` names the
 * value: then it is written as is, quote characters and all.
 * Iterative, so a tree nested far past any limit can still be written.
 */
export function write(root: FEl, raw?: ReadonlySet<string>): string {
  const out: string[] = [];
  type Frame = { el: FEl; i: number; depth: number };
  const open = (el: FEl, depth: number) => {
    let s = `${'  '.repeat(Math.min(depth, 8))}<${el.name}`;
    for (const [k, v] of el.attrs) s += ` ${k}='${raw?.has(v) ? v : escape(v)}'`;
    return s;
  };
  const stack: Frame[] = [];
  const start = (el: FEl, depth: number) => {
    if (el.children.length === 0) out.push(open(el, depth), '/>\n');
    else if (textOnly(el)) out.push(open(el, depth), '>', ...el.children.map((c) => (raw?.has(c as string) ? (c as string) : escape(c as string))), `</${el.name}>\n`);
    else {
      out.push(open(el, depth), '>\n');
      stack.push({ el, i: 0, depth });
    }
  };
  start(root, 0);
  while (stack.length) {
    const f = stack[stack.length - 1]!;
    if (f.i >= f.el.children.length) {
      out.push(`${'  '.repeat(Math.min(f.depth, 8))}</${f.el.name}>\n`);
      stack.pop();
      continue;
    }
    const c = f.el.children[f.i++]!;
    if (typeof c === 'string') {
      if (c.trim() !== '') out.push(raw?.has(c) ? c : escape(c));
    } else start(c, f.depth + 1);
  }
  return out.join('');
}
