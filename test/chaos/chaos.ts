/**
 * Issue 9's chaos run: a steady load of define → start → destroy jobs through the parser on three
 * agents (test hypervisor, with its state file), while each service is SIGKILLed and restarted in
 * turn (parser, scheduler, an agent) and redis-server (AOF on) and nats-server are restarted.
 *
 * Then, once every job has finished (or stopped moving): every accepted job completed or failed with a
 * reason; no event lost (a projection rebuilt from zero equals the live one, and each completed job's
 * events are in the log); no domain running on two hosts (the hypervisors' state files); no host past its
 * capacity (the host claims folded from the log, and what the hypervisors really run). `runChaos` returns
 * the table; the caller asserts (chaos.test.ts) or prints (run.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { emptyInventory, foldInventory, type AnyEvent, type Inventory } from '@virtflow/model';
import { EventStore, Projector, connectNats, domainRef, queues, type ProjectionDump } from '@virtflow/runtime';
import { ParserClient } from '@virtflow/parser';
import { startServers, type Servers } from '../harness/index.ts';
import { spawnParser, type ParserProcess } from '../parser/support.ts';
import { spawnAgent, type AgentProcess } from '../agent/support.ts';
import { children as childSet } from '../support/children.ts';
import { allEvents } from '../scheduler/support.ts';

export type Fault = 'parser' | 'scheduler' | 'agent' | 'redis' | 'nats';
export const FAULTS: readonly Fault[] = ['parser', 'scheduler', 'agent', 'redis', 'nats'];

export interface ChaosOptions {
  /** How long the load runs, faults included (ms). */
  readonly durationMs: number;
  /** Faults injected, in the order of FAULTS, spread over the duration (default: one of each). */
  readonly faults?: number;
  /** The kinds injected, in turn (default: all of FAULTS); e.g. ['redis'] to hammer one. */
  readonly kinds?: readonly Fault[];
  /** define → start → destroy cycles running at once (4). */
  readonly workers?: number;
  /** A job that has not finished this long after the load stopped, with nothing else finishing either, is stuck (120 s). */
  readonly stallMs?: number;
  readonly log?: (line: string) => void;
}

export type JobState = 'completed' | 'failed' | 'stuck' | 'refused';
export interface JobRecord {
  readonly key: string;
  readonly op: 'define' | 'start' | 'destroy';
  state: JobState | 'pending';
  reason?: string;
  uuid?: string;
  hostId?: string;
  /** Tries BullMQ made of the job that decided (the intake job, or the scheduler's). */
  attempts?: number;
  /** When it finished, ms from the start of the load. */
  at?: number;
  /** The queue whose job decided (the intake's, or the scheduler's for start and destroy). */
  queue?: string;
  /** The last stack trace BullMQ kept for a failed job: where an infrastructure failure came from. */
  stack?: string;
}

export interface ChaosReport {
  readonly faults: readonly { readonly fault: Fault; readonly at: number; readonly ms: number; readonly target?: string }[];
  readonly jobs: number;
  readonly completed: number;
  readonly failed: number;
  /** Accepted jobs that never finished, plus completed jobs whose events are missing from the log. */
  readonly lost: number;
  /** Domains defined twice for one job, starts executed twice (boots beyond DomainStarted), domains on two hosts. */
  readonly duplicated: number;
  readonly oversubscribed: number;
  /** Claims still held at the end by domains that run nowhere. */
  readonly leakedClaims: number;
  /** rebuilt-from-zero projection = live projection. */
  readonly projectionsEqual: boolean;
  /** Each problem found, with its evidence. */
  readonly problems: readonly string[];
  readonly failureReasons: ReadonlyMap<string, number>;
  /** The whole reason of the first job failed for each kind, e.g. every host's line of a "no host fits". */
  readonly failureExamples: ReadonlyMap<string, string>;
  readonly records: readonly JobRecord[];
}

