import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCpuList, readNumaCells } from './numa.ts';

test('CPU lists as the kernel writes them', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList('\n'), []);
  assert.throws(() => parseCpuList('3-1'), /'3-1' is not a CPU list/);
  assert.throws(() => parseCpuList('a'), /not a CPU list/);
});

test('cells from a sysfs tree: ids sorted, memory from meminfo, CPUs from cpulist; none without node dirs', () => {
  const root = mkdtempSync(join(tmpdir(), 'virtflow-numa-'));
  try {
    assert.equal(readNumaCells(join(root, 'missing')), undefined);
    assert.equal(readNumaCells(root), undefined);
    for (const [id, cpus, kib] of [[1, '2-3', 2048], [0, '0-1', 4096]] as const) {
      mkdirSync(join(root, `node${id}`));
      writeFileSync(join(root, `node${id}`, 'cpulist'), `${cpus}\n`);
      writeFileSync(join(root, `node${id}`, 'meminfo'), `Node ${id} MemTotal:       ${kib} kB\nNode ${id} MemFree:  1 kB\n`);
    }
    mkdirSync(join(root, 'power'));
    assert.deepEqual(readNumaCells(root), [{ id: 0, memoryKiB: 4096, cpus: [0, 1] }, { id: 1, memoryKiB: 2048, cpus: [2, 3] }]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('this machine: every cell has an id and CPU ids when sysfs shows nodes', () => {
  const cells = readNumaCells();
  if (!cells) return;
  for (const c of cells) assert.ok(Number.isInteger(c.id) && c.cpus.length >= 0 && c.memoryKiB >= 0);
});
