/**
 * Assertions the model's unit tests share (not part of the package's public
 * surface): an error of an exact code, message and path; and the provenance
 * recorded for a path.
 */
import assert from 'node:assert/strict';
import { VirtError } from './errors.ts';
import type { Provenance } from './postparse/types.ts';

export function rejects(fn: () => unknown, code: string, message: string, path?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VirtError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    if (path !== undefined) assert.equal(e.path, path);
    return true;
  });
}

/** Who filled `path`, with what: undefined when nothing did. */
export function prov(list: readonly Provenance[], path: string): { value: string | null; driver: string; rule: string } | undefined {
  const p = list.find((x) => x.path === path);
  return p && { value: p.value, driver: p.driver, rule: p.rule };
}
