import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { parseScaledKiB, unitMultiplier } from './units.ts';

const kib = (value: string, unit?: string) => parseScaledKiB({ value, unit, path: '/domain/memory', xpath: './memory[1]' });

describe('memory units', () => {
  it('scales every unit libvirt accepts to KiB', () => {
    const cases: Array<[string, number]> = [
      ['b', 1], ['bytes', 1], ['KB', 1000], ['k', 1024], ['KiB', 1024], ['MB', 1e6], ['M', 2 ** 20], ['MiB', 2 ** 20],
      ['GB', 1e9], ['G', 2 ** 30], ['GiB', 2 ** 30], ['TB', 1e12], ['T', 2 ** 40], ['TiB', 2 ** 40],
      ['PB', 1e15], ['P', 2 ** 50], ['PiB', 2 ** 50], ['EB', 1e18], ['E', 2 ** 60], ['EiB', 2 ** 60],
    ];
    for (const [unit, bytes] of cases) assert.equal(unitMultiplier(unit), BigInt(bytes), unit);
  });

  it('matches units case-insensitively and defaults to KiB', () => {
    assert.equal(kib('4', 'gib'), 4 * 1024 * 1024);
    assert.equal(kib('4'), 4);
    assert.equal(kib('4', ''), 4);
  });

  it('rounds up to whole KiB as libvirt does', () => {
    assert.equal(kib('1025', 'b'), 2);
    assert.equal(kib('1', 'MB'), 977);
    assert.equal(kib('1', 'GB'), 976563);
    assert.equal(kib('+16', 'KiB'), 16);
  });

  it('rejects non-numbers with the XPath in the message', () => {
    assert.throws(() => kib('1.5'), (e: VirtError) => e.code === 'XML_ERROR' && e.message === "XML error: Invalid value '1.5' for element or attribute './memory[1]'" && e.path === '/domain/memory');
    assert.throws(() => kib('-1'), /Invalid value '-1'/);
    assert.throws(() => kib('12 '), /Invalid value/);
  });

  it('rejects unknown suffixes', () => {
    assert.throws(() => kib('1', 'KIBI'), (e: VirtError) => e.code === 'INVALID_ARG' && e.message === "invalid argument: unknown suffix 'KIBI'" && e.path === '/domain/memory/@unit');
  });

  it('rejects overflow of the byte limit and of the KiB limit', () => {
    assert.throws(() => kib('8', 'EiB'), (e: VirtError) => e.code === 'OVERFLOW' && e.message === 'numerical overflow: value too large: 8EiB');
    assert.throws(() => kib('9007199254740992'), (e: VirtError) => e.message === 'numerical overflow: value too large: 9007199254740992');
    assert.throws(() => kib('9223372036854775807', 'b'), (e: VirtError) => e.message === 'numerical overflow: size value too large');
    assert.equal(kib('9007199254740991'), 9007199254740991);
    assert.equal(kib('9223372036854774784', 'b'), 9007199254740991);
  });
});
