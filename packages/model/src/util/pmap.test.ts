import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PMap, PSet, forkMap, forkSet } from './pmap.ts';

const keys = (n: number) => Array.from({ length: n }, (_, i) => `k-${i.toString(16).padStart(8, '0')}`);

describe('PMap / PSet: collections that fork cheaply', () => {
  it('a fork is independent of its source, both ways, and shares the shards it does not write', () => {
    const src = PMap.from(keys(1000).map((k, i) => [k, i] as const));
    const fork = src.fork();
    fork.set('k-00000001', -1);
    fork.delete('k-00000002');
    fork.set('new', 7);
    assert.equal(src.get('k-00000001'), 1);
    assert.equal(src.has('k-00000002'), true);
    assert.equal(src.has('new'), false);
    assert.equal(src.size, 1000);
    assert.equal(fork.size, 1000);
    assert.equal(fork.get('k-00000001'), -1);
    const shared = src.shards.filter((s, i) => s === fork.shards[i]).length;
    assert.ok(shared >= 64 - 3, `only the written shards are copied (${shared} of 64 shared)`);
  });

  it('behaves as a Map under any sequence of sets and deletes (against Map itself)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.string({ maxLength: 3 }), value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.string({ maxLength: 3 }) }),
      fc.record({ kind: fc.constant('fork' as const) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const model = new Map<string, number>();
      let p = PMap.from<string, number>([]);
      const snapshots: Array<[PMap<string, number>, Map<string, number>]> = [];
      for (const o of ops) {
        if (o.kind === 'set') {
          model.set(o.key, o.value);
          p.set(o.key, o.value);
        } else if (o.kind === 'delete') assert.equal(p.delete(o.key), model.delete(o.key));
        else {
          snapshots.push([p, new Map(model)]);
          p = p.fork();
        }
      }
      assert.equal(p.size, model.size);
      assert.deepEqual(new Map(p), model);
      // Every earlier version kept its content while later forks were written.
      for (const [old, content] of snapshots) assert.deepEqual(new Map(old), content);
    }));
  });

  it('PSet: the same for sets', () => {
    const src = PSet.from(keys(500));
    const fork = src.fork();
    fork.delete('k-00000000');
    fork.add('x');
    assert.deepEqual([src.has('k-00000000'), src.has('x'), src.size], [true, false, 500]);
    assert.deepEqual([fork.has('k-00000000'), fork.has('x'), fork.size], [false, true, 500]);
    assert.deepEqual([...fork].sort(), [...new Set([...keys(500).slice(1), 'x'])].sort());
  });

  it('deepStrictEqual compares contents, whatever the order of insertion', () => {
    const a = PMap.from<string, number>(keys(200).map((k) => [k, 1]));
    const b = PMap.from<string, number>([...keys(200)].reverse().map((k) => [k, 1]));
    assert.deepStrictEqual(a, b);
    b.set('k-00000003', 2);
    assert.notDeepStrictEqual(a, b);
  });

  it('forkMap / forkSet copy small collections plainly and fork big ones', () => {
    assert.ok(!(forkMap(new Map([['a', 1]])) instanceof PMap));
    const big = forkMap(new Map(keys(100).map((k) => [k, 1] as const)));
    assert.ok(big instanceof PMap);
    const again = forkMap(big);
    assert.ok(again instanceof PMap && again !== big);
    assert.ok(forkSet(undefined) instanceof Set);
    assert.ok(forkSet(new Set(keys(100))) instanceof PSet);
  });
});
