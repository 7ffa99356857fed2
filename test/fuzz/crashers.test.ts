/**
 * The fuzzer's findings, each a minimal input in test/fuzz/crashers, as
 * regression tests. They are `todo` until the model is fixed (the fixes are
 * routed elsewhere), so CI stays green and each stays visible; once one
 * passes, set `"todo": false` in its JSON (or delete the crasher).
 * One that ran the heap out or never returned runs in a worker of its own
 * with a heap limit, so it fails as a test instead of killing the runner.
 * One where the real libvirt breaks the property the same way (`libvirt` in
 * its JSON) is pinned instead: our first output must equal libvirt's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { attachDevice, bookwormQemuCaps, defaultRegistry, defineDomain, formatDomainXML, type DomainDef } from '@virtflow/model';
import { baseDomains, createOracle } from './check.ts';
import { checkIsolated } from './driver.ts';
import { crashersDir, loadCrashers } from './known.ts';
import type { FuzzInput } from './mutators.ts';

/** Those that kill a process get a worker (and a small heap, so running out is quick); the rest run here. */
const FATAL = new Set(['oom', 'hang', 'exit']);

/** What libvirt's output is compared on: the UUID and MAC lines it generates at random dropped, no trailing blanks. */
const masked = (xml: string) => xml.split('\n').filter((l) => !/<uuid>|<mac address/.test(l)).map((l) => l.trimEnd()).join('\n').trim();

/** Our first output for the input: the definition, or the base domain's definition with the device attached. */
function firstOutput(input: FuzzInput, bases: readonly DomainDef[]): string {
  const registry = defaultRegistry();
  const text = typeof input.data === 'string' ? input.data : Buffer.from(input.data).toString('utf8');
  if (input.kind === 'domain') return formatDomainXML(defineDomain(text, { caps: bookwormQemuCaps, registry }).def);
  const base = bases[input.base]!;
  return formatDomainXML(attachDevice(base, text, { caps: bookwormQemuCaps, driver: registry.forType(base.type!), stages: registry.stages }).def.domain);
}

describe('fuzzing findings (test/fuzz/crashers)', { concurrency: true }, () => {
  let oracle: ReturnType<typeof createOracle> | undefined;
  let bases: DomainDef[] | undefined;
  for (const { crasher, input } of loadCrashers()) {
    if (crasher.libvirt) {
      it(`${crasher.name}: as libvirt does (${crasher.signature})`, () => {
        const libvirt = readFileSync(join(crashersDir, crasher.libvirt!.output), 'utf8');
        assert.equal(masked(firstOutput(input, (bases ??= baseDomains()))), masked(libvirt));
      });
      continue;
    }
    it(`${crasher.name}: ${crasher.failure} (${crasher.signature})`, { todo: crasher.todo !== false, timeout: 120_000 }, async () => {
      const outcome = FATAL.has(crasher.failure) ? await checkIsolated(input, { heapMb: 128, hangMs: 10_000 }) : (oracle ??= createOracle()).check(input);
      assert.deepEqual(outcome.failures.map((f) => `${f.signature}: ${f.detail.split('\n')[0]}`), []);
    });
  }
});
