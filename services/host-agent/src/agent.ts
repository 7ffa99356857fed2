/**
 * The host agent: one per hypervisor node. It registers the host
 * (HostRegistered with the hypervisor's capabilities), keeps a heartbeat in KV,
 * reconciles the event log with what really runs, then takes the commands on
 * `virt.cmd.<hostId>` from a durable JetStream consumer and carries them out
 * through its hypervisor, recording results as events. State changes the
 * hypervisor reports on its own become events too.
 *
 * Commands of one domain run in order, different domains at once (up to
 * `concurrency`). A command is acked only after its events and its outcome
 * record are stored; a redelivered one whose outcome is recorded is acked
 * with no second effect, and one found `pending` (its agent died half-way)
 * runs in recovery mode (see execute.ts). `stop()` drains: no new command is
 * taken, those running finish, the domains keep running.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  VirtError, decodeCommand, defaultRegistry, subjects, transitionError,
  type AnyCommand, type Capabilities, type CommandOutcome, type DriverRegistry, type VirtErrorJSON,
} from '@virtflow/model';
import {
  COMMAND_STREAM, commandOutcome, commandResultKey, domainRef, ensureCommandStream, hostRef, isConcurrencyError, openCommandResults, openHeartbeats,
  type EventStore,
} from '@virtflow/runtime';
import { ChangeBook, draftFor } from './changes.ts';
import { execute, knownHere, type Decided, type ExecContext, type RecordedEvent } from './execute.ts';
import { Fencer } from './fence.ts';
import { silentLogger, type Logger } from './log.ts';
import { AgentMetrics } from './metrics.ts';
import { KeyedQueue } from './queue.ts';
import { reconcile, type ReconcileReport } from './reconcile.ts';
import type { Hypervisor, LifecycleChange } from './hypervisor/types.ts';

export interface AgentOptions {
  readonly hostId: string;
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly hypervisor: Hypervisor;
  /** Drivers for define and attach-device post-parse (defaultRegistry()). */
  readonly registry?: DriverRegistry;
  readonly address?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Heartbeat period (5000 ms) and how long a heartbeat stays (3 periods). */
  readonly heartbeatMs?: number;
  readonly heartbeatTtlMs?: number;
  /** Commands carried out at once, on different domains (8). */
  readonly concurrency?: number;
  /** JetStream ack wait (30 s); the agent signals progress on longer commands. */
  readonly ackWaitMs?: number;
  /** Deliveries of a command that keeps meeting infrastructure faults before it is failed (5). */
  readonly maxAttempts?: number;
  /** How long command outcomes are kept (1 day). */
  readonly resultsTtlMs?: number;
  /** See ExecContext.startRecoveryMs (10 s). */
  readonly startRecoveryMs?: number;
  /** Fencing (fence.ts): how often the host's own record is read for a change (heartbeatMs), and the full check's period (60 s; 0: never). */
  readonly fenceCheckMs?: number;
  readonly fenceFullMs?: number;
  readonly log?: Logger;
  readonly metrics?: AgentMetrics;
  /** Folders every host path of a definition must lie under (VIRTFLOW_STORAGE_PATHS; none: no restriction): storage-guard.ts. */
  readonly storagePaths?: readonly string[];
}

export interface AgentStatus {
  readonly hostId: string;
  readonly hypervisor: string;
  readonly ready: boolean;
  readonly draining: boolean;
  readonly inflight: number;
  readonly reconcile?: ReconcileReport;
  readonly lastHeartbeat?: string;
}

const nanos = (ms: number) => ms * 1_000_000;

export class Agent {
  readonly hostId: string;
  readonly metrics: AgentMetrics;
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #book = new ChangeBook();
  readonly #queue = new KeyedQueue();
  readonly #running = new Set<Promise<void>>();
  readonly #cache = new Map<string, Decided>();
  #js!: JetStreamClient;
  #jsm!: JetStreamManager;
  #results!: KV;
  #heartbeats!: KV;
  #caps!: Capabilities;
  #messages?: ConsumerMessages;
  #loop?: Promise<void>;
  #heartbeat?: NodeJS.Timeout;
  #unsubscribe?: () => void;
  #ready = false;
  #draining = false;
  #report?: ReconcileReport;
  #lastHeartbeat?: string;
  #slot?: () => void;
  #fencer?: Fencer;

