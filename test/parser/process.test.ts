/**
 * The parser as its own process (services/parser/src/main.ts): health and
 * metrics over HTTP, graceful SIGTERM, SIGKILL mid-run with BullMQ's
 * stalled-job recovery finishing the work after a restart, and policy stages
 * loaded from modules and from a folder watched while it runs.
 *
 * Waits are keyed on progress (untilDone fails only when nothing moves for a
 * long time), never on a guess of how long a loaded machine takes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { EventStore, connectNats, queues } from '@virtflow/runtime';
import { ParserClient, jobError } from '@virtflow/parser';
import type { JobResult } from '@virtflow/model';
import type { NatsConnection } from '@nats-io/transport-node';
import { startServers, type Servers } from '../harness/index.ts';
import { definedCounts, invalidJob, killAll, spawnParser, untilDone, validXml } from './support.ts';

const N = Number(process.env.VIRTFLOW_PARSER_KILL_JOBS ?? 1000);
const STAGE_QUEUES = [queues.jobs, queues.policy, ...['qemu', 'lxc', 'xen', 'bhyve', 'test'].map((d) => queues.postparse(d))];

describe('parser process', { timeout: 30 * 60_000 }, () => {
  let servers: Servers;
  let nc: NatsConnection;
  let store: EventStore;
  let client: ParserClient;
  let redis: Redis;
  let stageQueues: Queue[];
  before(async () => {
    servers = await startServers();
    nc = await connectNats(servers.natsUrl);
    store = await EventStore.open(nc);
    client = new ParserClient(servers.redisUrl, { attempts: 5, backoffMs: 50 });
    await client.ready();
    redis = new Redis(servers.redisUrl, { maxRetriesPerRequest: null });
    stageQueues = STAGE_QUEUES.map((name) => new Queue(name, { connection: redis }));
  });
  // A failed test must not leave its parser running to take the next test's jobs.
  afterEach(() => killAll());
  after(async () => {
    await killAll();
    await Promise.all((stageQueues ?? []).map((q) => q.close()));
    redis?.disconnect();
    await client?.close();
    await store?.close();
    await nc?.close();
    await servers?.stop();
  });

  /** Intake jobs finished (completed or failed) so far: a count, cheap enough to poll. */
  const finishedCount = async () => {
    const c = await client.jobs.getJobCounts('completed', 'failed');
    return (c.completed ?? 0) + (c.failed ?? 0);
  };
  const activeAnywhere = async () => {
    let n = 0;
    for (const q of stageQueues) n += (await q.getJobCounts('active')).active ?? 0;
    return n;
  };

  it('serves /healthz and /metrics, and finishes running jobs on SIGTERM', async () => {
    const p = await spawnParser(servers);
    const health = await fetch(`${p.http}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { ok: boolean }).ok, true);
    const first = await client.run({ op: 'define', xml: validXml(900_000) }, 120_000);
    assert.ok(first.ok, first.ok ? '' : first.error.message);
    // The worker counts a job after BullMQ has published its completion: poll until it has.
    const completedLine = /^virtflow_parser_jobs_total\{queue="virtflow\.jobs",outcome="completed"\} 1$/m;
    let metrics = '';
    await untilDone(async () => ((metrics = await (await fetch(`${p.http}/metrics`)).text()), completedLine.test(metrics) ? 1 : 0), 1);
    assert.match(metrics, /^virtflow_parser_jobs_total\{queue="virtflow\.postparse\.qemu",outcome="completed"\} 1$/m);
    assert.match(metrics, /^virtflow_parser_events_appended_total\{type="DomainDefined"\} 1$/m);
    assert.match(metrics, /^virtflow_parser_job_seconds_bucket\{le="\+Inf",queue="virtflow\.postparse\.qemu"\} 1$/m, "a stage latency histogram");
    // No policy stage is registered here: the flow has no policy job (the store reports 'policy').
    assert.doesNotMatch(metrics, /^virtflow_parser_job_seconds_count\{queue="virtflow\.policy"\}/m);
    assert.match(metrics, /^virtflow_parser_queue_jobs\{queue="virtflow\.jobs",state="completed"\} 1$/m, 'jobs by state, read from Redis');
    assert.match(metrics, /^process_cpu_seconds_total /m);

    const base = await finishedCount();
    const jobs = await Promise.all(Array.from({ length: 40 }, (_, i) => client.submit({ op: 'define', xml: validXml(900_001 + i) })));
    const ids = new Set(jobs.map((j) => j.id!));
    const finished = async () => (await finishedCount()) - base;
    // SIGTERM while jobs run: wait until some are active (or, on a fast day, all are done).
    await untilDone(async () => ((await activeAnywhere()) > 0 || (await finished()) === ids.size ? 1 : 0), 1);
    const running = (await client.jobs.getJobs(['active'])).filter((j) => j && ids.has(j.id!)).map((j) => j.id!);
    p.child.kill('SIGTERM');
    console.log(`# SIGTERM with ${running.length} intake jobs running`);
    assert.equal(await p.exited, 0, 'exits cleanly');
    assert.equal(await activeAnywhere(), 0, 'no job left half-done by the stopped process');
    for (const id of running) {
      const state = await (await client.jobs.getJob(id))!.getState();
      // Finished its step: done, waiting for its stages, or (its stages done meanwhile) waiting to be stored.
      assert.ok(['completed', 'waiting-children', 'waiting'].includes(state), `job ${id}, running at SIGTERM, finished its step (${state})`);
    }
    const q = await spawnParser(servers);
    await untilDone(finished, ids.size);
    const outs = await Promise.all(jobs.map((j) => client.outcome(j)));
    assert.ok(outs.every((o) => o.ok));
    q.child.kill('SIGTERM');
    assert.equal(await q.exited, 0);
  });

  it(`loses and duplicates nothing over ${N} jobs on several drivers, 10% invalid, with the parser SIGKILLed twice mid-run`, async () => {
    const before = new Set((await definedCounts(store)).keys());
    const t0 = performance.now();
    const base = 1_000_000;
    const already = await finishedCount();
    const finished = async () => (await finishedCount()) - already;
    const plan = Array.from({ length: N }, (_, i) => (i % 10 === 3 ? { i, bad: invalidJob(i) } : { i, bad: undefined }));
    let p = await spawnParser(servers);
    const jobs = await Promise.all(plan.map((x) => client.submit(x.bad ? x.bad.payload : { op: 'define', xml: validXml(base + x.i) })));
    const ids = new Set(jobs.map((j) => j.id!));
    const what = async () => JSON.stringify(await client.jobs.getJobCounts());
    for (const fraction of [0.25, 0.6]) {
      await untilDone(finished, Math.floor(N * fraction), { what });
      p.child.kill('SIGKILL');
      assert.equal(await p.exited, null, 'killed');
      p = await spawnParser(servers);
    }
    await untilDone(finished, N, { what });
    console.log(`# ${N} jobs with two SIGKILLs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);

    const byId = new Map<string, Job>();
    for (const j of await client.jobs.getJobs(['completed', 'failed'])) if (j && ids.has(j.id!)) byId.set(j.id!, j);
    const uuids = new Set<string>();
    for (const [k, x] of plan.entries()) {
      const job = byId.get(jobs[k]!.id!);
      assert.ok(job, `job ${x.i} finished`);
      if (x.bad) {
        assert.ok(job.failedReason, `job ${x.i} must fail`);
        const e = jobError(job);
        assert.ok(e, `job ${x.i} fails with the user's error, not an infrastructure one: ${job.failedReason}`);
        assert.equal(e.path, x.bad.path, `job ${x.i}: ${e.message}`);
        assert.equal(e.code, x.bad.code, `job ${x.i}: ${e.message}`);
      } else {
        assert.ok(job.finishedOn && !job.failedReason, `job ${x.i} must succeed: ${job.failedReason}`);
        const r = job.returnvalue as JobResult;
        assert.match(r.xml, new RegExp(`<name>vm-${base + x.i}</name>`));
        uuids.add(r.uuid);
      }
    }
    const valid = plan.filter((x) => !x.bad).length;
    assert.equal(uuids.size, valid, 'one domain per valid job');
    const counts = await definedCounts(store);
    for (const uuid of uuids) assert.equal(counts.get(uuid), 1, `exactly one DomainDefined for ${uuid}`);
    const added = [...counts.keys()].filter((u) => !before.has(u));
    assert.equal(added.length, valid, 'no DomainDefined beyond the valid jobs');
    for (const n of counts.values()) assert.equal(n, 1);
    assert.equal(await activeAnywhere(), 0);
  });

  it('takes policy stages from VIRTFLOW_POLICY_STAGES, and from VIRTFLOW_POLICY_DIR while it runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtflow-policy-'));
    const folder = join(dir, 'policy.d');
    try {
      writeFileSync(join(dir, 'fixed.mjs'), `export default {
  name: 'fixed-title',
  domain(def, ctx) { ctx.filled('/domain/title', 'managed', 'every domain is managed', 'title'); return { ...def, title: 'managed' }; },
};\n`);
      // The folder may be created after the service starts: the poll finds it.
      const p = await spawnParser(servers, { VIRTFLOW_POLICY_STAGES: join(dir, 'fixed.mjs'), VIRTFLOW_POLICY_DIR: folder, VIRTFLOW_POLICY_POLL_MS: '200' });
      const policy = async () => ((await (await fetch(`${p.http}/healthz`)).json()) as { policy: string[] }).policy;
      assert.deepEqual(await policy(), ['fixed-title']);
      const a = await client.run({ op: 'define', xml: validXml(2_000_001) }, 120_000);
      assert.ok(a.ok, a.ok ? '' : a.error.message);
      assert.match((a.value as JobResult).xml, /<title>managed<\/title>/);
      assert.doesNotMatch((a.value as JobResult).xml, /<description>/);

      const { mkdirSync } = await import('node:fs');
      mkdirSync(folder);
      writeFileSync(join(folder, '10-describe.ts'), `import type { PolicyStage } from '@virtflow/model';
const stage: PolicyStage = { name: 'describe', domain: (def) => ({ ...def, description: 'from policy.d' }) };
export default stage;\n`);
      await untilDone(async () => ((await policy()).includes('describe') ? 1 : 0), 1);
      const b = await client.run({ op: 'define', xml: validXml(2_000_002) }, 120_000);
      assert.ok(b.ok, b.ok ? '' : b.error.message);
      assert.match((b.value as JobResult).xml, /<title>managed<\/title>\n {2}<description>from policy\.d<\/description>/);

      // A broken module is reported and skipped; the others keep working.
      writeFileSync(join(folder, '20-broken.mjs'), 'export default { name: 42 };\n');
      writeFileSync(join(folder, '30-refuse.mjs'), `export const stage = { name: 'no-big', domain(def) {
  if (Number(def.memory?.text ?? 0) > 262144) { const e = new Error('over 256 MiB'); throw e; }
} };\n`);
      await untilDone(async () => ((await policy()).includes('no-big') ? 1 : 0), 1);
      assert.deepEqual(await policy(), ['fixed-title', 'describe', 'no-big']);
      unlinkSync(join(folder, '30-refuse.mjs'));
      unlinkSync(join(folder, '10-describe.ts'));
      await untilDone(async () => ((await policy()).length === 1 ? 1 : 0), 1);
      const c = await client.run({ op: 'define', xml: validXml(2_000_003) }, 120_000);
      assert.ok(c.ok, c.ok ? '' : c.error.message);
      assert.doesNotMatch((c.value as JobResult).xml, /<description>/, 'a removed module takes its stage out');
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops at start when a VIRTFLOW_POLICY_STAGES module cannot be loaded, naming the variable', async () => {
    await assert.rejects(spawnParser(servers, { VIRTFLOW_POLICY_STAGES: '/nonexistent/stage.mjs' }), /parser exited with 2/);
  });
});
