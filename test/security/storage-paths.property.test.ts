/**
 * The storage allow-list's path arithmetic against an independent oracle
 * (node's path.posix.resolve): whatever mix of `.`, `..`, empty and plain
 * segments a disk source has, it is accepted exactly when the resolved path
 * lies under the root — no `..` escape, no sibling-prefix confusion.
 */
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { VirtError, checkStoragePaths } from '@virtflow/model';

const ROOT = '/srv/images';
const segment = fc.constantFrom('..', '.', '', 'srv', 'images', 'images-evil', 'etc', 'a.qcow2', 'x');
const domain = (file: string) => `<domain type='kvm'><name>p</name><memory>1024</memory><os><type>hvm</type></os><devices><disk type='file'><source file='${file}'/><target dev='vda'/></disk></devices></domain>`;

describe('storage paths: property', () => {
  it('accepts a disk source exactly when it resolves under the root (5,000 paths)', () => {
    fc.assert(fc.property(fc.boolean(), fc.array(segment, { minLength: 1, maxLength: 8 }), (underRoot, parts) => {
      const file = `${underRoot ? ROOT : ''}/${parts.join('/')}`;
      const resolved = posix.resolve(file);
      const expected = resolved === ROOT || resolved.startsWith(`${ROOT}/`);
      let accepted: boolean;
      try {
        checkStoragePaths(domain(file), [ROOT]);
        accepted = true;
      } catch (e) {
        assert.ok(e instanceof VirtError && e.code === 'OPERATION_DENIED' && e.path === '/domain/devices/disk/source/@file', String(e));
        accepted = false;
      }
      assert.equal(accepted, expected, `${file} resolves to ${resolved}`);
    }), { numRuns: 5_000, seed: 9 });
  });
});
