/**
 * Infrastructure faults are retried, never a job's result (issue 9's chaos
 * suite: define jobs failed NOSCRIPT after a Redis restart, start jobs failed
 * with no reason of their own). Redis forgetting its Lua scripts (what a
 * restart does) is played here by SCRIPT FLUSH, against a parser and a
 * scheduler that have used their scripts already.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { bookwormQemuCaps, defaultRegistry, type JobResult } from '@virtflow/model';
import { ParserClient, startParser, type ParserService } from '@virtflow/parser';
import { GiB, TIMEOUT, outcome, startRig, type Rig } from './support.ts';

const xml = (name: string) => `<domain type='test'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;

describe('infrastructure faults are retried, not recorded as failures', { timeout: 180_000 }, () => {
  let rig: Rig;
  let parser: ParserService;
  let client: ParserClient;
  let admin: Redis;
  before(async () => {
    rig = await startRig({ hosts: [{ hostId: 'f-1', memoryKiB: GiB, cpus: 4 }] });
    parser = await startParser({ redisUrl: rig.servers.redisUrl, store: rig.store, caps: bookwormQemuCaps, registry: defaultRegistry(), concurrency: 4, attempts: 3, backoffMs: 50 });
    client = new ParserClient(rig.servers.redisUrl, { attempts: 3, backoffMs: 50 });
    await client.ready();
    admin = new Redis(rig.servers.redisUrl);
  });
  after(async () => {
    admin?.disconnect();
    await client?.close();
    await parser?.close();
    await rig?.stop();
  });

  it('a define after Redis lost its scripts is stored: the NOSCRIPT of a flow is retried with the scripts loaded again', async () => {
    const warm = await client.run({ op: 'define', xml: xml('warm-1') }, TIMEOUT);
    assert.equal(warm.ok, true, warm.ok ? '' : warm.error.message);
    // ioredis now sends EVALSHA inside the flows' MULTI; a NOSCRIPT there never makes it send EVAL again.
    await admin.script('FLUSH');
    for (let i = 0; i < 3; i++) {
      const o = await client.run({ op: 'define', xml: xml(`after-flush-${i}`) }, TIMEOUT);
      assert.equal(o.ok, true, o.ok ? '' : `define ${i}: ${o.error.message}`);
    }
  });

  it('a start handed on to the scheduler retries an infrastructure fault with backoff, as the stages do', async () => {
    const d = await client.run({ op: 'define', xml: xml('start-1') }, TIMEOUT);
    assert.equal(d.ok, true, d.ok ? '' : d.error.message);
    const uuid = (d as { value: JobResult }).value.uuid;
    const intake = await client.run({ op: 'start', uuid }, TIMEOUT);
    assert.equal(intake.ok, true, intake.ok ? '' : intake.error.message);
    const job = (await rig.queue.getJob(intake.jobId))!;
    assert.deepEqual(job.opts.backoff, { type: 'exponential', delay: 50 }, 'the scheduler job retries with the parser backoff');
    const o = await outcome(rig, job);
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
  });
});
