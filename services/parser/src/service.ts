/**
 * The parser service's workers, wired to the model and the event store:
 *
 *   virtflow.jobs (intake) ──flow──▶ virtflow.policy ◀── virtflow.postparse.<driver>
 *
 * An intake job validates its payload and parses the XML (`parsed`), then adds
 * its stages as a BullMQ flow under itself — post-parse by the domain's driver
 * (`post-parsed:<driver>`), then the operator's policy stages (`policy`) — and
 * waits for them (WaitingChildrenError). Resumed, it appends DomainDefined with
 * optimistic concurrency and the name claim (`stored`) and returns
 * `{uuid, version, xml, provenance}`. Child job ids derive from the intake
 * job's, so a retried intake step adds no second flow. A policy stage with no
 * stages registered passes the post-parse result on by reference (PassOn).
 * Device operations (attach, detach, update) run in the intake worker alone:
 * the model's edit on the stored definition, then their event.
 */
import { FlowProducer, Job, Queue, UnrecoverableError, WaitingChildrenError, Worker, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import {
  VirtError, attachDevice, detachDevice, updateDevice, formatDeviceXML, formatDomainXML, isParserOp, readDomain, runPolicyStages, validateJob,
  defineDomain as postParse, type Capabilities, type DeviceDef, type DriverConf, type DomainDef, type DriverRegistry, type JobPayload, type JobResult, type PostParseOptions, type PostParseResult,
} from '@virtflow/model';
import { EventStore, defineDomain, domainRef, isConcurrencyError, queues, undefineDomain } from '@virtflow/runtime';
import { asStageError, packProvenance, unpackProvenance, userFailure, type Enriched, type IntakeData, type StageData, type StageResult } from './wire.ts';
import { Metrics } from './metrics.ts';
import { IntakeLimiter, clientOf, type RateLimit } from './ratelimit.ts';

export type StageName = 'intake' | 'policy' | `postparse:${string}`;

export interface ParserOptions {
  readonly redisUrl: string;
  readonly store: EventStore;
  readonly caps: Capabilities;
  readonly registry: DriverRegistry;
  /** Which workers this process runs (default: all). */
  readonly stages?: readonly StageName[] | 'all';
  readonly concurrency?: number;
  /** Tries of an infrastructure fault before the dead-letter queue (5). */
  readonly attempts?: number;
  readonly backoffMs?: number;
  readonly prefix?: string;
  readonly metrics?: Metrics;
  /** How long a job's lock lives; a crashed worker's jobs are taken back after it (BullMQ's stalled check). */
  readonly lockMs?: number;
  /** How often a worker checks for jobs whose lock expired (default: lockMs). */
  readonly stalledMs?: number;
  /** Per-client rate limit at the intake (ratelimit.ts; none: unlimited). */
  readonly intakeLimit?: RateLimit;
  /** Extra ioredis options (TLS: redisSecurityOptions of @virtflow/runtime). */
  readonly redisOptions?: RedisOptions;
  /** Whether DomainDefined carries the provenance too (VIRTFLOW_EVENT_PROVENANCE; the job's result always does). */
  readonly eventProvenance?: boolean;
}

export interface ParserService {
  readonly workers: readonly Worker[];
  readonly metrics: Metrics;
  /** Stops taking jobs; running ones finish first. */
  close(): Promise<void>;
}

/** The device operations: the model's function and the event it appends. */
interface DeviceEdit {
  readonly event: 'DomainDeviceAttached' | 'DomainDeviceDetached' | 'DomainDeviceUpdated';
  readonly run: (domain: DomainDef, xml: string, opts: PostParseOptions) => PostParseResult<{ readonly domain: DomainDef; readonly device: DeviceDef; readonly path: string }>;
}
const DEVICE_EDITS: Readonly<Record<'attach-device' | 'detach-device' | 'update-device', DeviceEdit>> = {
  'attach-device': { event: 'DomainDeviceAttached', run: attachDevice },
  'detach-device': { event: 'DomainDeviceDetached', run: detachDevice },
  'update-device': { event: 'DomainDeviceUpdated', run: updateDevice },
};

export const redisConnection = (url: string, extra: RedisOptions = {}): Redis => new Redis(url, { ...extra, maxRetriesPerRequest: null, enableReadyCheck: false });

export function stageNames(registry: DriverRegistry): StageName[] {
  return ['intake', 'policy', ...registry.drivers.map((d) => `postparse:${d.name}` as const)];
}

export async function startParser(opts: ParserOptions): Promise<ParserService> {
  const conns: Redis[] = [];
  const conn = () => {
    const c = redisConnection(opts.redisUrl, opts.redisOptions);
    conns.push(c);
    return c;
  };
  const connection = conn();
  const prefix = opts.prefix ?? 'bull';
  const metrics = opts.metrics ?? new Metrics();
  const attempts = opts.attempts ?? 5;
  const childOpts: JobsOptions = { attempts, backoff: { type: 'exponential', delay: opts.backoffMs ?? 500 }, failParentOnFailure: true, removeOnComplete: { age: 3600 } };
  const jobsQueue = new Queue(queues.jobs, { connection, prefix });
  const scheduleQueue = new Queue(queues.schedule, { connection, prefix });
  const deadQueue = new Queue(queues.dead, { connection, prefix });
  const flow = new FlowProducer({ connection, prefix });
  const postparseQueues = new Map(opts.registry.drivers.map((d) => [queues.postparse(d.name), new Queue(queues.postparse(d.name), { connection, prefix })]));
  // Jobs by state, for /metrics: every queue this service feeds or reads.
  const watched = [jobsQueue, scheduleQueue, deadQueue, new Queue(queues.policy, { connection, prefix }), ...postparseQueues.values()];
  metrics.watch(...watched);
  const wanted = new Set(opts.stages === undefined || opts.stages === 'all' ? stageNames(opts.registry) : opts.stages);
  const concurrency = opts.concurrency ?? 16;
  const { store, caps, registry } = opts;
  const limiter = opts.intakeLimit && new IntakeLimiter(connection, prefix, opts.intakeLimit);

  // A stage reports on its intake job; a handle by id is enough (updateProgress needs only the id),
  // which spares reading the whole job (its XML) from Redis at every stage.
  const progress = async (intakeId: string, stage: string) => {
    // Progress is informational: an intake job gone (removed by an operator) must not fail the stage.
    await new Job(jobsQueue, 'progress', {}, {}, intakeId).updateProgress(stage).catch(() => metrics.count(queues.jobs, 'progress-lost'));
  };

  /** flow.add, with the scripts loaded again after a NOSCRIPT (see reloadScripts): the job's retry then goes through. */
  const addFlow = async (tree: Parameters<FlowProducer['add']>[0]) => {
    try {
      return await flow.add(tree);
    } catch (e) {
      if (/NOSCRIPT/.test(String((e as Error | undefined)?.message))) {
        metrics.count(queues.jobs, 'noscript');
        await reloadScripts(connection).catch(() => undefined);
      }
      throw e;
    }
  };

  // ---------------------------------------------------------------- intake
  const intake = async (job: Job<IntakeData>, token?: string): Promise<unknown> => {
    // Back after the flow was added: children done (resumed by BullMQ), or — after a crash between
    // adding the flow and waiting (the stalled check hands the job back) — children still running,
    // in which case it waits for them again. The stages' job ids derive from this job's, so their
    // existence is the step: nothing is written to record it. A first run has nothing to look for.
    if (job.data.step === 'waiting' || (job.attemptsStarted ?? 1) > 1 || job.attemptsMade > 0 || job.stalledCounter > 0) {
      const resumed = await resumeIfStaged(job, token);
      if (resumed !== undefined) return resumed;
    }
    // Counted once per job, before any parsing: a flood is refused cheaply (a retry is not counted again).
    if (limiter && job.attemptsMade === 0) {
      const over = await limiter.take(clientOf(job));
      if (over) throw userFailure(over);
    }
    const payload = validateJob(job.data.payload);
    if (payload instanceof VirtError) throw userFailure(payload);
    if (!isParserOp(payload.op)) {
      // An infrastructure fault in the scheduler is retried with backoff, as the stages' are: without it
      // the attempts were spent within milliseconds of a Redis or NATS restart.
      await scheduleQueue.add(payload.op, payload, { jobId: job.id, attempts, backoff: childOpts.backoff });
      return { handedOn: queues.schedule, jobId: job.id };
    }
    switch (payload.op) {
      case 'define':
      case 'redefine':
        break;
      case 'attach-device':
      case 'detach-device':
      case 'update-device': {
        const edit = DEVICE_EDITS[payload.op];
        // A second try after a crash may find its own event already appended: return it, append nothing.
        if (job.attemptsStarted > 1 || job.attemptsMade > 0) {
          const done = await alreadyEdited(edit.event, payload.uuid, job.id!);
          if (done) return done;
        }
        return editDevice(edit, payload.uuid, payload.xml, job.id!);
      }
      case 'undefine':
        return userErrors(async () => {
          const { version } = await undefineDomain(store, payload.uuid, { correlationId: job.id! });
          metrics.eventAppended('DomainUndefined');
          return { uuid: payload.uuid, version };
        });
      default:
        throw userFailure(new VirtError('NO_SUPPORT', `operation '${payload.op}' is not implemented by the parser yet`, '/op'));
    }
    // Parse: well-formed, a known domain type, the UUID fixed before the stages run.
    const parsed = userErrors(() => {
      const peek = readDomain(payload.xml, { driverDefaults: driverDefaults(registry, caps) });
      const driver = registry.forType(peek.def.type);
      return { xml: formatDomainXML(peek.def), driver: driver.name };
    });
    const parent = { id: job.id!, queue: job.queueQualifiedName };
    const data = (d: Partial<StageData>): StageData => ({ intake: job.id!, driver: parsed.driver, ...d });
    const postparse = { name: 'postparse', queueName: queues.postparse(parsed.driver), data: data({ xml: parsed.xml }), opts: { ...childOpts, jobId: `${job.id}.postparse` } };
    // The policy stage runs when the operator registered stages (the intake loads the same
    // modules as the policy workers: policy.ts); with none, its job would only pass the
    // result on, so the post-parse job is the intake's child and 'policy' is reported at the store.
    const policyStages = registry.stages.length > 0;
    // 'parsed' and the flow go to Redis together (one round trip less per job).
    await Promise.all([
      job.updateProgress('parsed'),
      addFlow(policyStages
        ? { name: 'policy', queueName: queues.policy, data: data({}), opts: { ...childOpts, jobId: `${job.id}.policy`, parent }, children: [postparse] }
        : { ...postparse, opts: { ...postparse.opts, parent } }),
    ]);
    return waitThenStore(job, token);
  };

  const waitThenStore = async (job: Job<IntakeData>, token: string | undefined): Promise<JobResult> => {
    if (await job.moveToWaitingChildren(token!)) throw new WaitingChildrenError();
    return store_(job);
  };

  /**
   * A job run before: usually resumed because its stages are done (their value is read at once, no
   * round trip to ask whether to wait); with a stage still running, it waits for it; with no stage
   * at all (the first run failed before adding the flow), undefined: the intake starts afresh.
   */
  const resumeIfStaged = async (job: Job<IntakeData>, token: string | undefined): Promise<JobResult | undefined> => {
    const values = Object.entries(await job.getChildrenValues<StageResult | PassOn>());
    if (values.length === 1) return store_(job, values[0]);
    const { unprocessed = 0 } = await job.getDependenciesCount({ unprocessed: true });
    if (unprocessed > 0 || job.data.step === 'waiting') return waitThenStore(job, token);
    return undefined;
  };

  const store_ = async (job: Job<IntakeData>, known?: [childKey: string, value: StageResult | PassOn]): Promise<JobResult> => {
    const [childKey, value] = known ?? (await onlyChild<StageResult | PassOn>(job));
    const result = await stageResult(job.id, value);
    if ('error' in result) throw userFailure(VirtError.fromJSON(result.error));
    // No policy stage ran (the post-parse job is the intake's child): the step is reported here,
    // before 'stored', as the stage would have. It goes out while the definition is stored (one
    // connection keeps it ahead of 'stored'), not before: the job's latency has no wait for it.
    const policyReported = job.data.policy === 'none' || childKey.endsWith('.postparse')
      ? job.updateProgress('policy').catch(() => metrics.count(queues.jobs, 'progress-lost'))
      : undefined;
    const e: Enriched = { ...result.ok, provenance: unpackProvenance(result.ok.provenance) };
    const r = await userErrors(async () => {
      // A retried store step after an append that landed: the name is already ours and the
      // same definition is there, nothing more to do. (The name lookup is an indexed read;
      // the load, a stream scan on nats-server 2.9, runs only then.) A new domain's first try
      // skips the lookup: nothing of it can be stored yet, and should that be wrong, the
      // append's expected sequence 0 refuses it, and the retry looks.
      const fresh = firstStoreOfDefine(job);
      if (!fresh && (await store.nameOwner(e.name)) === e.uuid) {
        const now = await store.load(domainRef(e.uuid));
        if (now.state?.defined && now.state.xml === e.xml) return { version: now.state.definitionVersion };
      }
      const { provenance, ...definition } = e;
      const d = await defineDomain(store, opts.eventProvenance ? e : definition, { correlationId: job.id!, fresh });
      metrics.eventAppended(d.redefined ? 'DomainRedefined' : 'DomainDefined');
      return d;
    }).finally(() => policyReported);
    await job.updateProgress('stored');
    return { uuid: e.uuid, version: r.version, xml: e.xml, provenance: e.provenance };
  };

  /**
   * What the stages made of the definition: the policy stage's value, or — when it had no stages
   * to run and passed the post-parse result on by reference — the post-parse job's own.
   */
  const stageResult = async (jobId: string | undefined, value: StageResult | PassOn): Promise<StageResult> => {
    if (!('passOn' in value)) return value;
    const q = postparseQueues.get(value.passOn.queue);
    const raw = q && (await (await q.client).hget(q.toKey(value.passOn.jobId), 'returnvalue'));
    if (!raw) throw new Error(`job ${jobId}: the post-parse result ${value.passOn.queue}/${value.passOn.jobId} is gone`);
    return JSON.parse(raw) as StageResult;
  };

  /** attach-, detach- or update-device on the stored definition: the model's edit, then its event, with optimistic concurrency. */
  const editDevice = async (edit: DeviceEdit, uuid: string, xml: string, correlationId: string): Promise<JobResult> => {
    let out: JobResult | undefined;
    await userErrors(() => store.update(domainRef(uuid), ({ state }) => {
      if (!state?.defined) throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`, '/uuid');
      const driver = registry.forType(state.domainType);
      const domain = readDomain(state.xml, { driverDefaults: driverDefaults(registry, caps) }).def;
      const r = edit.run(domain, xml, { caps, driver, stages: registry.stages });
      const definition = formatDomainXML(r.def.domain);
      out = { uuid, version: 0, xml: definition, provenance: r.provenance };
      return [{ type: edit.event, data: { uuid, path: r.def.path, xml: formatDeviceXML(r.def.device), definition } }];
    }, { correlationId }).then((a) => {
      metrics.eventAppended(edit.event);
      out = { ...out!, version: a.version };
    }));
    return out!;
  };

  const alreadyEdited = async (type: DeviceEdit['event'], uuid: string, correlationId: string): Promise<JobResult | undefined> => {
    const events = await store.events(domainRef(uuid));
    const own = events.find((e) => e.event.type === type && e.event.correlationId === correlationId);
    if (!own || own.event.type !== type) return undefined;
    return { uuid, version: own.event.version, xml: own.event.data.definition, provenance: [] };
  };

  // ------------------------------------------------------------ post-parse
  const postparseFor = (driverName: string) => {
    // Looked up once per worker: the registry builds its driver list afresh on every read.
    const driver = registry.drivers.find((d) => d.name === driverName)!;
    return (job: Job<StageData>) => postparseWith(driver, driverName, job);
  };
  const postparseWith = async (driver: DriverConf, driverName: string, job: Job<StageData>): Promise<StageResult> => {
    let result: StageResult;
    try {
      const r = postParse(job.data.xml!, { caps, driver });
      result = { ok: { uuid: r.def.uuid!, name: r.def.name!, domainType: r.def.type!, driver: r.driver, xml: formatDomainXML(r.def), provenance: packProvenance(r.provenance) } };
    } catch (e) {
      result = asStageError(e);
    }
    await progress(job.data.intake, `post-parsed:${driverName}`);
    return result;
  };

  // ---------------------------------------------------------------- policy
  const policy = async (job: Job<StageData>): Promise<StageResult | PassOn> => {
    // Read the stages per job: one added while the service runs takes part in the next job.
    const stages = registry.stages;
    if (stages.length === 0) {
      // Nothing to run: pass the post-parse result on by reference rather than reading it and
      // writing it back (a result is written three times by BullMQ: the job, its event, the parent).
      await progress(job.data.intake, 'policy');
      return { passOn: { queue: queues.postparse(job.data.driver), jobId: `${job.data.intake}.postparse` } };
    }
    const input = await childResult<StageResult>(job);
    if ('error' in input) return input;
    let result: StageResult;
    try {
      const driver = registry.drivers.find((d) => d.name === input.ok.driver)!;
      const def = readDomain(input.ok.xml, { driverDefaults: driverDefaults(registry, caps) }).def;
      const r = runPolicyStages(def, stages, { caps, driver });
      result = { ok: { ...input.ok, xml: formatDomainXML(r.def), provenance: packProvenance([...unpackProvenance(input.ok.provenance), ...r.provenance]) } };
    } catch (e) {
      result = asStageError(e);
    }
    await progress(job.data.intake, 'policy');
    return result;
  };

  // ---------------------------------------------------------- the workers
  const workers: Worker[] = [];
  const add = (name: string, fn: (job: Job, token?: string) => Promise<unknown>) => {
    const w = new Worker(name, async (job, token) => {
      const t0 = performance.now();
      try {
        return await fn(job, token);
      } finally {
        metrics.observe(name, performance.now() - t0);
      }
    }, { connection: conn(), prefix, concurrency, maxStalledCount: 10, ...(opts.lockMs ? { lockDuration: opts.lockMs, stalledInterval: opts.stalledMs ?? opts.lockMs } : {}) });
    w.on('completed', () => metrics.count(name, 'completed'));
    w.on('failed', (job, err) => {
      const final = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1));
      metrics.count(name, final ? 'failed' : 'retried');
      if (!job || !final || err.name === 'UnrecoverableError') return;
      // An infrastructure fault out of attempts: to the dead-letter queue, by the intake job it belongs to.
      const root = name === queues.jobs ? job.id! : (job.data as StageData).intake;
      deadQueue.add('dead', { root, queue: name, jobId: job.id, reason: err.message, at: new Date().toISOString() }, { jobId: root }).catch(() => undefined);
    });
    w.on('error', () => metrics.count(name, 'error'));
    workers.push(w);
  };
  if (wanted.has('intake')) add(queues.jobs, intake as never);
  if (wanted.has('policy')) add(queues.policy, policy as never);
  for (const d of registry.drivers) if (wanted.has(`postparse:${d.name}`)) add(queues.postparse(d.name), postparseFor(d.name) as never);
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  return {
    workers,
    metrics,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all([flow.close(), ...watched.map((q) => q.close())]);
      for (const c of conns) c.disconnect();
    },
  };
}

/**
 * Loads every Lua script of a connection into Redis again (SCRIPT LOAD, one pipeline). ioredis marks a
 * script "loaded" on a socket once it has sent its EVAL there, whether or not the script ran, and a
 * NOSCRIPT answered inside MULTI/EXEC never clears the mark (only a standalone call's does). Right after
 * a Redis restart, an EVAL refused on the new socket (LOADING, or its transaction aborted) leaves the
 * mark set while Redis has no script, and from then on every flow.add (BullMQ's flows are one MULTI)
 * on that connection fails NOSCRIPT, each retry too, until some standalone call of the same script
 * happens to clear it (ioredis#1497's window, made lasting). Found by issue 9's chaos suite: define
 * jobs failed NOSCRIPT once their retries ran out.
 */
export async function reloadScripts(redis: Redis): Promise<void> {
  const scripts = Object.values((redis as unknown as { scriptsSet: Record<string, { readonly lua: string }> }).scriptsSet ?? {});
  if (scripts.length === 0) return;
  const p = redis.pipeline();
  for (const s of scripts) p.script('LOAD', s.lua);
  await p.exec();
}

function driverDefaults(registry: DriverRegistry, caps: Capabilities) {
  return (type: string | undefined) => {
    const d = type !== undefined && registry.has(type) ? registry.forType(type) : undefined;
    return { defArch: d?.defArch ?? caps.host.arch, ...(d?.macPrefix ? { macPrefix: d.macPrefix } : {}) };
  };
}

/** A policy stage with nothing to do hands the post-parse job's result on by reference. */
interface PassOn {
  readonly passOn: { readonly queue: string; readonly jobId: string };
}

/**
 * Whether this is the first try at storing a define of a new domain: its XML names no UUID (the
 * intake drew a fresh one, so nothing of it can exist) and no earlier run can have appended.
 * A `<uuid` anywhere in the text (a comment, metadata) only makes the store step look first.
 */
function firstStoreOfDefine(job: Job<IntakeData>): boolean {
  const p = job.data.payload as { op?: unknown; xml?: unknown } | undefined;
  if (p?.op !== 'define' || typeof p.xml !== 'string' || /<uuid[\s>]/.test(p.xml)) return false;
  // One run to add the flow and one resumed to store (or a single run when the stages finished first).
  return job.attemptsMade === 0 && !job.stalledCounter && (job.attemptsStarted ?? 1) <= 2;
}

/** The one child's key and value (each stage has exactly one child). */
async function onlyChild<T = StageResult>(job: Job): Promise<[string, T]> {
  const values = Object.entries(await job.getChildrenValues<T>());
  if (values.length !== 1) {
    const deps = await job.getDependenciesCount().catch(() => undefined);
    throw new Error(`job ${job.id} expected one stage result, found ${values.length} (dependencies ${JSON.stringify(deps)}, attempts ${job.attemptsStarted}/${job.attemptsMade}, stalled ${job.stalledCounter})`);
  }
  return values[0]!;
}

/** The one child's value. */
async function childResult<T = StageResult>(job: Job): Promise<T> {
  return (await onlyChild<T>(job))[1];
}

/** Runs a step; a VirtError is the user's (no retry), except a lost concurrency race (retried). */
function userErrors<T>(f: () => T): T {
  const fail = (e: unknown): never => {
    if (e instanceof VirtError && !isConcurrencyError(e)) throw userFailure(e);
    throw e;
  };
  try {
    const r = f();
    return (r instanceof Promise ? r.catch(fail) : r) as T;
  } catch (e) {
    return fail(e);
  }
}