const HOSTS = ['chaos-1', 'chaos-2', 'chaos-3'];
const HOST_MEMORY_KIB = 1024 * 1024;
const DOMAIN_MEMORY_KIB = 256 * 1024;
const SCHEDULER_MAIN = fileURLToPath(new URL('../../services/scheduler/src/main.ts', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Scheduler log lines about its inventory, reported with the problems. */
const schedulerNotes: string[] = [];

/** Every child this module started, killed by `killAll()` whatever failed. */
const children = childSet();

export const killAll = (): Promise<void> => children.killAll();

async function sigkill(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGKILL');
  await gone;
  children.delete(c);
}

async function spawnScheduler(servers: Servers, readyMs = 180_000): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCHEDULER_MAIN], {
    env: {
      ...process.env, VIRTFLOW_REDIS_URL: servers.redisUrl, VIRTFLOW_NATS_URL: servers.natsUrl, VIRTFLOW_HTTP_PORT: '0',
      VIRTFLOW_RESERVED_HOST_MEMORY_KIB: '0', VIRTFLOW_LOCK_MS: '5000', VIRTFLOW_STALLED_MS: '1000', VIRTFLOW_COMMAND_TIMEOUT_MS: '30000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: string[] = [];
  const keep = (l: string) => {
    lines.push(l);
    if (lines.length > 50) lines.shift();
    // What the scheduler says about its view of the log is evidence for a "no host fits" without cause.
    if (/stopped following/i.test(l)) schedulerNotes.push(`scheduler ${child.pid}: ${l.slice(0, 300)}`);
  };
  createInterface({ input: child.stderr! }).on('line', keep);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`scheduler not ready within ${readyMs} ms: ${lines.slice(-5).join(' | ')}`)), readyMs);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      keep(l);
      if (l.includes('"virtflow-scheduler ready"')) (clearTimeout(timer), resolve());
    });
    child.once('exit', (c) => (clearTimeout(timer), reject(new Error(`scheduler exited with ${c}: ${lines.slice(-5).join(' | ')}`))));
  });
  return child;
}

function agentEnv(servers: Servers, hostId: string): Record<string, string> {
  return {
    VIRTFLOW_HOST_ID: hostId, VIRTFLOW_HYPERVISOR: 'test', VIRTFLOW_NATS_URL: servers.natsUrl, VIRTFLOW_HTTP_PORT: '0',
    VIRTFLOW_RUN_DIR: join(servers.dir, hostId), VIRTFLOW_TEST_MEMORY_KIB: String(HOST_MEMORY_KIB), VIRTFLOW_TEST_CPUS: '8',
    VIRTFLOW_HEARTBEAT_MS: '1000', VIRTFLOW_LOG_LEVEL: 'warn',
  };
}

async function startAgentProcess(servers: Servers, hostId: string): Promise<AgentProcess> {
  mkdirSync(join(servers.dir, hostId), { recursive: true });
  const a = await spawnAgent(agentEnv(servers, hostId));
  children.add(a.proc);
  return a;
}

