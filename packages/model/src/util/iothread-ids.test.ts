import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IothreadIds } from './iothread-ids.ts';

describe('IothreadIds: libvirt numbering without a list', () => {
  it('the listed ids, then the lowest free ones up to the count', () => {
    const ids = new IothreadIds([4, 2], 5);
    assert.equal(ids.size, 5);
    // 4 and 2 listed; 1, 3, 5 added.
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((i) => ids.has(i)), [false, true, true, true, true, true, false]);
    assert.deepEqual(ids.order([5, 1, 2, 4, 9, 3]), [4, 2, 1, 3, 5]);
  });

  it('more listed than counted: the listed ones only', () => {
    const ids = new IothreadIds([7, 9], 1);
    assert.equal(ids.size, 2);
    assert.deepEqual([1, 7, 9].map((i) => ids.has(i)), [false, true, true]);
  });

  it('a count of millions is a bound, not millions of ids (the fuzzer found <iothreads>4194304</iothreads> took seconds)', () => {
    const ids = new IothreadIds([], 4_194_304);
    assert.equal(ids.size, 4_194_304);
    assert.equal(ids.has(4_194_304), true);
    assert.equal(ids.has(4_194_305), false);
    assert.deepEqual(ids.order([4_194_304, 2]), [2, 4_194_304]);
  });
});
