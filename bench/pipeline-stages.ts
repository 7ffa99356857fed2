/**
 * Where a define job's time goes, stage by stage (a diagnostic, not a
 * benchmark with a result file): `node --import tsx bench/pipeline-stages.ts [jobs/s] [seconds]`.
 * Two parser processes as in `npm run bench -- pipeline`; jobs submitted at a
 * steady rate; then, from the timestamps Redis keeps on the intake job and its
 * two stage jobs, p50/p90/p99 of each hop: intake (submit → post-parse job
 * created), post-parse waiting and running, policy waiting and running, and the
 * intake's resume and store (policy done → DomainDefined stored → completed).
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ParserClient } from '@virtflow/parser';
import { queues } from '@virtflow/runtime';
import { startServers } from '../test/harness/index.ts';
import { spawnParser } from '../test/parser/support.ts';

const rate = Number(process.argv[2] ?? 60);
const seconds = Number(process.argv[3] ?? 4);
const xmlFor = (name: string) => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><disk type='file' device='disk'><source file='/var/lib/virtflow/images/${name}.qcow2'/><target dev='vda' bus='virtio'/></disk><interface type='user'><model type='virtio'/></interface></devices></domain>`;

const servers = await startServers();
const procs = await Promise.all([0, 1].map(() => spawnParser(servers, { VIRTFLOW_CONCURRENCY: '32', VIRTFLOW_LOCK_MS: '30000', VIRTFLOW_STALLED_MS: '30000' })));
const client = new ParserClient(servers.redisUrl);
await client.ready();
const redis = new Redis(servers.redisUrl, { maxRetriesPerRequest: null });
const postparse = new Queue(queues.postparse('qemu'), { connection: redis });
const policy = new Queue(queues.policy, { connection: redis });
try {
  let seq = 0;
  const submit = () => client.submit({ op: 'define', xml: xmlFor(`stage-${seq++}`) });
  await Promise.all((await Promise.all(Array.from({ length: 100 }, submit))).map((j) => client.outcome(j)));
  const pending: ReturnType<typeof submit>[] = [];
  const start = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(submit());
  }
  const jobs = await Promise.all(pending);
  await Promise.all(jobs.map((j) => client.outcome(j, 300_000)));
  const hops = new Map<string, number[]>();
  const add = (k: string, v: number) => hops.set(k, [...(hops.get(k) ?? []), v]);
  for (const j of jobs) {
    const [a, p, q] = await Promise.all([client.jobs.getJob(j.id!), postparse.getJob(`${j.id}.postparse`), policy.getJob(`${j.id}.policy`)]);
    if (!a?.finishedOn || !p?.processedOn || !p.finishedOn || !q?.processedOn || !q.finishedOn) continue;
    add('intake: submit → stages added', p.timestamp - a.timestamp);
    add('post-parse: waiting', p.processedOn - p.timestamp);
    add('post-parse: running', p.finishedOn - p.processedOn);
    add('policy: waiting', q.processedOn - p.finishedOn);
    add('policy: running', q.finishedOn - q.processedOn);
    add('intake: resume + store', a.finishedOn - q.finishedOn);
    add('total', a.finishedOn - a.timestamp);
  }
  const pct = (v: number[], p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  console.log(`${jobs.length} jobs at ${rate}/s; ms p50 / p90 / p99`);
  for (const [k, v] of hops) {
    v.sort((x, y) => x - y);
    console.log(`${k.padEnd(32)} ${pct(v, 0.5)} / ${pct(v, 0.9)} / ${pct(v, 0.99)}`);
  }
} finally {
  await Promise.all([client.close(), postparse.close(), policy.close()]);
  redis.disconnect();
  for (const p of procs) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
  await servers.stop();
}
