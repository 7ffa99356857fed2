/**
 * Backpressure at the parser's intake, on a real redis-server and nats-server:
 * the per-client rate limit (ratelimit.ts), and a burst of 100,000 small
 * submissions taken while the parser process's memory (RSS, read from
 * /proc/<pid>/status) stays under a stated bound: the backlog waits in Redis,
 * the parser holds only the jobs it works on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { VirtError, bookwormQemuCaps, defaultRegistry } from '@virtflow/model';
import { EventStore, connectNats, queues } from '@virtflow/runtime';
import { ParserClient, startParser } from '@virtflow/parser';
import { IntakeLimiter } from '../../services/parser/src/ratelimit.ts';
import { startServers, type Servers } from '../harness/index.ts';
import { killAll, spawnParser } from '../parser/support.ts';

const BURST = Number(process.env.VIRTFLOW_BURST_JOBS ?? 100_000);
/** The stated bound on the parser process's resident memory during the burst. */
const RSS_BOUND_MIB = Number(process.env.VIRTFLOW_BURST_RSS_MIB ?? 400);

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const tiny = (i: number) => `<domain type='test'><name>b-${i}</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`;

describe('backpressure at the parser intake', { timeout: 300_000 }, () => {
  let servers: Servers;
  before(async () => {
    servers = await startServers();
  });
  after(async () => {
    await killAll();
    await servers?.stop();
  });

  it('counts jobs per client and window in Redis: over the limit is OPERATION_DENIED, other clients and the next window go on', async () => {
    const redis = new Redis(servers.redisUrl);
    try {
      let now = 1_000_000;
      const limiter = new IntakeLimiter(redis, 'bull', { max: 5, windowMs: 1_000 }, () => now);
      const a = await Promise.all(Array.from({ length: 7 }, () => limiter.take('a')));
      assert.equal(a.filter((e) => e === undefined).length, 5);
      const denied = a.find((e) => e !== undefined)!;
      assert.ok(denied instanceof VirtError);
      assert.equal(denied.code, 'OPERATION_DENIED');
      assert.equal(denied.path, '/client');
      assert.match(denied.message, /client 'a' submitted more than 5 jobs within 1000 ms/);
      assert.equal(await limiter.take('b'), undefined, 'another client has its own count');
      now += 1_000;
      assert.equal(await limiter.take('a'), undefined, 'the next window starts afresh');
      assert.ok((await redis.pttl('bull:virtflow.ratelimit:a:1001')) > 0, 'counts expire');
    } finally {
      redis.disconnect();
    }
  });

  it("refuses a client's jobs over its limit before parsing them; another client's jobs are defined", async () => {
    const nc = await connectNats(servers.natsUrl);
    const store = await EventStore.open(nc);
    const parser = await startParser({ redisUrl: servers.redisUrl, store, caps: bookwormQemuCaps, registry: defaultRegistry(), prefix: 'rl', concurrency: 4, attempts: 2, backoffMs: 50, intakeLimit: { max: 3, windowMs: 120_000 } });
    const greedy = new ParserClient(servers.redisUrl, { prefix: 'rl', clientId: 'greedy', attempts: 2, backoffMs: 50 });
    const polite = new ParserClient(servers.redisUrl, { prefix: 'rl', clientId: 'polite', attempts: 2, backoffMs: 50 });
    try {
      await Promise.all([greedy.ready(), polite.ready()]);
      const g = await Promise.all(Array.from({ length: 6 }, (_, i) => greedy.run({ op: 'define', xml: tiny(100 + i) }, 120_000)));
      const p = await Promise.all(Array.from({ length: 2 }, (_, i) => polite.run({ op: 'define', xml: tiny(200 + i) }, 120_000)));
      assert.equal(g.filter((o) => o.ok).length, 3);
      for (const o of g.filter((x) => !x.ok)) {
        assert.ok(!o.ok);
        assert.equal(o.error.code, 'OPERATION_DENIED');
        assert.equal(o.error.path, '/client');
      }
      assert.deepEqual(p.map((o) => o.ok), [true, true]);
    } finally {
      await Promise.all([greedy.close(), polite.close()]);
      await parser.close();
      await store.close();
      await nc.close();
    }
  });

  it(`takes a burst of ${BURST} submissions from 100 clients with the parser's RSS under ${RSS_BOUND_MIB} MiB`, async () => {
    // Five jobs per client per 10 s are defined; the rest are refused at the intake without a parse.
    const proc = await spawnParser(servers, { VIRTFLOW_INTAKE_RATE: '5', VIRTFLOW_INTAKE_WINDOW_MS: '10000', VIRTFLOW_QUEUE_PREFIX: 'burst' });
    const pid = proc.child.pid!;
    const samples: number[] = [rssMiB(pid)];
    const sampler = setInterval(() => {
      try {
        samples.push(rssMiB(pid));
      } catch {
        // the process is gone: the assertions below say so
      }
    }, 250);
    const q = new Queue(queues.jobs, { connection: { url: servers.redisUrl }, prefix: 'burst' });
    try {
      const t0 = performance.now();
      for (let i = 0; i < BURST; i += 2_000) {
        await q.addBulk(Array.from({ length: Math.min(2_000, BURST - i) }, (_, k) => ({
          name: 'define', data: { payload: { op: 'define', xml: tiny(i + k) }, client: `burst-${(i + k) % 100}` },
          opts: { jobId: `burst-${i + k}`, removeOnComplete: true, removeOnFail: true },
        })));
      }
      const submitSecs = (performance.now() - t0) / 1000;
      // The parser drains what it can meanwhile; a minute after the burst is enough to see memory settle.
      const deadline = Date.now() + 60_000;
      let left = BURST;
      while (Date.now() < deadline) {
        const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        left = Object.values(c).reduce((a, b) => a + b, 0);
        if (left === 0) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const health = await fetch(`${proc.http}/healthz`);
      const max = Math.max(...samples.filter(Number.isFinite));
      const report = {
        submissions: BURST, submitSecs: Number(submitSecs.toFixed(1)), processed: BURST - left, leftInQueue: left,
        rssStartMiB: Math.round(samples[0]!), rssMaxMiB: Math.round(max), rssEndMiB: Math.round(samples[samples.length - 1]!), boundMiB: RSS_BOUND_MIB,
      };
      console.log(`# burst: ${JSON.stringify(report)}`);
      assert.equal(health.status, 200, 'the parser is healthy after the burst');
      assert.equal(proc.child.exitCode, null, 'the parser is still running');
      assert.ok(BURST - left > 0, 'it went on taking jobs');
      assert.ok(max < RSS_BOUND_MIB, `the parser's RSS peaked at ${max.toFixed(0)} MiB, over the ${RSS_BOUND_MIB} MiB bound`);
    } finally {
      clearInterval(sampler);
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }
  });
});
