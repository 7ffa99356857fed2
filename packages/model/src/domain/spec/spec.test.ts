import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AnySpec, type ElementSpec, camel, resolve } from '../../codec/spec.ts';
import { domainSpec } from './domain.ts';

/** Every element spec reachable from <domain>, with the path that reaches it. */
function walk(spec: AnySpec, path: string, seen = new Set<ElementSpec>(), out: Array<[string, ElementSpec]> = []) {
  const s = resolve(spec);
  if (s.kind !== 'element' || seen.has(s)) return out;
  seen.add(s);
  out.push([path, s]);
  for (const [name, child] of Object.entries(s.children)) walk(child.spec, `${path}/${name}`, seen, out);
  return out;
}

describe('domain specs', () => {
  const all = walk(domainSpec, '/domain');

  it('covers the domain vocabulary', () => {
    assert.ok(all.length > 200, `only ${all.length} element specs`);
  });

  it('never gives an attribute and a child (or text) the same data key', () => {
    const clashes: string[] = [];
    for (const [path, s] of all) {
      const keys = new Map<string, string>();
      for (const a of s.attrs) keys.set(camel(a), `@${a}`);
      if (s.text) keys.set('text', '#text');
      for (const [name, child] of Object.entries(s.children)) {
        const key = child.key ?? camel(name);
        const other = keys.get(key);
        if (other) clashes.push(`${path}: <${name}> and ${other} both decode to '${key}'`);
        keys.set(key, `<${name}>`);
      }
    }
    assert.deepEqual(clashes, []);
  });

  it('lists each attribute once', () => {
    const dups = all.flatMap(([path, s]) => s.attrs.filter((a, i) => s.attrs.indexOf(a) !== i).map((a) => `${path}/@${a}`));
    assert.deepEqual(dups, []);
  });
});
