/**
 * `npm run bench -- cluster` (issue 7): DOMAINS domains defined and started
 * across HOSTS simulated hosts, end to end through the real path — the
 * client's `define` job on virtflow.jobs → the parser (a child process, as
 * bench/pipeline.ts runs it) → DomainDefined → the client's `start` job →
 * the parser hands it to virtflow.schedule → the scheduler (in this process:
 * place, claim on the host's stream, DomainPlaced, agent command) → the
 * host's Agent (in this process, test hypervisor, each on its own NATS
 * connection and store) → DomainStarted.
 *
 * The client reacts to DomainDefined / DomainStarted on core NATS (the event
 * subjects, no per-job Redis listener), so the measure is the system's, not
 * the waiting's. Latency: define submitted → DomainStarted seen, and start
 * submitted → DomainStarted seen. Two runs: a burst (all DOMAINS at once:
 * domains running/s) and a paced run at min(500/s, 80% of the burst rate)
 * for PACED_S seconds (latency at a rate the cluster sustains).
 *
 * Scheduler decisions/s with DECISION_HOSTS (1,000) hosts: the model's pure
 * place() over a 1,000-host inventory (each decision's claim applied before
 * the next), and the scheduler's decision with its claim: place() + claim()
 * appended on the host's stream (checked against the host's log), 16 at once,
 * on a private store with 1,000 registered hosts.
 *
 * Floor, same run, same servers: a bare BullMQ Queue.add → Worker → completion
 * (burst, concurrency 16, no work) and a bare NATS request/reply (64 in flight).
 * A domain's end-to-end path holds 2 jobs on virtflow.jobs + 1 on
 * virtflow.schedule and ~10 NATS round trips (appends, command, outcome), so
 * the ratios say how far the orchestration sits above its transports.
 *
 * A run gives up on domains not running once nothing new ran for STALL_MS
 * (20 s) and reports them (`started` < `domains`) with the schedule queue's
 * failures. Measured Dec 2026 (2 cores, load ~3): a burst is bound by claim
 * contention, not CPU — one scheduler's concurrent jobs all pick the same best
 * host (host_subset_size 1), lose the claim race to each other, and ~1–3% give
 * up after 25 lost races (OPERATION_TIMEOUT). VIRTFLOW_BENCH_CLUSTER_SUBSET
 * sets VIRTFLOW_HOST_SUBSET_SIZE for the scheduler.
 *
 * VIRTFLOW_BENCH_CLUSTER_ONLY=burst runs the warm-up and the burst alone (no
 * floor, paced run, decisions or result file) and prints the burst's window on
 * the monotonic clock, to cut a CPU profile of the path to it:
 *   VIRTFLOW_BENCH_CLUSTER_ONLY=burst node --cpu-prof --cpu-prof-dir=/tmp/p --import tsx bench/run.ts cluster
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  applyClaim, claimFor, emptyInventory, foldInventory, makeEvent, parseDomainXML, place, placementRequest, subjects,
  type AnyEvent, type Inventory, type PlacementRequest,
} from '@virtflow/model';
import { EventStore, connectNats, hostRef, queues } from '@virtflow/runtime';
import { ParserClient } from '@virtflow/parser';
import { Agent, createTestHypervisor, silentLogger } from '@virtflow/host-agent';
import { claim, claimsContext, startScheduler, type SchedulerService } from '@virtflow/scheduler';
import { startServers, type Servers } from '../test/harness/index.ts';
import { spawnParser, type ParserProcess } from '../test/parser/support.ts';
import { table, writeResult } from './common.ts';
import { pathFloor } from './cluster-floor.ts';

const DOMAINS = Number(process.env.VIRTFLOW_BENCH_CLUSTER_DOMAINS ?? 10_000);
const HOSTS = Number(process.env.VIRTFLOW_BENCH_CLUSTER_HOSTS ?? 100);
const DECISION_HOSTS = Number(process.env.VIRTFLOW_BENCH_CLUSTER_DECISION_HOSTS ?? 1000);
const PACED_S = Number(process.env.VIRTFLOW_BENCH_CLUSTER_SECONDS ?? 5);
const SUBSET = Number(process.env.VIRTFLOW_BENCH_CLUSTER_SUBSET ?? 1);
const SCHED_CONCURRENCY = Number(process.env.VIRTFLOW_BENCH_CLUSTER_SCHED_CONCURRENCY ?? 64);
const PARSER_CONCURRENCY = process.env.VIRTFLOW_BENCH_CLUSTER_PARSER_CONCURRENCY ?? '32';
const TIMEOUT_MS = Number(process.env.VIRTFLOW_BENCH_CLUSTER_TIMEOUT_MS ?? 900_000);
/** Domains of the path floor's run (cluster-floor.ts). */
const PATH_FLOOR_DOMAINS = Number(process.env.VIRTFLOW_BENCH_CLUSTER_FLOOR_DOMAINS ?? 3000);
const STALL_MS = Number(process.env.VIRTFLOW_BENCH_CLUSTER_STALL_MS ?? 20_000);
/** `burst`: only the warm-up and the burst, no floor, paced run, decisions or result file (for CPU profiles of the path). */
const ONLY = process.env.VIRTFLOW_BENCH_CLUSTER_ONLY;
const GiB = 1024 * 1024;
/** Hosts big enough that every domain fits (128 MiB, 1 vCPU each; CPU ratio 4). */
const HOST_MEMORY_KIB = Math.max(64, Math.ceil((DOMAINS * 2) / HOSTS / 8)) * GiB;
const HOST_CPUS = Math.max(64, Math.ceil((DOMAINS * 2) / HOSTS / 4));