  private constructor(o: AgentOptions) {
    this.#o = o;
    this.hostId = o.hostId;
    this.#log = o.log ?? silentLogger;
    this.metrics = o.metrics ?? new AgentMetrics();
  }

  /** Registers, reconciles and starts taking commands. */
  static async start(o: AgentOptions): Promise<Agent> {
    const a = new Agent(o);
    try {
      await a.#start();
    } catch (e) {
      await a.stop().catch(() => undefined);
      throw e;
    }
    return a;
  }

  get #concurrency(): number {
    return this.#o.concurrency ?? 8;
  }

  get #ackWaitMs(): number {
    return this.#o.ackWaitMs ?? 30_000;
  }

  async #start(): Promise<void> {
    const { nc, hypervisor } = this.#o;
    subjects.hostCommands(this.hostId); // a host id that cannot be a subject token fails here, before any write
    this.#jsm = await jetstreamManager(nc);
    this.#js = jetstream(nc);
    await ensureCommandStream(this.#jsm);
    const heartbeatMs = this.#o.heartbeatMs ?? 5_000;
    this.#results = await openCommandResults(nc, { ...(this.#o.resultsTtlMs ? { ttlMs: this.#o.resultsTtlMs } : {}) });
    this.#heartbeats = await openHeartbeats(nc, { ttlMs: this.#o.heartbeatTtlMs ?? 3 * heartbeatMs });
    this.#caps = await hypervisor.capabilities();
    await this.#register();
    this.#unsubscribe = hypervisor.onLifecycle((c) => this.#onChange(c));
    this.#report = await reconcile({
      hostId: this.hostId, store: this.#o.store, js: this.#js, jsm: this.#jsm, hypervisor, log: this.#log,
      apply: (change, ids) => this.#queue.run(change.uuid, () => this.#applyChange(change, ids)),
    });
    this.metrics.unexpected.set(this.#report.unexpected.length);
    this.metrics.diedWhileDown.inc(this.#report.diedWhileDown.length);
    this.#log('info', 'reconciled', {
      running: this.#report.running.length, diedWhileDown: this.#report.diedWhileDown, unexpected: this.#report.unexpected.map((d) => d.uuid), leftToCommands: this.#report.leftToCommands,
    });
    // Before taking commands: a copy the log moved elsewhere while this host was away must not run on.
    this.#fencer = new Fencer({
      hostId: this.hostId, store: this.#o.store, hypervisor, log: this.#log, nc, serialize: (uuid, fn) => this.#queue.run(uuid, fn),
      checkMs: this.#o.fenceCheckMs ?? heartbeatMs, ...(this.#o.fenceFullMs !== undefined ? { fullMs: this.#o.fenceFullMs } : {}),
    });
    await this.#fencer.start();
    await this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), heartbeatMs);
    await this.#consume();
    this.#ready = true;
    this.#log('info', 'agent ready', { hypervisor: hypervisor.kind, concurrency: this.#concurrency });
  }

  status(): AgentStatus {
    return {
      hostId: this.hostId, hypervisor: this.#o.hypervisor.kind, ready: this.#ready, draining: this.#draining, inflight: this.#running.size,
      ...(this.#report ? { reconcile: this.#report } : {}), ...(this.#lastHeartbeat ? { lastHeartbeat: this.#lastHeartbeat } : {}),
    };
  }

  /**
   * Drains: stops taking commands, lets the running ones finish (their events
   * and outcomes stored, acked), records the changes already reported, then
   * detaches from the hypervisor. Domains keep running. The connection is the
   * caller's to close.
   */
  async stop(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.#ready = false;
    this.#log('info', 'draining', { inflight: this.#running.size });
    await this.#messages?.close().catch(() => undefined);
    this.#slot?.();
    await this.#loop;
    await Promise.all([...this.#running]);
    await this.#fencer?.stop();
    await this.#queue.idle();
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#heartbeats) await this.#beat();
    this.#unsubscribe?.();
    await this.#o.hypervisor.close();
    this.#log('info', 'stopped', {});
  }

  // ------------------------------------------------------- registration

  async #register(): Promise<void> {
    const labels = { hypervisor: this.#o.hypervisor.kind, ...this.#o.labels };
    await this.#o.store.update(hostRef(this.hostId), () => [{
      type: 'HostRegistered',
      data: { hostId: this.hostId, capabilities: this.#caps, labels, ...(this.#o.address ? { address: this.#o.address } : {}) },
    }], { correlationId: 'agent', causationId: 'agent' });
    this.#log('info', 'host registered', { arch: this.#caps.host.arch, cpus: this.#caps.host.cpus, memoryKiB: this.#caps.host.memoryKiB });
  }

  async #beat(): Promise<void> {
    try {
      const domains = (await this.#o.hypervisor.list()).length;
      this.metrics.domains.set(domains);
      const at = new Date().toISOString();
      const body = { hostId: this.hostId, at, hypervisor: this.#o.hypervisor.kind, domains, inflight: this.#running.size, draining: this.#draining, pid: process.pid };
      await this.#heartbeats.put(this.hostId, JSON.stringify(body));
      this.#lastHeartbeat = at;
      this.metrics.heartbeats.inc({ outcome: 'ok' });
    } catch (e) {
      this.metrics.heartbeats.inc({ outcome: 'error' });
      this.#log('warn', 'heartbeat failed', { error: String(e) });
    }
  }

  // ----------------------------------------------------------- commands

  /**
   * A fresh durable consumer each start, delivering everything still in the
   * work queue: the commands not acked — those a previous run was carrying
   * out when it died come first, at once, instead of after their ack wait.
   * One agent per host id at a time.
   */
  async #consume(): Promise<void> {
    const durable = `agent-${this.hostId}`;
    await this.#jsm.consumers.delete(COMMAND_STREAM, durable).catch(() => undefined);
    await this.#jsm.consumers.add(COMMAND_STREAM, {
      durable_name: durable,
      filter_subject: subjects.hostCommands(this.hostId),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.#ackWaitMs),
      max_ack_pending: this.#concurrency * 4,
    });
    const consumer = await this.#js.consumers.get(COMMAND_STREAM, durable);
    this.#messages = await consumer.consume({ max_messages: this.#concurrency });
    this.#loop = this.#take(this.#messages).catch((e) => this.#log('error', 'the command consumer stopped', { error: String(e) }));
  }

  async #take(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.#draining) {
        m.nak();
        continue;
      }
      while (this.#running.size >= this.#concurrency && !this.#draining) await new Promise<void>((r) => (this.#slot = r));
      const p = this.#handle(m).catch((e) => this.#log('error', 'command handling failed', { error: String(e), seq: m.seq }));
      const tracked = p.finally(() => {
        this.#running.delete(tracked);
        this.metrics.inflight.set(this.#running.size);
        this.#slot?.();
      });
      this.#running.add(tracked);
      this.metrics.inflight.set(this.#running.size);
    }
  }

  async #handle(m: JsMsg): Promise<void> {
    const cmd = decodeCommand(m.data, this.hostId);
    if (cmd instanceof VirtError) return this.#malformed(m, cmd);
    // In the domain's queue: after the commands and changes of that domain before it.
    await this.#queue.run(cmd.uuid, () => this.#carryOut(cmd, m));
  }

  async #carryOut(cmd: AnyCommand, m: JsMsg): Promise<void> {
    const t0 = performance.now();
    // A start reads its domain in any case (unless the scheduler sent it as it placed it: `known`):
    // asked for with the pending record, in the same round trip.
    const preloaded = cmd.type === 'start' && !knownHere(this.hostId, cmd) ? this.#o.store.load(domainRef(cmd.uuid)) : undefined;
    preloaded?.catch(() => undefined); // not awaited when the command turns out done or in recovery
    // The common case in one round trip: the pending record is created only if there is none.
    const prior = (await this.#claim(cmd)) ? undefined : await commandOutcome(this.#results, this.hostId, cmd.id);
    if (prior && prior.status !== 'pending') {
      this.metrics.commands.inc({ type: cmd.type, outcome: 'duplicate' });
      this.#log('info', 'command already carried out: no second effect', { id: cmd.id, type: cmd.type, status: prior.status });
      m.ack();
      return;
    }
    const recovering = prior?.status === 'pending' || m.info.redelivered;
    this.#book.noteCommand(cmd.uuid, cmd.id, cmd.correlationId);
    const progress = setInterval(() => m.working(), Math.max(1_000, this.#ackWaitMs / 3));
    try {
      const events = await execute(this.#exec(), cmd, recovering, preloaded);
      await this.#outcome(cmd, { status: 'completed', events });
      m.ack();
      this.metrics.commands.inc({ type: cmd.type, outcome: 'completed' });
      this.#log('info', 'command completed', { id: cmd.id, type: cmd.type, uuid: cmd.uuid, events: events.map((e) => e.type), recovering });
    } catch (e) {
      try {
        if (e instanceof VirtError && !isConcurrencyError(e)) {
          await this.#failed(cmd, m, e.toJSON());
          return;
        }
        if (m.info.deliveryCount >= (this.#o.maxAttempts ?? 5)) {
          await this.#failed(cmd, m, new VirtError('INTERNAL_ERROR', `command ${cmd.id} failed ${m.info.deliveryCount} times: ${e instanceof Error ? e.message : String(e)}`).toJSON());
          return;
        }
      } catch (recording) {
        e = recording;
      }
      // An infrastructure fault (NATS away, a lost race): the command comes back and resumes where it was.
      this.metrics.retries.inc();
      this.#log('warn', 'command will be retried', { id: cmd.id, type: cmd.type, error: String(e), delivery: m.info.deliveryCount });
      m.nak(Math.min(10_000, 250 * 2 ** m.info.deliveryCount));
    } finally {
      clearInterval(progress);
      this.metrics.seconds.observe({ type: cmd.type }, (performance.now() - t0) / 1000);
    }
  }

  async #failed(cmd: AnyCommand, m: JsMsg, error: VirtErrorJSON): Promise<void> {
    await this.#appendFailure(cmd, error);
    await this.#outcome(cmd, { status: 'failed', error });
    m.ack();
    this.metrics.commands.inc({ type: cmd.type, outcome: 'failed' });
    this.#log('info', 'command failed', { id: cmd.id, type: cmd.type, uuid: cmd.uuid, error: error.message });
  }

  /** DomainCommandFailed on the host's subject: the domain may not exist, and nothing about it changed. */
  async #appendFailure(cmd: { id: string; type: string; uuid?: string; correlationId: string }, error: VirtErrorJSON): Promise<RecordedEvent[]> {
    const r = await this.#o.store.update(hostRef(this.hostId), () => [{
      type: 'DomainCommandFailed', data: { hostId: this.hostId, command: cmd.type, error, ...(cmd.uuid ? { uuid: cmd.uuid } : {}) },
    }], { correlationId: cmd.correlationId, causationId: cmd.id });
    return r.events.map((e, i) => ({ id: e.id, type: e.type, seq: r.seqs[i] ?? 0 }));
  }

  /** A message that is no command: failed as well as it can be named, then acked (it would fail again). */
  async #malformed(m: JsMsg, error: VirtError): Promise<void> {
    let raw: Record<string, unknown> = {};
    try {
      const v = JSON.parse(new TextDecoder().decode(m.data)) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) raw = v as Record<string, unknown>;
    } catch {
      // not JSON: named by its sequence
    }
    const s = (v: unknown) => (typeof v === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(v) ? v : undefined);
    const id = s(raw.id) ?? `seq-${m.seq}`;
    const uuid = typeof raw.uuid === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(raw.uuid) ? raw.uuid : undefined;
    const type = typeof raw.type === 'string' && raw.type !== '' ? raw.type.slice(0, 64) : 'unknown';
    const correlationId = typeof raw.correlationId === 'string' ? raw.correlationId : id;
    const cmd = { id, type, correlationId, ...(uuid ? { uuid } : {}) };
    try {
      await this.#appendFailure(cmd, error.toJSON());
      const out: CommandOutcome = { id, type, hostId: this.hostId, correlationId, status: 'failed', at: new Date().toISOString(), error: error.toJSON(), ...(uuid ? { uuid } : {}) };
      await this.#results.put(commandResultKey(this.hostId, id), JSON.stringify(out));
      m.ack();
      this.metrics.commands.inc({ type: 'malformed', outcome: 'failed' });
      this.#log('warn', 'malformed command refused', { seq: m.seq, id, error: error.message });
    } catch (e) {
      this.#log('warn', 'could not record a malformed command: it will come back', { seq: m.seq, error: String(e) });
      m.nak(1_000);
    }
  }

  /** Creates the command's pending record; false when it has one already (a redelivery or a resend). */
  async #claim(cmd: AnyCommand): Promise<boolean> {
    const out: CommandOutcome = { id: cmd.id, type: cmd.type, hostId: this.hostId, uuid: cmd.uuid, correlationId: cmd.correlationId, at: new Date().toISOString(), status: 'pending' };
    try {
      await this.#results.create(commandResultKey(this.hostId, cmd.id), JSON.stringify(out));
      return true;
    } catch (e) {
      if (e instanceof Error && /wrong last sequence|key exists/i.test(e.message)) return false;
      throw e;
    }
  }

  async #outcome(cmd: AnyCommand, o: { status: CommandOutcome['status']; events?: readonly RecordedEvent[]; error?: VirtErrorJSON }): Promise<void> {
    const out: CommandOutcome = {
      id: cmd.id, type: cmd.type, hostId: this.hostId, uuid: cmd.uuid, correlationId: cmd.correlationId, at: new Date().toISOString(), ...o,
    };
    await this.#results.put(commandResultKey(this.hostId, cmd.id), JSON.stringify(out));
  }

  #exec(): ExecContext {
    return {
      hostId: this.hostId, store: this.#o.store, hypervisor: this.#o.hypervisor, caps: this.#caps, registry: (this.#registry ??= this.#o.registry ?? defaultRegistry()),
      book: this.#book, startRecoveryMs: this.#o.startRecoveryMs ?? 10_000, log: this.#log, cache: this.#cache,
      ...(this.#o.storagePaths ? { storagePaths: this.#o.storagePaths } : {}),
    };
  }

  #registry?: DriverRegistry;

  // ------------------------------------------------ changes on their own

  #onChange(change: LifecycleChange): void {
    if (this.#book.absorb(change)) {
      this.metrics.lifecycle.inc({ event: change.event, recorded: 'by-command' });
      return;
    }
    const ids = this.#book.idsFor(change);
    void this.#queue.run(change.uuid, () => this.#applyChange(change, ids)).catch((e) => this.#log('error', 'could not record a lifecycle change', { uuid: change.uuid, change, error: String(e) }));
  }

  /**
   * Records a change if it is a legal next step for the domain (one already
   * recorded — by a command, or before a restart — is not). Infrastructure
   * faults are retried for about a minute: a lost state change is worse than
   * a late one.
   */
  async #applyChange(change: LifecycleChange, ids: { correlationId: string; causationId: string }): Promise<boolean> {
    this.#cache.delete(change.uuid);
    const draft = draftFor(change, this.hostId);
    if (!draft) {
      this.metrics.lifecycle.inc({ event: change.event, recorded: 'no-event' });
      this.#log('info', 'domain reset', { uuid: change.uuid });
      return false;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.#o.store.update(domainRef(change.uuid), ({ state }) => {
          if (!state?.defined) return [];
          const [event] = this.#o.store.makeEvents([draft], state.version, ids);
          const err = transitionError(state, event!);
          if (err) {
            this.#log('debug', 'change not recorded: not a step from the recorded state', { uuid: change.uuid, change, error: err.message });
            return [];
          }
          return [draft];
        }, ids);
        const recorded = r.events.length > 0;
        this.metrics.lifecycle.inc({ event: change.event, recorded: recorded ? 'yes' : 'no' });
        if (recorded) this.#log('info', 'lifecycle change recorded', { uuid: change.uuid, event: draft.type, detail: (draft.data as { detail?: string }).detail, causationId: ids.causationId });
        return recorded;
      } catch (e) {
        if (attempt >= 12) throw e;
        await new Promise((r) => setTimeout(r, Math.min(10_000, 100 * 2 ** attempt)));
      }
    }
  }
}
