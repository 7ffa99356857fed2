import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBitmap, parseBitmap } from './bitmap.ts';
import { formatMac, generateMac, isMulticast, parseMac } from './mac.ts';
import { canonicalUUID, generateUUID } from './uuid.ts';

describe('UUIDs', () => {
  it('accepts libvirt-lenient spellings and writes canonical lowercase', () => {
    assert.equal(canonicalUUID('C7A5FDBD-EDAF-9455-926A-D65C16DB1809'), 'c7a5fdbd-edaf-9455-926a-d65c16db1809');
    assert.equal(canonicalUUID(' c7a5fdbdedaf9455926ad65c16db1809 '), 'c7a5fdbd-edaf-9455-926a-d65c16db1809');
    assert.equal(canonicalUUID('c7-a5-fd-bd edaf9455926ad65c16db1809'), 'c7a5fdbd-edaf-9455-926a-d65c16db1809');
  });
  it('rejects malformed UUIDs', () => {
    for (const bad of ['', 'xyz', 'c7a5fdbd-edaf-9455-926a-d65c16db180', 'c7a5fdbd-edaf-9455-926a-d65c16db18090', 'g7a5fdbd-edaf-9455-926a-d65c16db1809']) {
      assert.equal(canonicalUUID(bad), undefined, bad);
    }
  });
  it('generates version-4 UUIDs from the given randomness', () => {
    const u = generateUUID((b) => b.fill(0xff));
    assert.equal(u, 'ffffffff-ffff-4fff-bfff-ffffffffffff');
  });
});

describe('MAC addresses', () => {
  it('parses one- or two-digit groups and writes lowercase', () => {
    assert.equal(formatMac(parseMac('52:54:0:AB:cd:1')!), '52:54:00:ab:cd:01');
  });
  it('rejects malformed addresses', () => {
    for (const bad of ['52:54:00:ab:cd', '52-54-00-ab-cd-ef', ' 52:54:00:ab:cd:ef', '+52:54:00:ab:cd:ef', '52:54:00:ab:cd:efg', '525:54:00:ab:cd:ef']) {
      assert.equal(parseMac(bad), undefined, bad);
    }
  });
  it('knows multicast addresses', () => {
    assert.equal(isMulticast(parseMac('01:00:5e:00:00:01')!), true);
    assert.equal(isMulticast(parseMac('52:54:00:00:00:01')!), false);
  });
  it('generates with the driver prefix', () => {
    assert.equal(generateMac([0x52, 0x54, 0x00], (b) => b.fill(1)), '52:54:00:01:01:01');
  });
});

describe('CPU sets', () => {
  it('parses ranges and exclusions and writes them compactly', () => {
    assert.equal(formatBitmap(parseBitmap('0,1,2,^1', '/x')), '0,2');
    assert.equal(formatBitmap(parseBitmap('0,1,2,3', '/x')), '0-3');
    assert.equal(formatBitmap(parseBitmap(' 0-3 , 8 ', '/x')), '0-3,8');
  });
  it('rejects bad syntax with libvirt message', () => {
    assert.throws(() => parseBitmap('0-', '/domain/vcpu/@cpuset'), (e: Error & { path?: string }) => e.message === "invalid argument: Failed to parse bitmap '0-'" && e.path === '/domain/vcpu/@cpuset');
    assert.throws(() => parseBitmap('16384', '/x'), /Failed to parse bitmap/);
  });
});
