/**
 * Anti-affinity across two schedulers: the group rides on each claim, so a
 * scheduler that has not yet read the other's placement still finds the
 * other member on the host when it re-checks its claim there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StartResult } from '@virtflow/scheduler';
import { GiB, MiB, define, outcome, startRig, type Outcome, type Rig } from './support.ts';

const HOSTS = ['g-1', 'g-2', 'g-3', 'g-4'];
const JOBS = 16;

describe('scheduling groups with two schedulers', { timeout: 180_000 }, () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ hosts: HOSTS.map((hostId) => ({ hostId, memoryKiB: 32 * GiB, cpus: 32 })), schedulers: 2, concurrency: 8 });
  });
  after(async () => {
    await rig?.stop();
  });

  it(`anti-affinity: ${JOBS} members raced over ${HOSTS.length} hosts give one a host, the rest "no host fits"`, async () => {
    const uuids = await Promise.all(Array.from({ length: JOBS }, (_, i) => define(rig.store, `web-${i}`, 256 * MiB)));
    const group = { name: 'web', policy: 'anti-affinity' };
    const jobs = await rig.queue.addBulk(uuids.map((uuid) => ({ name: 'start', data: { op: 'start', uuid, schedulerHints: { group } }, opts: { jobId: `g-${uuid}`, attempts: 2 } })));
    const outcomes: Outcome[] = await Promise.all(jobs.map((j) => outcome(rig, j)));
    const hosts = outcomes.filter((o) => o.ok).map((o) => (o.value as StartResult).hostId);
    assert.deepEqual([...hosts].sort(), HOSTS, 'one member on every host, never two');
    for (const o of outcomes) {
      if (o.ok) continue;
      assert.equal(o.error.code, 'OPERATION_FAILED', o.error.message);
      assert.match(o.error.message, /no host fits/);
      for (const h of HOSTS) assert.match(o.error.message, new RegExp(`\\n  ${h}: .*(anti-affinity|AntiAffinity)`), o.error.message);
    }
  });
});
