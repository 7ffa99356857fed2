/**
 * The projector: folds the event stream into KV buckets — domains by uuid,
 * name, host and state; hosts with their free resources — with the model's
 * pure projections (projectDomains, projectHosts), so any service reads the
 * current picture without replaying anything.
 *
 * - Durable: a JetStream consumer (ack policy "all") holds its place. Events
 *   are applied in batches; a batch's KV writes are made, then the generation's
 *   state records the sequence reached, then the batch is acknowledged. A
 *   restart reloads the projection from the buckets and goes on from there.
 *   The state is marked unclean while a batch is being written: a crash in the
 *   middle leaves buckets that mix two sequences, so the next start rebuilds.
 *   A batch whose writes failed (a server restart) is written again exactly as
 *   it was until it lands, so each event is applied once; a reconnect to a
 *   server that no longer holds the last event applied (killed before writing
 *   it out) rebuilds the projections from the log.
 * - Idempotent: the projections apply an event once by stream sequence, so a
 *   redelivery changes nothing.
 * - Rebuildable: `rebuild()` replays the stream from sequence 1 into a fresh
 *   generation of buckets, points readers at it, and drops the old one.
 * - Poison messages (unknown type, malformed payload, an envelope on the wrong
 *   subject) are reported to `onPoison` and skipped: they move the sequence on
 *   and change nothing. Name claims share the stream and are skipped silently.
 */
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  EVENT_STREAM, VirtError, domainOf, lifecycleHostError, projectDomains, projectHosts, reduceDomainRow, subjects,
  type DomainRow,
  type DomainsProjection, type DomainsProjectionJSON, type HostsProjection, type HostsProjectionJSON, type Sequenced,
} from '@virtflow/model';
import { logPoison, textDecoder, textEncoder, type PoisonHandler } from './codec.ts';
import { domainOps, generation, hostOps, type Generation, type GenerationState, type KvOps } from './kvlayout.ts';
import { foldStream } from './fold.ts';
import { decodeItem } from './fold-item.ts';
import { ProjectionReader } from './reader.ts';
import { replay } from './replay.ts';
import { ensureEventStream, followTarget } from './stream.ts';
import { DEFAULT_PULL_EXPIRES_MS } from './subscribe.ts';

export interface ProjectorOptions {
  readonly stream?: string;
  /** Bucket name prefix (VIRT): VIRT_DOMAINS_<gen>, VIRT_HOSTS_<gen>, VIRT_PROJECTIONS. */
  readonly prefix?: string;
  /** Durable consumer name (projector). */
  readonly durable?: string;
  readonly onPoison?: PoisonHandler;
  /**
   * Lifecycle events naming a host the domain does not live on (the model's lifecycleHostError: what
   * NATS permissions cannot hold, see security/README.md). Reported, still folded: the log is the truth.
   */
  readonly onHostMismatch?: (r: { readonly seq: number; readonly uuid: string; readonly error: VirtError }) => void;
  /** Errors the projector recovers from by retrying (a KV write during a server restart). */
  readonly onError?: (e: unknown) => void;
  /** Longest wait before a partial batch is written (50 ms). */
  readonly flushEveryMs?: number;
  /** Most events folded and written in one batch (20,000). */
  readonly maxBatch?: number;
  /** KV writes in flight at once (512). */
  readonly writeConcurrency?: number;
  /** How long a pull waits on the server; a pull lost in a server restart is noticed within about 1.5 times this (2 s, as subscriptions; at least 1 s). */
  readonly pullExpiresMs?: number;
  /** Worker threads folding a rebuild (default: one per core from 50,000 events; 0: fold on this thread). */
  readonly rebuildWorkers?: number;
  readonly replicas?: number;
}

export interface RebuildStats {
  readonly generation: number;
  readonly events: number;
  readonly poison: number;
  /** Stream sequence the new generation reflects. */
  readonly seq: number;
  readonly seconds: number;
  /** Of which replaying and folding. */
  readonly foldSeconds: number;
  readonly keys: number;
}

