// NOT RUN by npm test yet: under load its SIGTERM/SIGKILL runs were flaky (a lost job, a child left running);
// issue 5 stays open until this passes reliably. Run it by hand: node --import tsx --test test/parser/process.wip.ts
/**
 * The parser as its own process (services/parser/src/main.ts): health and
 * metrics over HTTP, graceful SIGTERM, and SIGKILL mid-run with BullMQ's
 * stalled-job recovery finishing the work after a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventStore, connectNats } from '@virtflow/runtime';
import { ParserClient } from '@virtflow/parser';
import type { JobResult } from '@virtflow/model';
import type { NatsConnection } from '@nats-io/transport-node';
import { startServers, type Servers } from '../harness/index.ts';
import { definedCounts, invalidJob, spawnParser, validXml } from './support.ts';

const N = Number(process.env.VIRTFLOW_PARSER_KILL_JOBS ?? 300);

describe('parser process', () => {
  let servers: Servers;
  let nc: NatsConnection;
  let store: EventStore;
  let client: ParserClient;
  before(async () => {
    servers = await startServers();
    nc = await connectNats(servers.natsUrl);
    store = await EventStore.open(nc);
    client = new ParserClient(servers.redisUrl, { attempts: 5, backoffMs: 50 });
    await client.ready();
  });
  after(async () => {
    await client?.close();
    await store?.close();
    await nc?.close();
    await servers?.stop();
  });

  it('serves /healthz and /metrics, and finishes running jobs on SIGTERM', async () => {
    const p = await spawnParser(servers);
    const health = await fetch(`${p.http}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { ok: boolean }).ok, true);
    const first = await client.run({ op: 'define', xml: validXml(900_000) });
    assert.ok(first.ok);
    const metrics = await (await fetch(`${p.http}/metrics`)).text();
    assert.match(metrics, /virtflow_parser_jobs_total\{queue="virtflow\.jobs",outcome="completed"\} 1/);
    assert.match(metrics, /virtflow_parser_jobs_total\{queue="virtflow\.postparse\.qemu",outcome="completed"\} 1/);

    const jobs = await Promise.all(Array.from({ length: 40 }, (_, i) => client.submit({ op: 'define', xml: validXml(900_001 + i) })));
    await new Promise((r) => setTimeout(r, 100));
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0, 'exits cleanly');
    const counts = await client.jobs.getJobCounts('active');
    assert.equal(counts.active, 0, 'no job left half-done by the stopped process');
    const q = await spawnParser(servers);
    const outs = await Promise.all(jobs.map((j) => client.outcome(j)));
    assert.ok(outs.every((o) => o.ok));
    q.child.kill('SIGTERM');
    assert.equal(await q.exited, 0);
  });

  it(`loses and duplicates nothing over ${N} jobs with the parser SIGKILLed twice mid-run`, async () => {
    const base = 1_000_000;
    const plan = Array.from({ length: N }, (_, i) => (i % 10 === 3 ? { i, bad: invalidJob(i) } : { i, bad: undefined }));
    let p = await spawnParser(servers);
    const jobs = await Promise.all(plan.map((x) => client.submit(x.bad ? x.bad.payload : { op: 'define', xml: validXml(base + x.i) })));
    const done = () => client.jobs.getJobCounts('completed', 'failed').then((c) => (c.completed ?? 0) + (c.failed ?? 0));
    const start = await done();
    for (const fraction of [0.25, 0.6]) {
      while ((await done()) - start < N * fraction) await new Promise((r) => setTimeout(r, 20));
      p.child.kill('SIGKILL');
      await p.exited;
      p = await spawnParser(servers);
    }
    const outcomes = await Promise.all(jobs.map((j) => client.outcome(j, 120_000)));
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);
    const uuids = new Set<string>();
    for (const [k, x] of plan.entries()) {
      const o = outcomes[k]!;
      if (x.bad) {
        assert.ok(!o.ok, `job ${x.i} must fail`);
        if (!o.ok) assert.equal(o.error.path, x.bad.path, `job ${x.i}: ${o.error.message}`);
      } else {
        assert.ok(o.ok, `job ${x.i} must succeed: ${o.ok ? '' : o.error.message}`);
        if (o.ok) uuids.add((o.value as JobResult).uuid);
      }
    }
    const valid = plan.filter((x) => !x.bad).length;
    assert.equal(uuids.size, valid);
    const counts = await definedCounts(store);
    for (const uuid of uuids) assert.equal(counts.get(uuid), 1, `exactly one DomainDefined for ${uuid}`);
    // Every DomainDefined in the stream belongs to a job (41 from the first test).
    assert.equal(counts.size, valid + 41);
    for (const n of counts.values()) assert.equal(n, 1);
  });
});
