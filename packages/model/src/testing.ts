/**
 * Assertions the model's unit tests share (not part of the package's public
 * surface): an error of an exact code, message and path; a small domain to put
 * devices in; libvirt's attribute messages; and the provenance recorded for a path.
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

/** The randomness the model's tests parse with: fixed, so generated MACs and UUIDs repeat. */
export const fixedRandom = (b: Uint8Array): Uint8Array => b.fill(0xab);

/** A small kvm domain around `devices`. */
export function kvmDomain(devices: string): string {
  return `<domain type='kvm'>
  <name>vm1</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>${devices}</devices>
</domain>`;
}

/** libvirt's messages for what its attribute readers (virXMLProp*, src/util/virxml.c) refuse. */
export const propMessages = {
  invalid: (attr: string, el: string, v: string) => `XML error: Invalid value for attribute '${attr}' in element '${el}': '${v}'.`,
  missing: (attr: string, el: string) => `XML error: Missing required attribute '${attr}' in element '${el}'`,
  conf: (m: string) => `unsupported configuration: ${m}`,
};

/** Who filled `path`, with what: undefined when nothing did. */
export function prov(list: readonly Provenance[], path: string): { value: string | null; driver: string; rule: string } | undefined {
  const p = list.find((x) => x.path === path);
  return p && { value: p.value, driver: p.driver, rule: p.rule };
}
