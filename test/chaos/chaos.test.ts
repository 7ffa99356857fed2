/**
 * The short form of issue 9's chaos suite (the long one: `npm run test:chaos`): a define → start →
 * destroy load on three agents while the parser, the scheduler and an agent are SIGKILLed and redis-server
 * (AOF) and nats-server restarted, once each. Lost and duplicated must be 0, no host oversubscribed, the
 * projection rebuilt from zero equal to the live one, and every accepted job finished with a reason.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { formatTable, killAll, runChaos } from './chaos.ts';

describe('chaos (short form)', { timeout: 600_000 }, () => {
  after(killAll);

  it('loses and duplicates nothing through one of each fault', async (t) => {
    const r = await runChaos({ durationMs: Number(process.env.VIRTFLOW_CHAOS_MS ?? 30_000), faults: 5, workers: 4, log: (l) => console.log(l), spuriousRefusalsKnown: true });
    console.log(formatTable(r));
    // Open bug, reported rather than failed on here (the long form fails on it): see test/chaos/README.md.
    for (const k of r.knownIssues) t.diagnostic(`known issue: ${k}`);
    assert.equal(r.faults.length, 5);
    assert.ok(r.completed > 0, 'some jobs completed');
    assert.equal(r.lost, 0, r.problems.join('\n'));
    assert.equal(r.duplicated, 0, r.problems.join('\n'));
    assert.equal(r.oversubscribed, 0, r.problems.join('\n'));
    assert.equal(r.projectionsEqual, true, r.problems.join('\n'));
    // Open bugs the suite found (test/chaos/README.md, "Open findings"), reported here rather than failed on
    // until fixed; `npm run test:chaos` fails on them. Everything else found is a failure.
    const known = (p: string) => /^claim leaked on |^\.\.\. \d+ claims leaked|failed on an infrastructure fault|^ {2}history of /.test(p);
    for (const p of r.problems.filter(known)) t.diagnostic(`known issue: ${p}`);
    assert.deepEqual(r.problems.filter((p) => !known(p)), []);
    assert.equal(r.completed + r.failed, r.jobs);
  });
});
