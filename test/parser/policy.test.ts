/** Policy stage modules: what a module must export, and a folder's changes reaching the registry. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultRegistry } from '@virtflow/model';
import { PolicyLoader, importStages } from '@virtflow/parser';

const dir = mkdtempSync(join(tmpdir(), 'virtflow-policy-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('policy stage modules', () => {
  it('takes a stage as default or stage, a list as default or stages, and refuses anything else', async () => {
    assert.deepEqual((await importStages(write('a.mjs', 'export default { name: "a", domain() {} };'))).map((s) => s.name), ['a']);
    assert.deepEqual((await importStages(write('b.mjs', 'export const stages = [{ name: "b1", device() {} }, { name: "b2", domain() {} }];'))).map((s) => s.name), ['b1', 'b2']);
    await assert.rejects(importStages(write('c.mjs', 'export const x = 1;')), /exports no policy stage/);
    await assert.rejects(importStages(write('d.mjs', 'export default { domain() {} };')), /a policy stage needs a name/);
    await assert.rejects(importStages(write('e.mjs', 'export default { name: "e" };')), /has neither a domain nor a device step/);
    await assert.rejects(importStages(write('f.mjs', 'export default { name: "f", domain: 3 };')), /'domain' of stage 'f' must be a function/);
  });

  it('keeps a folder and the registry in step: added, changed, broken and removed files', async () => {
    const folder = mkdtempSync(join(dir, 'policy.d-'));
    const registry = defaultRegistry();
    registry.addStage({ name: 'in-code', domain: () => undefined });
    const log: Record<string, unknown>[] = [];
    const loader = new PolicyLoader(registry, { files: [join(dir, 'a.mjs')], dir: folder, pollMs: 0, log: (e) => log.push(e) });
    await loader.start();
    try {
      assert.deepEqual(registry.stages.map((s) => s.name), ['in-code', 'a']);
      writeFileSync(join(folder, '20-z.mjs'), 'export default { name: "z", domain() {} };');
      writeFileSync(join(folder, '10-y.mjs'), 'export default { name: "y", domain() {} };');
      writeFileSync(join(folder, '.10-y.mjs.swp'), 'not a module');
      await loader.reload();
      assert.deepEqual(registry.stages.map((s) => s.name), ['in-code', 'a', 'y', 'z'], 'the folder in file-name order, after the listed modules');
      // A changed file is imported again (its mtime moved).
      writeFileSync(join(folder, '10-y.mjs'), 'export default { name: "y2", domain() {} };');
      utimesSync(join(folder, '10-y.mjs'), new Date(), new Date(Date.now() + 5000));
      await loader.reload();
      assert.deepEqual(loader.names, ['a', 'y2', 'z']);
      // A broken edit keeps what was loaded before.
      writeFileSync(join(folder, '20-z.mjs'), 'export default { name: ');
      utimesSync(join(folder, '20-z.mjs'), new Date(), new Date(Date.now() + 10_000));
      await loader.reload();
      assert.deepEqual(loader.names, ['a', 'y2', 'z']);
      assert.ok(log.some((e) => e.msg === 'policy module failed to load; keeping what was loaded before'));
      unlinkSync(join(folder, '10-y.mjs'));
      unlinkSync(join(folder, '20-z.mjs'));
      await loader.reload();
      assert.deepEqual(registry.stages.map((s) => s.name), ['in-code', 'a']);
    } finally {
      loader.close();
    }
  });
});