interface StateFile { readonly domains: Record<string, { readonly state: string; readonly name: string }>; readonly boots: Record<string, number> }
function hypervisorState(servers: Servers, hostId: string): StateFile {
  const f = join(servers.dir, hostId, 'test-hypervisor.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as StateFile) : { domains: {}, boots: {} };
}

function domainXml(name: string): string {
  return `<domain type='test'><name>${name}</name><memory unit='KiB'>${DOMAIN_MEMORY_KIB}</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;
}

/**
 * A job's end, polled (robust to Redis restarts, where QueueEvents may miss a message). The state is
 * read first and the job after it: read the other way round, a job that finished between the two reads
 * looked failed "without a reason" (its hash read while it was still active).
 */
async function finished(queue: Queue, id: string, stop: () => boolean): Promise<{ ok: boolean; value?: unknown; reason?: string; attempts?: number; stack?: string } | undefined> {
  for (;;) {
    if (stop()) return undefined;
    try {
      const state = await queue.getJobState(id);
      const job: Job | undefined = state === 'completed' || state === 'failed' ? await queue.getJob(id) : undefined;
      if (job && state === 'completed') return { ok: true, value: job.returnvalue, attempts: job.attemptsMade };
      if (job && state === 'failed') {
        const stack = job.stacktrace?.at(-1);
        return { ok: false, reason: job.failedReason || '(no reason)', attempts: job.attemptsMade, ...(stack ? { stack } : {}) };
      }
    } catch {
      // Redis restarting: ask again.
    }
    await sleep(100);
  }
}

const withoutGeneration = ({ generation: _g, ...rest }: ProjectionDump) => rest;

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => undefined);
  const faultsWanted = opts.faults ?? FAULTS.length;
  const workers = opts.workers ?? 4;
  const stallMs = opts.stallMs ?? 120_000;
  const servers = await startServers({ redisAof: true });
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const nc = await connectNats(servers.natsUrl);
    closers.push(() => nc.close());
    const store = await EventStore.open(nc, { onPoison: () => undefined });
    closers.push(() => store.close());
    const live = await Projector.open(nc, { flushEveryMs: 50 });
    await live.start();
    closers.push(() => live.stop());

    let agents = new Map<string, AgentProcess>();
    for (const h of HOSTS) agents.set(h, await startAgentProcess(servers, h));
    let parser: ParserProcess = await spawnParser(servers, { VIRTFLOW_LOG_LEVEL: 'warn' });
    children.add(parser.child);
    let scheduler = await spawnScheduler(servers);
    log(`# servers, 3 agents, parser and scheduler up`);

    const client = new ParserClient(servers.redisUrl, { attempts: 5, backoffMs: 200 });
    await client.ready();
    closers.unshift(() => client.close());
    const redis = new Redis(servers.redisUrl, { maxRetriesPerRequest: null });
    const schedule = new Queue(queues.schedule, { connection: redis });
    closers.unshift(async () => (await schedule.close(), redis.disconnect()));

    // ------------------------------------------------------------------ load
    const records: JobRecord[] = [];
    const loadStart = Date.now();
    let loadOn = true;
    let giveUp = false;
    let lastFinish = Date.now();
    const stopWaiting = () => giveUp;
    const run = async (key: string, op: JobRecord['op'], payload: Record<string, unknown>): Promise<JobRecord> => {
      const rec: JobRecord = { key, op, state: 'pending', ...(typeof payload.uuid === 'string' ? { uuid: payload.uuid } : {}) };
      records.push(rec);
      try {
        // Same key again on an error: the idempotency key finds the first job if it was added.
        for (let i = 0; ; i++) {
          try {
            await client.submit({ ...payload, op, key });
            break;
          } catch (e) {
            if (i >= 20) throw e;
            await sleep(500);
          }
        }
      } catch (e) {
        rec.state = 'refused';
        rec.reason = `not accepted: ${(e as Error).message}`;
        return rec;
      }
      let end = await finished(client.jobs, key, stopWaiting);
      if (end && !end.ok) rec.queue = queues.jobs;
      if (end?.ok && op !== 'define') (end = await finished(schedule, key, stopWaiting)), (rec.queue = queues.schedule);
      lastFinish = Date.now();
      if (end?.attempts !== undefined) rec.attempts = end.attempts;
      rec.at = Date.now() - loadStart;
      if (!end) rec.state = 'stuck';
      else if (end.ok) {
        rec.state = 'completed';
        const v = end.value as { uuid?: string; hostId?: string } | undefined;
        if (v?.uuid) rec.uuid = v.uuid;
        if (v?.hostId) rec.hostId = v.hostId;
      } else (rec.state = 'failed'), (rec.reason = end.reason), end.stack && (rec.stack = end.stack);
      return rec;
    };
    let cycle = 0;
    const worker = async () => {
      while (loadOn) {
        const n = cycle++;
        const d = await run(`c${n}-define`, 'define', { xml: domainXml(`chaos-${n}`) });
        if (d.state !== 'completed' || !d.uuid) continue;
        const s = await run(`c${n}-start`, 'start', { uuid: d.uuid });
        if (s.state === 'completed') await run(`c${n}-destroy`, 'destroy', { uuid: d.uuid });
      }
    };
    const load = Promise.all(Array.from({ length: workers }, worker));

    // ---------------------------------------------------------------- faults
    const faults: { fault: Fault; at: number; ms: number; target?: string }[] = [];
    const t0 = Date.now();
    const gap = opts.durationMs / (faultsWanted + 1);
    for (let i = 0; i < faultsWanted; i++) {
      await sleep(Math.max(0, t0 + gap * (i + 1) - Date.now()));
      const kinds = opts.kinds ?? FAULTS;
      const fault = kinds[i % kinds.length]!;
      const began = Date.now();
      let target: string | undefined;
      switch (fault) {
        case 'parser':
          await sigkill(parser.child);
          parser = await spawnParser(servers, { VIRTFLOW_LOG_LEVEL: 'warn' });
          children.add(parser.child);
          break;
        case 'scheduler':
          await sigkill(scheduler);
          scheduler = await spawnScheduler(servers);
          break;
        case 'agent': {
          target = HOSTS[Math.floor(i / FAULTS.length) % HOSTS.length]!;
          await sigkill(agents.get(target)!.proc);
          agents = new Map(agents).set(target, await startAgentProcess(servers, target));
          break;
        }
        case 'redis':
          await servers.restartRedis();
          break;
        case 'nats':
          await servers.restartNats();
          break;
      }
      faults.push({ fault, at: began - t0, ms: Date.now() - began, ...(target ? { target } : {}) });
      log(`# fault ${i + 1}/${faultsWanted}: ${fault}${target ? ` ${target}` : ''} at ${Math.round((began - t0) / 1000)} s, back in ${Date.now() - began} ms; ${records.length} jobs so far`);
    }
    await sleep(Math.max(0, t0 + opts.durationMs - Date.now()));
    loadOn = false;

    // ------------------------------------------------------------ quiescence
    lastFinish = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastFinish > stallMs) giveUp = true;
    }, 1_000);
    await load;
    clearInterval(watchdog);
    log(`# load stopped: ${records.length} jobs; checking`);

    // ---------------------------------------------------------------- checks
    const problems: string[] = [];
    const info = await store.jsm.streams.info(store.stream);
    const lastSeq = info.state.last_seq;
    const events = await allEvents(store, lastSeq);
    // Live projection vs one rebuilt from zero on its own buckets.
    await live.caughtUp(lastSeq, 120_000);
    const liveDump = await live.reader().dump();
    const rebuilt = await Projector.open(nc, { prefix: 'CHAOS', durable: 'chaos-rebuild' });
    await rebuilt.rebuild();
    const rebuiltDump = await rebuilt.reader().dump();
    const projectionsEqual = JSON.stringify(withoutGeneration(rebuiltDump)) === JSON.stringify(withoutGeneration(liveDump));
    if (!projectionsEqual) {
      const diff = [...new Set([...Object.keys(liveDump.domains), ...Object.keys(rebuiltDump.domains)])].filter((k) => liveDump.domains[k] !== rebuiltDump.domains[k]);
      const show = (v: string | undefined) => (v === undefined ? 'absent' : v.slice(0, 160));
      problems.push(`projection rebuilt from zero differs from the live one (seq ${rebuiltDump.seq} vs ${liveDump.seq}); domain keys differing: ${diff.slice(0, 5).map((k) => `${k} (live ${show(liveDump.domains[k])}, rebuilt ${show(rebuiltDump.domains[k])})`).join(', ')}`);
    }

    // Every accepted job finished; every completed job's events are in the log.
    let lost = 0;
    const byCorrelation = new Map<string, AnyEvent[]>();
    for (const e of events) byCorrelation.set(e.correlationId, [...(byCorrelation.get(e.correlationId) ?? []), e]);
    for (const r of records) {
      if (r.state === 'stuck' || r.state === 'pending') {
        lost++;
        problems.push(`job ${r.key} (${r.op}) accepted but never finished`);
        continue;
      }
      if (r.state !== 'completed') continue;
      const own = byCorrelation.get(r.key) ?? [];
      const want = r.op === 'define' ? 'DomainDefined' : r.op === 'start' ? 'DomainStarted' : 'DomainStopped';
      if (!own.some((e) => e.type === want)) {
        lost++;
        problems.push(`job ${r.key} (${r.op}) completed but the log has no ${want} with its correlation id (events: ${own.map((e) => e.type).join(', ') || 'none'})`);
      }
    }

    const byDomain = new Map<string, AnyEvent[]>();
    for (const e of events) {
      const u = (e.data as { uuid?: unknown }).uuid;
      if (typeof u === 'string') byDomain.set(u, [...(byDomain.get(u) ?? []), e]);
    }
    const history = (uuid: string | undefined) => (uuid ? (byDomain.get(uuid) ?? []) : []).map((e) => {
      const d = e.data as { detail?: string; hostId?: string };
      return `${e.type}${d.detail ? `(${d.detail})` : ''}${d.hostId ? `@${d.hostId}` : ''}[${e.correlationId}]`;
    }).join(' → ');

    // Duplicates: a define job with two domains or two DomainDefined; a start job with two DomainStarted.
    let duplicated = 0;
    for (const [key, own] of byCorrelation) {
      const defined = own.filter((e) => e.type === 'DomainDefined');
      const started = own.filter((e) => e.type === 'DomainStarted');
      if (defined.length > 1) (duplicated++, problems.push(`job ${key}: ${defined.length} DomainDefined (${defined.map((e) => e.subject).join(', ')})`));
      if (started.length > 1) (duplicated++, problems.push(`job ${key}: ${started.length} DomainStarted (${started.map((e) => e.subject).join(', ')})`));
    }
    // Commands executed twice: the hypervisors booted a domain more often than the log says it started.
    const startedInLog = new Map<string, number>();
    for (const e of events) if (e.type === 'DomainStarted') startedInLog.set(e.data.uuid, (startedInLog.get(e.data.uuid) ?? 0) + 1);
    const states = new Map(HOSTS.map((h) => [h, hypervisorState(servers, h)] as const));
    const boots = new Map<string, number>();
    for (const s of states.values()) for (const [uuid, n] of Object.entries(s.boots)) boots.set(uuid, (boots.get(uuid) ?? 0) + n);
    for (const [uuid, n] of boots) {
      if (n > (startedInLog.get(uuid) ?? 0)) (duplicated++, problems.push(`domain ${uuid} booted ${n} times on the hypervisors, ${startedInLog.get(uuid) ?? 0} DomainStarted in the log`));
    }
    // No domain on two hosts (what the hypervisors really run).
    const runningOn = new Map<string, string[]>();
    for (const [h, s] of states) for (const [uuid, d] of Object.entries(s.domains)) if (d.state !== 'shutdown') runningOn.set(uuid, [...(runningOn.get(uuid) ?? []), h]);
    for (const [uuid, hs] of runningOn) if (hs.length > 1) (duplicated++, problems.push(`domain ${uuid} runs on ${hs.join(' and ')}`));
    // What runs agrees with the log.
    for (const [uuid, hs] of runningOn) {
      const st = (await store.load(domainRef(uuid))).state;
      if (!st || !['running', 'paused'].includes(String(st.state)) || st.hostId !== hs[0]) problems.push(`domain ${uuid} runs on ${hs.join(', ')} but the log says ${st?.state ?? 'nothing'} on ${st?.hostId ?? 'no host'}`);
    }

    // No host oversubscribed: claims folded from the log, and the memory the hypervisors really hold.
    let oversubscribed = 0;
    const claimed = new Map<string, Map<string, number>>();
    let peakNote = '';
    for (const e of events) {
      if (e.type === 'HostResourcesClaimed') {
        const m = claimed.get(e.data.hostId) ?? claimed.set(e.data.hostId, new Map()).get(e.data.hostId)!;
        m.set(e.data.uuid, e.data.memoryKiB);
        const held = [...m.values()].reduce((a, b) => a + b, 0);
        if (held > HOST_MEMORY_KIB) (oversubscribed++, (peakNote = `${e.data.hostId}: ${held} KiB claimed > ${HOST_MEMORY_KIB} KiB at ${e.id}`));
      }
      if (e.type === 'HostResourcesReleased') claimed.get(e.data.hostId)?.delete(e.data.uuid);
    }
    // Claims held at the end for domains that do not run: capacity lost for good.
    let leaked = 0;
    for (const [h, m] of claimed) for (const uuid of m.keys()) {
      if (runningOn.get(uuid)?.includes(h)) continue;
      leaked++;
      if (leaked <= 10) problems.push(`claim leaked on ${h}: domain ${uuid} holds a claim but does not run there: ${history(uuid)}`);
    }
    if (leaked > 10) problems.push(`... ${leaked} claims leaked in all`);
    // The most claims held at once, cluster-wide: set against "no host fits" refusals (load ≤ workers domains).
    let held = 0;
    let peakHeld = 0;
    const live2 = new Map<string, string>();
    for (const e of events) {
      if (e.type === 'HostResourcesClaimed') live2.set(e.data.uuid, e.data.hostId);
      if (e.type === 'HostResourcesReleased' && live2.get(e.data.uuid) === e.data.hostId) live2.delete(e.data.uuid);
      held = live2.size;
      peakHeld = Math.max(peakHeld, held);
    }
    const refused = records.filter((r) => r.state === 'failed' && /no host fits/.test(r.reason ?? ''));
    if (refused.length > 0) {
      log(`# ${refused.length} starts refused "no host fits" between ${Math.round(refused[0]!.at! / 1000)} s and ${Math.round(refused.at(-1)!.at! / 1000)} s; at most ${peakHeld} claims held at once cluster-wide (capacity ${(HOSTS.length * HOST_MEMORY_KIB) / DOMAIN_MEMORY_KIB}, ${workers} workers)`);
      if (peakHeld < (HOSTS.length * HOST_MEMORY_KIB) / DOMAIN_MEMORY_KIB) problems.push(`${refused.length} starts refused "no host fits" (first ${refused[0]!.key} at ${Math.round(refused[0]!.at! / 1000)} s, last ${refused.at(-1)!.key} at ${Math.round(refused.at(-1)!.at! / 1000)} s) although the log never held more than ${peakHeld} claims of ${(HOSTS.length * HOST_MEMORY_KIB) / DOMAIN_MEMORY_KIB} slots: ${refused[0]!.reason?.slice(0, 400)}`);
    }
    for (const n of schedulerNotes.splice(0).slice(0, 5)) problems.push(n);
    if (peakNote) problems.push(`oversubscribed ${oversubscribed} times; last: ${peakNote}`);
    // The placement's own fold (what the schedulers decide on), checked after every event.
    let inv: Inventory = emptyInventory({ policy: { ramAllocationRatio: 1.0, cpuAllocationRatio: 4.0, reservedHostMemoryKiB: 0, reservedHostCpus: 0 } });
    for (const e of events) {
      inv = foldInventory(inv, [e]);
      for (const [h, host] of inv.hosts) {
        if (host.used.memoryKiB > host.capacity.memoryKiB || host.used.vcpus > host.capacity.vcpus) {
          oversubscribed++;
          problems.push(`placement inventory after ${e.type} ${e.id}: ${h} uses ${host.used.memoryKiB} KiB / ${host.used.vcpus} vCPUs of ${host.capacity.memoryKiB} KiB / ${host.capacity.vcpus}`);
        }
      }
    }
    for (const [h, s] of states) {
      const used = Object.values(s.domains).filter((d) => d.state !== 'shutdown').length * DOMAIN_MEMORY_KIB;
      if (used > HOST_MEMORY_KIB) (oversubscribed++, problems.push(`${h} runs ${used} KiB of domains > ${HOST_MEMORY_KIB} KiB`));
    }

    const failureReasons = new Map<string, number>();
    const failureExamples = new Map<string, string>();
    for (const r of records) if (r.state === 'failed' || r.state === 'refused') {
      const k = `${r.op}: ${(r.reason ?? '').split('\n')[0]!.slice(0, 100)}`;
      failureReasons.set(k, (failureReasons.get(k) ?? 0) + 1);
      if (!failureExamples.has(k)) failureExamples.set(k, `${r.key}: ${r.reason}`);
    }
    for (const r of records) {
      if (r.state !== 'failed') continue;
      if (!r.reason?.trim()) problems.push(`job ${r.key} failed without a reason`);
      // A job fails for the user's reason ({code, path, message}); a fault (a restart, a kill) is retried, never its result.
      else if (!/^\{"code":/.test(r.reason)) problems.push(`job ${r.key} (${r.op}) failed on an infrastructure fault, not a reason of its own (${r.queue}, ${r.attempts ?? '?'} tries): ${r.reason.slice(0, 200)}${r.stack ? ` at ${r.stack.split('\n').slice(0, 6).join(' | ').slice(0, 600)}` : ''}`);
      // A failed job changed nothing: none of its events in the log.
      const own = (byCorrelation.get(r.key) ?? []).filter((e) => e.type === 'DomainDefined' || e.type === 'DomainStarted' || e.type === 'DomainStopped');
      if (r.op !== 'start' && own.length > 0) problems.push(`job ${r.key} (${r.op}, ${r.attempts ?? '?'} tries) failed, yet the log has its ${own.map((e) => e.type).join(', ')}; domain ${r.uuid}: ${history(r.uuid)}`);
      if (!/^\{"code":/.test(r.reason ?? '')) problems.push(`  history of ${r.key}'s domain ${r.uuid}: ${history(r.uuid)}`);
    }

    await rebuilt.stop();
    return {
      faults, jobs: records.length, completed: records.filter((r) => r.state === 'completed').length,
      failed: records.filter((r) => r.state === 'failed' || r.state === 'refused').length,
      lost, duplicated, oversubscribed, leakedClaims: leaked, projectionsEqual, problems, failureReasons, failureExamples, records,
    };
  } finally {
    for (const c of closers) await c().catch(() => undefined);
    await killAll();
    await servers.stop();
  }
}

/** The issue's table. */
export function formatTable(r: ChaosReport): string {
  const rows: [string, string | number][] = [
    ['faults injected', `${r.faults.length} (${r.faults.map((f) => f.fault + (f.target ? `:${f.target}` : '')).join(', ')})`],
    ['jobs', r.jobs], ['completed', r.completed], ['failed', r.failed], ['lost', r.lost], ['duplicated', r.duplicated],
    ['oversubscribed', r.oversubscribed], ['claims leaked', r.leakedClaims], ['projection rebuilt = live', r.projectionsEqual ? 'yes' : 'NO'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `| ${k.padEnd(w)} | ${v} |`);
  for (const [k, n] of r.failureReasons) lines.push(`|   ${k} | ${n} |`);
  for (const p of r.problems.slice(0, 30)) lines.push(`! ${p}`);
  for (const [, e] of r.failureExamples) lines.push(`  e.g. ${e.replace(/\\n/g, '\n        ')}`);
  return lines.join('\n');
}