interface Projections {
  readonly domains: DomainsProjection;
  readonly hosts: HostsProjection;
}

const POINTER = 'current';
const genKey = (g: number) => `gen.${g}`;

export class Projector {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly prefix: string;
  readonly durable: string;
  readonly #opts: ProjectorOptions;
  readonly #kvm: Kvm;
  readonly #meta: KV;
  #gen!: Generation;
  #buckets!: { domains: KV; hosts: KV };
  /** What the buckets hold. */
  #committed: Projections = { domains: projectDomains.empty(), hosts: projectHosts.empty() };
  /** Decoded as they arrive (so a poison message is reported once, whatever retries follow), with their message for the ack. */
  #queue: Array<{ readonly item: Sequenced; readonly msg: JsMsg }> = [];
  #queuedSeq = 0;
  #messages: ConsumerMessages | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #running = false;
  #waiters: Array<{ seq: number; resolve: () => void }> = [];
  #poison = 0;

  private constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, meta: KV, kvm: Kvm, opts: ProjectorOptions) {
    this.nc = nc;
    this.js = js;
    this.jsm = jsm;
    this.stream = opts.stream ?? EVENT_STREAM;
    this.prefix = opts.prefix ?? 'VIRT';
    this.durable = opts.durable ?? 'projector';
    this.#opts = opts;
    this.#meta = meta;
    this.#kvm = kvm;
  }

  static async open(nc: NatsConnection, opts: ProjectorOptions = {}): Promise<Projector> {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await ensureEventStream(jsm, { stream: opts.stream, replicas: opts.replicas });
    const kvm = new Kvm(js);
    const meta = await kvm.create(`${opts.prefix ?? 'VIRT'}_PROJECTIONS`, { history: 1, replicas: opts.replicas ?? 1 });
    return new Projector(nc, js, jsm, meta, kvm, opts);
  }

  /** Stream sequence the buckets reflect. */
  get seq(): number {
    return this.#committed.domains.seq;
  }

  get generation(): number {
    return this.#gen?.gen ?? 0;
  }

  /** Poison messages skipped since this projector was opened. */
  get poisonCount(): number {
    return this.#poison;
  }

  /** The in-memory projections the buckets reflect (read-only). */
  get projections(): Projections {
    return this.#committed;
  }

  reader(): ProjectionReader {
    return new ProjectionReader(this.nc, { prefix: this.prefix });
  }

  /** Loads the current generation (or rebuilds when there is none or it is unclean) and follows the stream. */
  async start(): Promise<void> {
    if (this.#running) return;
    const pointer = await this.#readJson<{ gen: number }>(this.#meta, POINTER);
    const state = pointer && (await this.#readJson<GenerationState>(this.#meta, genKey(pointer.gen)));
    if (!pointer || !state || !state.clean) {
      await this.#rebuild();
    } else {
      this.#gen = generation(this.prefix, pointer.gen);
      this.#buckets = await this.#openBuckets(this.#gen, false);
      this.#committed = await this.#loadBuckets(state.seq);
    }
    await this.#follow();
  }

  /** Stops following; the batch in hand is written first. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#messages?.stop();
    this.#messages = undefined;
    clearTimeout(this.#timer);
    await this.#flushing;
    if (this.#queue.length) await this.#flushLoop();
  }

  /** Resolves once the buckets reflect `seq` (default: the last message the stream holds now: followTarget). */
  async caughtUp(seq?: number, timeoutMs = 60_000): Promise<number> {
    const target = seq ?? (await followTarget(this.jsm, this.stream, this.seq));
    if (this.seq >= target) return this.seq;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new VirtError('OPERATION_TIMEOUT', `projector at ${this.seq} did not reach stream sequence ${target} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({ seq: target, resolve: () => (clearTimeout(t), resolve()) });
    });
    return this.seq;
  }

  /** Replays the whole stream into a fresh generation of buckets and switches readers to it. */
  rebuild(): Promise<RebuildStats> {
    // One at a time: a second call while one runs gets the same result.
    return (this.#rebuilding ??= (async () => {
      const wasRunning = this.#running;
      if (wasRunning) await this.stop();
      const stats = await this.#rebuild();
      if (wasRunning) await this.#follow();
      return stats;
    })().finally(() => (this.#rebuilding = undefined)));
  }

  #rebuilding: Promise<RebuildStats> | undefined;

  // --------------------------------------------------------------- rebuild

  async #rebuild(): Promise<RebuildStats> {
    const t0 = performance.now();
    const pointer = await this.#readJson<{ gen: number }>(this.#meta, POINTER);
    const old = pointer ? generation(this.prefix, pointer.gen) : undefined;
    const gen = generation(this.prefix, (old?.gen ?? 0) + 1);
    const untilSeq = (await this.jsm.streams.info(this.stream)).state.last_seq;
    const folded = await foldStream(this.nc, this.jsm, {
      stream: this.stream,
      filter: subjects.all(),
      untilSeq,
      workers: this.#opts.rebuildWorkers,
      onPoison: (r) => {
        this.#poison++;
        (this.#opts.onPoison ?? logPoison)(r);
      },
    });
    const p: Projections = { domains: folded.domains, hosts: folded.hosts };
    const foldSeconds = (performance.now() - t0) / 1000;
    const buckets = await this.#openBuckets(gen, true);
    await this.#meta.put(genKey(gen.gen), json({ seq: p.domains.seq, clean: false } satisfies GenerationState));
    const allDomains = domainOps(projectDomains.empty(), p.domains, p.domains.domains.keys());
    const allHosts = hostOps(projectHosts.empty(), p.hosts, p.hosts.lifecycles.keys());
    await this.#bulkWrite(gen.domains, allDomains);
    await this.#bulkWrite(gen.hosts, allHosts);
    await this.#meta.put(genKey(gen.gen), json({ seq: p.domains.seq, clean: true } satisfies GenerationState));
    await this.#meta.put(POINTER, json({ gen: gen.gen }));
    this.#gen = gen;
    this.#buckets = buckets;
    this.#committed = p;
    this.#queue = [];
    this.#queuedSeq = p.domains.seq;
    this.#lastQueued = undefined;
    await this.#resetConsumer(p.domains.seq);
    if (old) await this.#dropGeneration(old);
    this.#notify();
    return {
      generation: gen.gen,
      events: folded.events,
      poison: folded.poison,
      seq: p.domains.seq,
      seconds: (performance.now() - t0) / 1000,
      foldSeconds,
      keys: allDomains.size + allHosts.size,
    };
  }

  /**
   * Fills a fresh bucket (no one reads it before the pointer moves to it):
   * plain publishes to `$KV.<bucket>.<key>` without waiting for each ack, then
   * the bucket's message count checked; what did not land is written again with acks.
   */
  async #bulkWrite(bucket: string, ops: KvOps): Promise<void> {
    const puts = [...ops].filter((o): o is [string, string] => o[1] !== null);
    let sent = 0;
    for (const [k, v] of puts) {
      this.nc.publish(`$KV.${bucket}.${k}`, textEncoder.encode(v));
      if (++sent % 10_000 === 0) await this.nc.flush();
    }
    await this.nc.flush();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const { state } = await this.jsm.streams.info(`KV_${bucket}`);
      if (state.messages >= puts.length) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    const kv = await this.#kvm.open(bucket);
    await this.#write({ domains: kv, hosts: kv }, new Map(puts), new Map());
  }

  async #dropGeneration(g: Generation): Promise<void> {
    for (const b of [g.domains, g.hosts]) {
      try {
        await this.jsm.streams.delete(`KV_${b}`);
      } catch (e) {
        if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
      }
    }
    await this.#meta.delete(genKey(g.gen));
  }

  async #openBuckets(g: Generation, fresh: boolean): Promise<{ domains: KV; hosts: KV }> {
    if (fresh) {
      for (const b of [g.domains, g.hosts]) await this.jsm.streams.delete(`KV_${b}`).catch(() => undefined);
    }
    const o = { history: 1, replicas: this.#opts.replicas ?? 1 };
    return { domains: await this.#kvm.create(g.domains, o), hosts: await this.#kvm.create(g.hosts, o) };
  }

  /** The projections as the buckets hold them. */
  async #loadBuckets(seq: number): Promise<Projections> {
    const d = await readBucket(this.nc, this.jsm, this.#gen.domains);
    const h = await readBucket(this.nc, this.jsm, this.#gen.hosts);
    // Null-prototype records: a host id may be any subject token, '__proto__' included.
    const rows: Record<string, DomainsProjectionJSON['domains'][string]> = Object.create(null);
    for (const [k, v] of d) if (k.startsWith('uuid.')) rows[k.slice(5)] = JSON.parse(v);
    const hosts: Record<string, HostsProjectionJSON['hosts'][string]> = Object.create(null);
    const lifecycles: Record<string, HostsProjectionJSON['lifecycles'][string]> = Object.create(null);
    for (const [k, v] of h) {
      if (k.startsWith('host.')) {
        const view = JSON.parse(v) as HostsProjectionJSON['hosts'][string];
        hosts[view.hostId] = view;
      } else if (k.startsWith('lifecycle.')) lifecycles[k.slice(10)] = JSON.parse(v);
    }
    return {
      domains: projectDomains.fromJSON({ seq, domains: rows, byName: {}, byHost: {}, byState: {} }),
      hosts: projectHosts.fromJSON({ seq, hosts, lifecycles }),
    };
  }

  // ---------------------------------------------------------------- follow

  /** The durable consumer, recreated when its position is not the buckets'. */
  async #resetConsumer(seq: number): Promise<void> {
    await this.jsm.consumers.delete(this.stream, this.durable).catch(() => undefined);
    await this.jsm.consumers.add(this.stream, {
      durable_name: this.durable,
      filter_subject: subjects.all(),
      ack_policy: AckPolicy.All,
      ack_wait: nanos(5 * 60_000),
      max_ack_pending: 200_000,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: seq + 1,
    });
  }

  async #follow(): Promise<void> {
    let ci;
    try {
      ci = await this.jsm.consumers.info(this.stream, this.durable);
    } catch (e) {
      if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.ConsumerNotFound)) throw e;
    }
    // The buckets are the truth: a consumer whose floor is elsewhere (deleted, reset by hand, or with
    // messages in flight from a crashed run) is recreated just past what the buckets hold.
    if (!ci || ci.ack_floor.stream_seq !== this.seq || ci.num_ack_pending > 0) await this.#resetConsumer(this.seq);
    this.#queuedSeq = this.seq;
    this.#running = true;
    this.#watchReconnects();
    await this.#consume();
  }

  /** The last message queued, as the server stamped it: what a restarted server must still hold. */
  #lastQueued: JsMsg | undefined;
  #watching = false;
  #logLosses = 0;

  /** Times a reconnect found the stream no longer holding what the projector had applied (and rebuilt). */
  get logLossCount(): number {
    return this.#logLosses;
  }

  /**
   * After every reconnect, checks that the stream still holds the last message queued. A server killed
   * before it wrote its last messages out comes back without them, and hands their sequences to new
   * events: the projector, past those sequences, would skip the new events and keep the lost ones,
   * silently. So then the projection is rebuilt from the log as it now is.
   */
  #watchReconnects(): void {
    if (this.#watching) return;
    this.#watching = true;
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'reconnect' && this.#running) void this.#checkLog();
      }
    })().catch((e: unknown) => this.#reportError(e));
  }

  async #checkLog(): Promise<void> {
    const mark = this.#lastQueued;
    if (!mark) return;
    for (let attempt = 0; ; attempt++) {
      if (!this.#running || this.nc.isClosed()) return;
      try {
        const m = await this.jsm.streams.getMessage(this.stream, { seq: mark.seq }).catch((e: unknown) => {
          if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.NoMessageFound) return null;
          throw e;
        });
        // The same message has the same server timestamp (compared to the millisecond: a Date holds no more).
        if (m && Math.abs(m.time.getTime() - mark.time.getTime()) <= 1) return;
        if (!this.#running) return;
        this.#logLosses++;
        this.#reportError(new VirtError('OPERATION_FAILED', `stream ${this.stream} ${m ? 'holds another message at' : 'no longer holds'} sequence ${mark.seq}, which the projector had applied: rebuilding the projections from the log`));
        break;
      } catch (e) {
        // JetStream not answering yet: ask again.
        this.#reportError(e);
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(attempt, 5))));
      }
    }
    await this.#rebuildFromLog();
  }

  /**
   * Stops, marks the generation unclean, and starts again, which rebuilds: should any step fail (or the
   * process die), the generation stays unclean and the next start rebuilds it.
   */
  async #rebuildFromLog(): Promise<void> {
    // What is queued need not be written (the rebuild replays it), but stop() tries; a failure there is moot.
    await this.stop().catch((e: unknown) => this.#reportError(e));
    for (let attempt = 0; !this.nc.isClosed(); attempt++) {
      try {
        await this.#meta.put(genKey(this.#gen.gen), json({ seq: this.seq, clean: false } satisfies GenerationState));
        await this.start();
        return;
      } catch (e) {
        this.#reportError(e);
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  #enqueue(m: JsMsg): void {
    if (m.seq <= this.#queuedSeq || this.#resyncing) return;
    if (m.seq !== this.#queuedSeq + 1) {
      // A gap: after a server crash, messages the server counted as delivered
      // but the client never got are redelivered only when their ack wait runs
      // out, while newer ones keep coming. Folding past the gap would lose them:
      // go back and follow again from the first missing sequence.
      this.#resync(this.#queuedSeq + 1, m.seq);
      return;
    }
    this.#queuedSeq = m.seq;
    this.#lastQueued = m;
    this.#queue.push({ item: this.#decode(m.seq, m.subject, m.data), msg: m });
    if (this.#queue.length >= (this.#opts.maxBatch ?? 20_000)) this.#kick();
    else this.#timer ??= setTimeout(() => this.#kick(), this.#opts.flushEveryMs ?? 50);
  }

  #resyncing: Promise<void> | undefined;
  #resyncs = 0;

  /** Times a gap in the delivered sequences made the projector follow again from the gap. */
  get resyncCount(): number {
    return this.#resyncs;
  }

  /** Re-follows from `missing` unless the stream really has nothing there (a deleted message). */
  #resync(missing: number, got: number): void {
    this.#resyncs++;
    this.#whileResyncing(async () => {
      // A gap of deleted messages is no gap: go on past it.
      if (!(await this.#storedBetween(missing, got))) this.#queuedSeq = got - 1;
      await this.#refollow();
    });
  }

  /** Runs a re-follow, ignoring deliveries meanwhile; a failure is retried from the same place once the server answers. */
  #whileResyncing(work: () => Promise<void>): void {
    this.#resyncing = work().catch((e) => {
      this.#resyncing = undefined;
      this.#reportError(e);
      setTimeout(() => {
        if (this.#running && !this.#resyncing) this.#whileResyncing(() => this.#refollow());
      }, 500);
    });
  }

  /** Follows again from just past what is queued, on a consumer recreated there. */
  async #refollow(): Promise<void> {
    if (!this.#running) return;
    this.#messages?.stop();
    this.#messages = undefined;
    await this.#resetConsumer(this.#queuedSeq);
    this.#resyncing = undefined;
    if (this.#running) await this.#consume();
  }

  /**
   * Pulls expire after `pullExpiresMs` (2 s), as subscriptions' do (subscribe.ts says why): a
   * pull lost in a server restart is noticed from two missed idle heartbeats, half the expiry each, and
   * a reconnect whose consumer check finds JetStream not back yet waits about the expiry before asking
   * again (nats.js's backoff: between 0.5 and 1.5 expiries). With nats.js's 30 s default those waits
   * are 15-45 s: the projector was seen ~45 s behind the log after a restart (issue 9).
   */
  async #consume(): Promise<void> {
    const consumer = await this.js.consumers.get(this.stream, this.durable);
    this.#messages = await consumer.consume({ max_messages: 5_000, expires: Math.max(1_000, this.#opts.pullExpiresMs ?? DEFAULT_PULL_EXPIRES_MS), callback: (m) => this.#enqueue(m) });
  }

  #reportError(e: unknown): void {
    (this.#opts.onError ?? ((err) => console.warn('virtflow: projector:', err)))(e);
  }

  /** Whether any stream message lies in [from, to) — a gap of deleted messages is no gap. */
  async #storedBetween(from: number, to: number): Promise<boolean> {
    if (from >= to) return true;
    // Gaps are a few messages; a long one is taken as real without looking at each.
    if (to - from > 64) return true;
    for (let seq = from; seq < to; seq++) {
      const m = await this.jsm.streams.getMessage(this.stream, { seq }).catch((e: unknown) => {
        if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.NoMessageFound) return null;
        throw e;
      });
      if (m) return true;
    }
    return false;
  }

  #kick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushing ??= this.#flushLoop().finally(() => (this.#flushing = undefined));
  }

  async #flushLoop(): Promise<void> {
    let failures = 0;
    // A batch whose writes failed is written again as it was: the same events, so the same writes.
    // Its failed try may have landed any part of them; only the same writes are sure to put each such
    // key right. A retry that took in the events queued meanwhile would write the difference to the end
    // of that larger batch, and a key the failed try put or deleted that the larger batch leaves as it
    // found it (a domain started in the first part, stopped in the second) stayed wrong for good: the
    // issue 9 divergence (`state.running.<uuid>` live, `state.shutoff.<uuid>` rebuilt), regression
    // test/events/projector-faults.test.ts. A write of the failed try that lands late cannot overwrite
    // a newer value: every write goes over this one connection, in order, and JetStream stores a
    // stream's messages in the order they arrive.
    let failed: number | undefined;
    while (this.#queue.length) {
      const n = failed ?? Math.min(this.#queue.length, this.#opts.maxBatch ?? 20_000);
      const batch = this.#queue.slice(0, n);
      try {
        await this.#commit(batch);
        this.#queue.splice(0, n);
        failures = 0;
        failed = undefined;
      } catch (e) {
        failed = n;
        // Most likely the server is restarting: the batch stays queued and is written again.
        // A closed connection will not come back: give up (the next start resumes from the buckets).
        if (this.nc.isClosed()) return;
        this.#reportError(e);
        failures++;
        if (!this.#running && failures > 3) throw e;
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(failures, 5))));
      }
    }
  }

  async #commit(batch: ReadonlyArray<{ readonly item: Sequenced; readonly msg: JsMsg }>): Promise<void> {
    const items = batch.map((b) => b.item);
    const from = this.#committed;
    if (this.#opts.onHostMismatch) this.#checkHosts(from.domains, items, this.#opts.onHostMismatch);
    const to = { domains: projectDomains.applyAll(from.domains, items), hosts: projectHosts.applyAll(from.hosts, items) };
    const touched = new Set<string>();
    for (const it of items) {
      const uuid = it.event && !(it.event instanceof VirtError) ? domainOf(it.event) : undefined;
      if (uuid !== undefined) touched.add(uuid);
    }
    const dOps = domainOps(from.domains, to.domains, touched);
    const hOps = hostOps(from.hosts, to.hosts, touched);
    const seq = to.domains.seq;
    if (dOps.size + hOps.size > 0) {
      await this.#meta.put(genKey(this.#gen.gen), json({ seq, clean: false } satisfies GenerationState));
      await this.#write(this.#buckets, dOps, hOps);
    }
    await this.#meta.put(genKey(this.#gen.gen), json({ seq, clean: true } satisfies GenerationState));
    this.#committed = to;
    // Ack policy "all": acknowledging the last acknowledges the batch.
    batch[batch.length - 1]!.msg.ack();
    this.#notify();
  }

  /** Each lifecycle event against its domain's row as the batch has it so far. */
  #checkHosts(domains: DomainsProjection, items: readonly Sequenced[], report: NonNullable<ProjectorOptions['onHostMismatch']>): void {
    const rows = new Map<string, DomainRow | undefined>();
    for (const it of items) {
      const e = it.event;
      const uuid = e && !(e instanceof VirtError) ? domainOf(e) : undefined;
      if (!e || e instanceof VirtError || uuid === undefined || it.seq <= domains.seq) continue;
      const row = rows.has(uuid) ? rows.get(uuid) : projectDomains.get(domains, uuid);
      const error = lifecycleHostError(row, e);
      if (error) report({ seq: it.seq, uuid, error });
      rows.set(uuid, reduceDomainRow(row, e));
    }
  }

  #decode(seq: number, subject: string, data: Uint8Array): Sequenced {
    const item = decodeItem(seq, subject, data);
    if (item.event instanceof VirtError) {
      this.#poison++;
      (this.#opts.onPoison ?? logPoison)({ seq, subject, error: item.event, where: 'projector' });
    }
    return item;
  }

  async #write(b: { domains: KV; hosts: KV }, dOps: KvOps, hOps: KvOps): Promise<void> {
    const work: Array<() => Promise<unknown>> = [];
    for (const [kv, ops] of [[b.domains, dOps], [b.hosts, hOps]] as const) {
      for (const [k, v] of ops) work.push(v === null ? () => kv.delete(k) : () => kv.put(k, textEncoder.encode(v)));
    }
    // On the first failure every lane stops taking work, and the error is
    // thrown only once all writes in flight have settled: a lane left running
    // would go on writing this batch's values after a retry and later batches
    // had written newer ones.
    let next = 0;
    let failure: { error: unknown } | undefined;
    const lanes = Math.min(work.length, this.#opts.writeConcurrency ?? 512);
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (next < work.length && !failure) {
        try {
          await work[next++]!();
        } catch (error) {
          failure ??= { error };
        }
      }
    }));
    if (failure) throw failure.error;
  }

  #notify(): void {
    const seq = this.seq;
    this.#waiters = this.#waiters.filter((w) => (w.seq <= seq ? (w.resolve(), false) : true));
  }

  async #readJson<T>(kv: KV, key: string): Promise<T | undefined> {
    const e = await kv.get(key);
    return e && e.operation === 'PUT' && e.length > 0 ? (JSON.parse(textDecoder.decode(e.value)) as T) : undefined;
  }
}

function json(v: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(v));
}

/** Every live key of a bucket with its value, read in one pass over the bucket's stream. */
export async function readBucket(nc: NatsConnection, jsm: JetStreamManager, bucket: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const prefix = `$KV.${bucket}.`;
  await replay(nc, jsm, { stream: `KV_${bucket}`, filter: `${prefix}>`, fromSeq: 1, lastPerSubject: true, batch: 10_000 }, (m) => {
    const op = m.headers?.get('KV-Operation');
    if (op === 'DEL' || op === 'PURGE') return;
    out.set(m.subject.slice(prefix.length), textDecoder.decode(m.data));
  });
  return out;
}