const pct = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const r1 = (x: number) => Math.round(x * 10) / 10;

function domainXml(name: string, uuid: string): string {
  return `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;
}

/** CPU seconds (user + system) of a process, from /proc (Linux). */
function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** This process's children (parser, redis-server, nats-server) by command name. */
function children(): Array<{ pid: number; name: string }> {
  try {
    return execFileSync('ps', ['--ppid', String(process.pid), '-o', 'pid=,comm='], { encoding: 'utf8' }).trim().split('\n').map((l) => {
      const [pid, ...name] = l.trim().split(/\s+/);
      return { pid: Number(pid), name: name.join(' ') };
    });
  } catch {
    return [];
  }
}

function cpuSnapshot(): Map<string, number> {
  const m = new Map<string, number>();
  const u = process.cpuUsage();
  m.set('bench (scheduler + agents + client)', (u.user + u.system) / 1e6);
  for (const c of children()) {
    if (!/^(node|redis-server|nats-server)$/.test(c.name)) continue;
    const name = c.name === 'node' ? 'parser (child)' : c.name;
    m.set(name, (m.get(name) ?? 0) + cpuOf(c.pid));
  }
  return m;
}

function cpuDelta(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) out[k] = Math.round((v - (a.get(k) ?? 0)) * 100) / 100;
  return out;
}

// ------------------------------------------------------------------ floor

async function bullFloor(servers: Servers, n: number): Promise<{ jobsPerS: number; jobs: number }> {
  const conns = [0, 1, 2].map(() => new Redis(servers.redisUrl, { maxRetriesPerRequest: null }));
  const queue = new Queue('bench-floor', { connection: conns[0]! });
  const events = new QueueEvents('bench-floor', { connection: conns[1]! });
  const worker = new Worker('bench-floor', async () => 1, { connection: conns[2]!, concurrency: 16 });
  events.setMaxListeners(0);
  queue.setMaxListeners(0);
  try {
    await Promise.all([events.waitUntilReady(), worker.waitUntilReady()]);
    const run = async (k: number) => {
      const jobs = await queue.addBulk(Array.from({ length: k }, (_, i) => ({ name: 'x', data: { i } })));
      await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 120_000)));
    };
    await run(200);
    const t0 = performance.now();
    await run(n);
    return { jobsPerS: n / ((performance.now() - t0) / 1000), jobs: n };
  } finally {
    await worker.close();
    await events.close();
    await queue.close();
    for (const c of conns) c.disconnect();
  }
}

async function natsFloor(servers: Servers, n: number): Promise<{ requestsPerS: number; p50Ms: number; requests: number }> {
  const a = await connectNats(servers.natsUrl);
  const b = await connectNats(servers.natsUrl);
  try {
    const sub = b.subscribe('bench.floor', { callback: (_e, m) => {
      m.respond(m.data);
    } });
    await b.flush();
    const lat: number[] = [];
    const loop = async (k: number) => {
      for (let i = 0; i < k; i++) {
        const s = performance.now();
        await a.request('bench.floor', 'x', { timeout: 10_000 });
        lat.push(performance.now() - s);
      }
    };
    await loop(200);
    lat.length = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 64 }, () => loop(Math.ceil(n / 64))));
    const secs = (performance.now() - t0) / 1000;
    sub.unsubscribe();
    return { requestsPerS: lat.length / secs, p50Ms: Math.round(pct(lat.sort((x, y) => x - y), 50) * 100) / 100, requests: lat.length };
  } finally {
    await a.close();
    await b.close();
  }
}

// ------------------------------------------------------------- decisions

function hostRegistered(hostId: string, capabilities: Awaited<ReturnType<ReturnType<typeof createTestHypervisor>['capabilities']>>, n: number): AnyEvent {
  return makeEvent('HostRegistered', { hostId, capabilities, labels: { hypervisor: 'test' } }, {
    aggregateVersion: 1, correlationId: 'bench', causationId: 'bench', now: () => new Date(), newId: () => `bench-host-${n}`,
  }) as AnyEvent;
}

function requestFor(i: number): PlacementRequest {
  const uuid = randomUUID();
  return placementRequest(parseDomainXML(domainXml(`d-${i}`, uuid)));
}

interface Decisions {
  readonly hosts: number;
  readonly purePerS: number;
  readonly pureDecisions: number;
  readonly withClaimPerS: number;
  readonly withClaimDecisions: number;
  readonly claimConflicts: number;
}

async function decisionBench(): Promise<Decisions> {
  const caps = await createTestHypervisor({ cpus: 64, memoryKiB: 256 * GiB }).capabilities();
  const config = { policy: { reservedHostMemoryKiB: 0 } };
  const registered = Array.from({ length: DECISION_HOSTS }, (_, i) => hostRegistered(`h-${i}`, caps, i));
  const base: Inventory = foldInventory(emptyInventory(config), registered);

  // Pure: place over every host, the chosen host's claim applied before the next decision.
  const reqs = Array.from({ length: 2000 }, (_, i) => requestFor(i));
  let inv = base;
  for (const r of reqs.slice(0, 200)) inv = applyClaim(inv, claimFor(r, place(inv, r).chosen!));
  inv = base;
  let pure = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 3000) {
    const r = reqs[pure % reqs.length]!;
    const p = place(inv, r);
    pure++;
    // Hosts full (a small DECISION_HOSTS): start again from empty hosts rather than fail.
    if (!p.chosen) inv = base;
    else inv = applyClaim(inv, claimFor({ ...r, uuid: `${r.uuid.slice(0, 24)}${pure.toString(16).padStart(12, '0')}` }, p.chosen));
  }
  const purePerS = pure / ((performance.now() - t0) / 1000);

  // With the claim: place() then claim() appended on the host's stream (its checked re-read), 16 at once.
  const servers = await startServers();
  const nc = await connectNats(servers.natsUrl);
  try {
    const store = await EventStore.open(nc, { onPoison: () => undefined });
    for (let i = 0; i < DECISION_HOSTS; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, DECISION_HOSTS - i) }, (_, k) => store.update(hostRef(`h-${i + k}`), () => [{
        type: 'HostRegistered', data: { hostId: `h-${i + k}`, capabilities: caps, labels: { hypervisor: 'test' } },
      }], { correlationId: 'bench', causationId: 'bench' })));
    }
    const ctx = claimsContext({ store, inventory: config });
    let live = base;
    let done = 0;
    let conflicts = 0;
    let full = false;
    const decide = async (r: PlacementRequest) => {
      const p = place(live, r);
      const c = p.chosen;
      if (!c) {
        full = true; // every host taken (a small DECISION_HOSTS): the measure ends here
        return;
      }
      const res = await claim(ctx, c.hostId, { uuid: r.uuid, memoryKiB: r.memoryKiB, vcpus: r.vcpus, request: r }, { correlationId: `bench-${r.uuid}` });
      if (!res.ok) throw new Error(`claim refused: ${res.reason}`);
      if (res.appends > 1) conflicts++;
      live = applyClaim(live, claimFor(r, c));
      done++;
    };
    const warm = Array.from({ length: 100 }, (_, i) => requestFor(i));
    for (const r of warm) await decide(r);
    done = 0;
    const t1 = performance.now();
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (!full && performance.now() - t1 < 4000) await decide(requestFor(done));
    }));
    const withClaimPerS = done / ((performance.now() - t1) / 1000);
    return { hosts: DECISION_HOSTS, purePerS, pureDecisions: pure, withClaimPerS, withClaimDecisions: done, claimConflicts: conflicts };
  } finally {
    await nc.close();
    await servers.stop();
  }
}

// ---------------------------------------------------------------- cluster

interface Run {
  readonly domains: number;
  readonly started: number;
  readonly seconds: number;
  readonly runningPerS: number;
  readonly offeredPerS?: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly startP50Ms: number;
  readonly startP99Ms: number;
  readonly cpuSeconds: Record<string, number>;
  readonly load: readonly number[];
}

interface Track {
  defineAt: number;
  startAt?: number;
  runningAt?: number;
}

async function clusterRun(servers: Servers, n: number, rate: number | undefined, prefix: string): Promise<Run> {
  const client = new ParserClient(servers.redisUrl, { attempts: 3, backoffMs: 50 });
  await client.ready();
  const nc = await connectNats(servers.natsUrl);
  const track = new Map<string, Track>();
  let started = 0;
  let allStarted!: () => void;
  const done = new Promise<void>((r) => (allStarted = r));
  const submits: Promise<unknown>[] = [];
  const uuidOf = (subject: string) => subject.split('.')[3]!;
  nc.subscribe(subjects.allDomainsOfType('DomainDefined'), {
    callback: (_e, m) => {
      const t = track.get(uuidOf(m.subject));
      if (!t || t.startAt !== undefined) return;
      t.startAt = performance.now();
      submits.push(client.submit({ op: 'start', uuid: uuidOf(m.subject) }));
    },
  });
  nc.subscribe(subjects.allDomainsOfType('DomainStarted'), {
    callback: (_e, m) => {
      const t = track.get(uuidOf(m.subject));
      if (!t || t.runningAt !== undefined) return;
      t.runningAt = performance.now();
      if (++started === n) allStarted();
    },
  });
  await nc.flush();
  const cpu0 = cpuSnapshot();
  const t0 = performance.now();
  try {
    for (let i = 0; i < n; i++) {
      if (rate !== undefined) {
        const wait = t0 + (i * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
      } else if (i % 500 === 0) await sleep(0);
      const uuid = randomUUID();
      track.set(uuid, { defineAt: performance.now() });
      submits.push(client.submit({ op: 'define', xml: domainXml(`${prefix}-${i}`, uuid) }));
    }
    // Give up when nothing new ran for STALL_MS (or after TIMEOUT_MS): the missing ones are reported.
    let last = started;
    let lastAt = performance.now();
    const timer = setInterval(() => {
      if (started !== last) (last = started), (lastAt = performance.now());
      else if (performance.now() - lastAt > STALL_MS || performance.now() - t0 > TIMEOUT_MS) allStarted();
    }, 500);
    await done;
    clearInterval(timer);
    if (started < n) {
      const defined = [...track.values()].filter((t) => t.startAt !== undefined).length;
      const failed = await client.jobs.getJobs(['failed'], 0, 2);
      const sconn = new Redis(servers.redisUrl, { maxRetriesPerRequest: null });
      const sq = new Queue(queues.schedule, { connection: sconn });
      const sfailed = await sq.getJobs(['failed'], 0, 2);
      console.log(`${prefix}: schedule queue ${JSON.stringify(await sq.getJobCounts())}${sfailed.length ? `; failed: ${sfailed[0]!.failedReason}` : ''}`);
      await sq.close();
      sconn.disconnect();
      console.log(`${prefix}: timed out: ${defined} defined, ${started} running of ${n}; jobs ${JSON.stringify(await client.jobs.getJobCounts())}${failed.length ? `; failed: ${failed[0]!.failedReason}` : ''}`);
    }
    await Promise.all(submits);
    const lat = [...track.values()].filter((t) => t.runningAt !== undefined);
    // To the last domain running (a stalled tail is reported as `started` < `domains`, not as time).
    const seconds = (Math.max(t0, ...lat.map((t) => t.runningAt!)) - t0) / 1000;
    const e2e = lat.map((t) => t.runningAt! - t.defineAt).sort((a, b) => a - b);
    const st = lat.map((t) => t.runningAt! - t.startAt!).sort((a, b) => a - b);
    return {
      domains: n, started, seconds: r1(seconds), runningPerS: r1(started / seconds), ...(rate !== undefined ? { offeredPerS: Math.round(rate) } : {}),
      p50Ms: Math.round(pct(e2e, 50)), p99Ms: Math.round(pct(e2e, 99)), startP50Ms: Math.round(pct(st, 50)), startP99Ms: Math.round(pct(st, 99)),
      cpuSeconds: cpuDelta(cpu0, cpuSnapshot()), load: loadavg().map((x) => Math.round(x * 100) / 100),
    };
  } finally {
    await nc.close();
    await client.close();
  }
}

export async function clusterBench(): Promise<void> {
  const load0 = loadavg().map((x) => Math.round(x * 100) / 100);
  console.log(`cluster: ${DOMAINS} domains, ${HOSTS} hosts (${HOST_CPUS} CPUs, ${HOST_MEMORY_KIB / GiB} GiB each); load ${load0.join(' ')}`);
  const servers = await startServers();
  const conns: NatsConnection[] = [];
  const agents: Agent[] = [];
  let scheduler: SchedulerService | undefined;
  let parser: ParserProcess | undefined;
  try {
    // Floor first, on the same servers, before anything else runs on them.
    const bull = ONLY === 'burst' ? { jobsPerS: NaN, jobs: 0 } : await bullFloor(servers, 5000);
    const nats = ONLY === 'burst' ? { requestsPerS: NaN, p50Ms: NaN, requests: 0 } : await natsFloor(servers, 20_000);
    console.log(`floor: bullmq ${bull.jobsPerS.toFixed(0)} jobs/s, nats ${nats.requestsPerS.toFixed(0)} req/s`);
    // The path floor's worker is this process's only node child while it runs: counted as 'parser (child)'.
    const path = ONLY === 'burst' ? undefined : await pathFloor(servers, PATH_FLOOR_DOMAINS, HOSTS, () => Object.fromEntries(cpuSnapshot()));
    if (path) console.log(`floor: a domain's path through the transports alone: ${path.runningPerS} domains/s`);

    parser = await spawnParser(servers, { VIRTFLOW_CONCURRENCY: PARSER_CONCURRENCY, VIRTFLOW_LOCK_MS: '60000', VIRTFLOW_STALLED_MS: '60000', VIRTFLOW_LOG_LEVEL: 'warn' });
    for (let i = 0; i < HOSTS; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, HOSTS - i) }, async (_, k) => {
        const nc = await connectNats(servers.natsUrl);
        conns.push(nc);
        const store = await EventStore.open(nc, { onPoison: () => undefined });
        const hypervisor = createTestHypervisor({ cpus: HOST_CPUS, memoryKiB: HOST_MEMORY_KIB });
        agents.push(await Agent.start({ hostId: `node-${i + k}`, nc, store, hypervisor, heartbeatMs: 5_000, log: silentLogger }));
      }));
    }
    const snc = await connectNats(servers.natsUrl);
    conns.push(snc);
    const sstore = await EventStore.open(snc, { onPoison: () => undefined, snapshotEvery: 25 });
    scheduler = await startScheduler({
      redisUrl: servers.redisUrl, store: sstore, nc: snc, concurrency: SCHED_CONCURRENCY, lockMs: 60_000, stalledMs: 60_000,
      config: { reservedHostMemoryKiB: 0, commandTimeoutMs: 60_000, hostSubsetSize: SUBSET },
    });
    // Until the live inventory holds every host.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && scheduler.live.current().hosts.size < HOSTS) await sleep(100);

    await clusterRun(servers, Math.min(200, DOMAINS), undefined, 'warm');
    const burstFrom = process.hrtime.bigint() / 1000n;
    const burst = await clusterRun(servers, DOMAINS, undefined, 'burst');
    // The burst's window on the monotonic clock a CPU profile's timestamps use (µs), to cut the profile to it.
    if (ONLY === 'burst') console.log(`burst window µs: ${burstFrom} ${process.hrtime.bigint() / 1000n}`);
    console.log(`burst: ${burst.started}/${burst.domains} running in ${burst.seconds} s`);
    if (ONLY === 'burst') {
      console.log(`burst: ${burst.runningPerS}/s; CPU ms a domain: ${JSON.stringify(Object.fromEntries(Object.entries(burst.cpuSeconds).map(([p, s]) => [p, r1((s * 1000) / burst.domains)])))}`);
      return;
    }
    const pacedRate = Math.min(500, burst.runningPerS * 0.8);
    const paced = await clusterRun(servers, Math.max(50, Math.round(pacedRate * PACED_S)), pacedRate, 'paced');

    await scheduler.close();
    scheduler = undefined;
    const decisions = await decisionBench();

    const target = { runningPerS: 500, p99Ms: 1000 };
    const met = { runningPerS: burst.runningPerS >= target.runningPerS, p99Ms: paced.p99Ms <= target.p99Ms && paced.offeredPerS! >= target.runningPerS };
    const perDomainMs = (cpu: Record<string, number>, k: number) => Object.fromEntries(Object.entries(cpu).map(([p, s]) => [p, r1((s * 1000) / k)]));
    table([
      ['measure', 'value'],
      [`domains running/s (burst of ${burst.domains}, ${HOSTS} hosts)`, `${burst.runningPerS} (${burst.started} started in ${burst.seconds} s)`],
      ['  burst latency define→running p50 / p99 ms', `${burst.p50Ms} / ${burst.p99Ms}`],
      [`paced at ${paced.offeredPerS}/s: running/s`, String(paced.runningPerS)],
      ['  define→running p50 / p99 ms', `${paced.p50Ms} / ${paced.p99Ms}`],
      ['  start submitted→running p50 / p99 ms', `${paced.startP50Ms} / ${paced.startP99Ms}`],
      [`scheduler decisions/s, ${decisions.hosts} hosts: place() alone`, decisions.purePerS.toFixed(0)],
      [`  place() + claim appended (16 at once)`, `${decisions.withClaimPerS.toFixed(0)} (${decisions.claimConflicts} conflicts)`],
      ['floor: bullmq add→process→completed /s', bull.jobsPerS.toFixed(0)],
      ['floor: nats request/reply /s (64 in flight)', `${nats.requestsPerS.toFixed(0)} (p50 ${nats.p50Ms} ms)`],
      ['ratio running/s ÷ bullmq floor / 3 jobs a domain', (burst.runningPerS / (bull.jobsPerS / 3)).toFixed(3)],
      ['ratio running/s ÷ nats floor', (burst.runningPerS / nats.requestsPerS).toFixed(4)],
      [`floor: a domain's path, transports alone (${path!.domains} domains), running/s`, String(path!.runningPerS)],
      ...Object.entries(perDomainMs(path!.cpuSeconds, path!.domains)).map(([p, ms]) => [`  CPU ms a domain (path floor): ${p.replace('parser (child)', 'floor worker (child)')}`, String(ms)]),
      ['ratio running/s ÷ path floor', (burst.runningPerS / path!.runningPerS).toFixed(2)],
      ...Object.entries(perDomainMs(burst.cpuSeconds, burst.domains)).map(([p, ms]) => [`CPU ms a domain (burst): ${p}`, String(ms)]),
      ['target ≥ 500 domains/s; p99 ≤ 1 s', `${met.runningPerS ? 'met' : 'NOT met'}; ${met.p99Ms ? 'met' : 'NOT met'}`],
      ['load average (1/5/15) before / after', `${load0.join(' ')} / ${paced.load.join(' ')}`],
    ]);
    writeResult('cluster', {
      domains: DOMAINS, hosts: HOSTS, host: { cpus: HOST_CPUS, memoryKiB: HOST_MEMORY_KIB }, schedulerConcurrency: SCHED_CONCURRENCY, hostSubsetSize: SUBSET, parserConcurrency: Number(PARSER_CONCURRENCY),
      layout: 'parser: 1 child process (all stages); scheduler + agents (each its own NATS connection and store) + client: this process; private redis-server and nats-server',
      burst: { ...burst, cpuMsPerDomain: perDomainMs(burst.cpuSeconds, burst.domains) },
      paced,
      decisions,
      floor: {
        bullmq: bull, nats,
        path: { ...path!, cpuMsPerDomain: perDomainMs(path!.cpuSeconds, path!.domains), what: "a domain's path through the issue's transports with no work between (bench/cluster-floor.ts); its node child is the floor worker, counted as 'parser (child)'" },
      },
      ratios: { runningPerSOverBullmqPerDomain: burst.runningPerS / (bull.jobsPerS / 3), runningPerSOverNats: burst.runningPerS / nats.requestsPerS, runningPerSOverPathFloor: burst.runningPerS / path!.runningPerS },
      loadBefore: load0,
      targets: { runningPerS: '>= 500', p99Ms: '<= 1000 (paced at 500/s)' },
      met,
    });
  } finally {
    await scheduler?.close().catch(() => undefined);
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
    if (parser) {
      parser.child.kill('SIGTERM');
      await parser.exited;
    }
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await servers.stop();
  }
}
