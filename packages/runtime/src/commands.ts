/**
 * Commands to host agents, and how their senders learn what became of them.
 *
 * - Commands go to the `VIRT_COMMANDS` stream (subjects `virt.cmd.*`, work-queue
 *   retention: a command is gone once its agent acks it), published with
 *   Nats-Msg-Id = the command's id, so a sender's retry inside the duplicate
 *   window stores nothing twice.
 * - An agent records each command's outcome in the KV bucket
 *   `VIRT_COMMAND_RESULTS` (key `<hostId>.<commandId>`): `pending` while it
 *   works, then `completed` (with the events it appended) or `failed` (with the
 *   VirtError), written after those events are stored and before the ack.
 *   `awaitCommandResult` watches that key. The events themselves carry the
 *   command's correlationId and causationId = its id: lifecycle events on the
 *   domain's subject, DomainCommandFailed on the host's.
 * - Heartbeats: KV `VIRT_HEARTBEATS`, key = host id, refreshed every few
 *   seconds; the bucket's max age drops the key of an agent that stopped.
 */
import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { KvWatchInclude, Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { VirtError, encodeCommand, subjects, type Command, type CommandOutcome } from '@virtflow/model';
import { textDecoder } from './events/codec.ts';
import { createBucket } from './kv-create.ts';
import { replicasOf } from './events/nats.ts';

export const COMMAND_STREAM = 'VIRT_COMMANDS';
export const COMMAND_RESULTS_BUCKET = 'VIRT_COMMAND_RESULTS';
export const HEARTBEAT_BUCKET = 'VIRT_HEARTBEATS';

const ms = (n: number) => n * 1_000_000; // nanoseconds, as JetStream counts

export interface CommandStreamOptions {
  /** How long an unconsumed command is kept (1 day). */
  readonly maxAgeMs?: number;
  /** Sender retries inside it are de-duplicated by command id (2 minutes). */
  readonly duplicateWindowMs?: number;
  readonly replicas?: number;
}

/** Buckets this connection has already checked for replicas: readHeartbeats and the command waits open them per call. */
const replicasChecked = new WeakMap<NatsConnection, Set<string>>();

/**
 * Opens (creating when missing) one of the commands' buckets with the connection's replicas; the first
 * open of a bucket on a connection also raises an existing bucket's replicas (createBucket), later ones
 * do not ask again.
 */
async function openBucket(nc: NatsConnection, name: string, opts: { readonly history: number; readonly ttl: number; readonly replicas?: number | undefined }): Promise<KV> {
  const replicas = opts.replicas ?? replicasOf(nc);
  const checked = replicasChecked.get(nc) ?? new Set<string>();
  replicasChecked.set(nc, checked);
  const check = replicas > 1 && !checked.has(name);
  const kv = await createBucket(new Kvm(nc), name, { history: opts.history, ttl: opts.ttl, replicas }, check ? await jetstreamManager(nc) : undefined);
  if (check) checked.add(name);
  return kv;
}

/**
 * Creates the commands stream when it is missing (with the replicas of the
 * connection, see connectNats); an existing one is left as it is, but for
 * more replicas when more are wanted.
 */
export async function ensureCommandStream(jsm: JetStreamManager, opts: CommandStreamOptions = {}): Promise<void> {
  // The manager's connection carries the deployment's replica count (nats.js keeps it as `nc`).
  const replicas = opts.replicas ?? replicasOf((jsm as unknown as { nc?: NatsConnection }).nc);
  opts = { ...opts, replicas };
  try {
    const info = await jsm.streams.info(COMMAND_STREAM);
    if (info.config.num_replicas < replicas) await jsm.streams.update(COMMAND_STREAM, { ...info.config, num_replicas: replicas });
    return;
  } catch (e) {
    if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
  }
  try {
    await jsm.streams.add({
      name: COMMAND_STREAM,
      subjects: [subjects.allHostCommands()],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: ms(opts.maxAgeMs ?? 86_400_000),
      duplicate_window: ms(opts.duplicateWindowMs ?? 120_000),
      num_replicas: opts.replicas ?? 1,
      // An agent reads its own backlog (the commands not yet acked) with direct gets at start.
      allow_direct: true,
    });
  } catch (e) {
    // Another agent created it in between.
    if (!(e instanceof JetStreamApiError && /already in use/i.test(e.message))) throw e;
  }
}

/** The bucket of command outcomes (kept a day unless told otherwise). */
export async function openCommandResults(nc: NatsConnection, opts: { readonly ttlMs?: number; readonly replicas?: number } = {}): Promise<KV> {
  return openBucket(nc, COMMAND_RESULTS_BUCKET, { history: 1, ttl: opts.ttlMs ?? 86_400_000, replicas: opts.replicas });
}

/** The bucket of host heartbeats; a key disappears `ttlMs` after its last refresh. */
export async function openHeartbeats(nc: NatsConnection, opts: { readonly ttlMs?: number; readonly replicas?: number } = {}): Promise<KV> {
  return openBucket(nc, HEARTBEAT_BUCKET, { history: 1, ttl: opts.ttlMs ?? 15_000, replicas: opts.replicas });
}

/** What an agent writes in its heartbeat (key = host id). */
export interface Heartbeat {
  readonly hostId: string;
  readonly at: string;
  readonly hypervisor: string;
  readonly domains: number;
  readonly inflight: number;
  readonly draining: boolean;
  readonly pid: number;
}

/**
 * Every host's last heartbeat with its age. The bucket's max age removes a
 * silent host's key eventually, but nats-server 2.9 leaves no delete marker a
 * watcher could see: judge liveness by `ageMs`.
 */
export async function readHeartbeats(nc: NatsConnection, opts: { readonly heartbeats?: KV; readonly now?: () => number } = {}): Promise<Map<string, Heartbeat & { readonly ageMs: number }>> {
  const kv = opts.heartbeats ?? (await openHeartbeats(nc));
  const now = (opts.now ?? Date.now)();
  const out = new Map<string, Heartbeat & { ageMs: number }>();
  for (const key of await heartbeatKeys(nc)) {
    const e = await kv.get(key);
    if (!e || e.operation !== 'PUT') continue;
    try {
      const h = JSON.parse(textDecoder.decode(e.value)) as Heartbeat;
      out.set(key, { ...h, ageMs: now - Date.parse(h.at) });
    } catch {
      // not a heartbeat
    }
  }
  return out;
}

/**
 * The bucket's keys, from its stream's subjects (one request). Not `kv.keys()`: its ordered consumer ends
 * on a message that says nothing is pending, and with beats replacing each other (history 1) and expiring
 * (the bucket's max age) the message it was told of can be gone before it is delivered — the iteration
 * then waited for good (seen once in CI: the SDK's hosts.list() never returned).
 */
async function heartbeatKeys(nc: NatsConnection): Promise<string[]> {
  const prefix = `$KV.${HEARTBEAT_BUCKET}.`;
  const info = await (await jetstreamManager(nc)).streams.info(`KV_${HEARTBEAT_BUCKET}`, { subjects_filter: `${prefix}>` });
  return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
}

export const commandResultKey = (hostId: string, commandId: string): string => `${hostId}.${commandId}`;

/** Publishes a command to its host's subject (stored once per id, however often it is sent). Returns the stream sequence. */
export async function sendCommand(nc: NatsConnection, cmd: Command, opts: { readonly timeoutMs?: number } = {}): Promise<number> {
  const js = jetstream(nc, { timeout: opts.timeoutMs ?? 5_000 });
  const ack = await js.publish(subjects.hostCommands(cmd.hostId), encodeCommand(cmd), { msgID: cmd.id });
  return ack.seq;
}

export function parseOutcome(data: Uint8Array): CommandOutcome | undefined {
  try {
    const o = JSON.parse(textDecoder.decode(data)) as CommandOutcome;
    return typeof o.id === 'string' && (o.status === 'pending' || o.status === 'completed' || o.status === 'failed') ? o : undefined;
  } catch {
    return undefined;
  }
}

/** The outcome recorded so far, if any. */
export async function commandOutcome(results: KV, hostId: string, commandId: string): Promise<CommandOutcome | undefined> {
  const e = await results.get(commandResultKey(hostId, commandId));
  return e && e.operation === 'PUT' ? parseOutcome(e.value) : undefined;
}

/**
 * Waits until the agent of `hostId` has finished command `commandId`:
 * resolves with the outcome (`completed` or `failed` — a failure is a value,
 * `VirtError.fromJSON(outcome.error)` rebuilds it), or throws
 * OPERATION_TIMEOUT. Safe to call after sendCommand: an outcome already
 * recorded is found at once.
 */
export async function awaitCommandResult(nc: NatsConnection, target: { readonly hostId: string; readonly id: string }, opts: { readonly timeoutMs?: number; readonly results?: KV } = {}): Promise<CommandOutcome> {
  const results = opts.results ?? (await openCommandResults(nc));
  const key = commandResultKey(target.hostId, target.id);
  const watch = await results.watch({ key });
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const timer = setTimeout(() => watch.stop(), timeoutMs);
  try {
    for await (const e of watch) {
      if (e.operation !== 'PUT') continue;
      const o = parseOutcome(e.value);
      if (o && o.status !== 'pending') return o;
    }
  } finally {
    clearTimeout(timer);
    watch.stop();
  }
  throw new VirtError('OPERATION_TIMEOUT', `command ${target.id} on host '${target.hostId}' did not finish within ${timeoutMs} ms`, `/commands/${target.hostId}/${target.id}`);
}

/**
 * One watch over every outcome, for senders with many commands in flight (a
 * scheduler): `wait` costs no consumer of its own, unlike awaitCommandResult.
 * Open it before sending; outcomes that arrive before their `wait` are kept
 * (up to `keep`), and one recorded before the watcher opened is read directly.
 */
export class CommandResultWatcher {
  readonly #results: KV;
  readonly #watch: Awaited<ReturnType<KV['watch']>>;
  readonly #waiters = new Map<string, (o: CommandOutcome) => void>();
  readonly #early = new Map<string, CommandOutcome>();
  readonly #keep: number;
  readonly #loop: Promise<void>;

  private constructor(results: KV, watch: Awaited<ReturnType<KV['watch']>>, keep: number) {
    this.#results = results;
    this.#watch = watch;
    this.#keep = keep;
    this.#loop = this.#run();
  }

  static async open(nc: NatsConnection, opts: { readonly results?: KV; readonly keep?: number } = {}): Promise<CommandResultWatcher> {
    const results = opts.results ?? (await openCommandResults(nc));
    const watch = await results.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
    return new CommandResultWatcher(results, watch, opts.keep ?? 10_000);
  }

  async #run(): Promise<void> {
    for await (const e of this.#watch) {
      if (e.operation !== 'PUT') continue;
      const o = parseOutcome(e.value);
      if (!o || o.status === 'pending') continue;
      const w = this.#waiters.get(e.key);
      if (w) {
        this.#waiters.delete(e.key);
        w(o);
      } else {
        this.#early.set(e.key, o);
        if (this.#early.size > this.#keep) this.#early.delete(this.#early.keys().next().value!);
      }
    }
  }

  /** The outcome of a command (completed or failed), or OPERATION_TIMEOUT. */
  wait(target: { readonly hostId: string; readonly id: string }, timeoutMs = 60_000): Promise<CommandOutcome> {
    const key = commandResultKey(target.hostId, target.id);
    const early = this.#early.get(key);
    if (early) {
      this.#early.delete(key);
      return Promise.resolve(early);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(key);
        reject(new VirtError('OPERATION_TIMEOUT', `command ${target.id} on host '${target.hostId}' did not finish within ${timeoutMs} ms`, `/commands/${target.hostId}/${target.id}`));
      }, timeoutMs);
      const done = (o: CommandOutcome) => {
        clearTimeout(timer);
        resolve(o);
      };
      this.#waiters.set(key, done);
      // Recorded before this watcher opened?
      void commandOutcome(this.#results, target.hostId, target.id).then((o) => {
        if (o && o.status !== 'pending' && this.#waiters.get(key) === done) {
          this.#waiters.delete(key);
          done(o);
        }
      }, () => undefined);
    });
  }

  async close(): Promise<void> {
    this.#watch.stop();
    await this.#loop.catch(() => undefined);
  }
}

/** sendCommand, then awaitCommandResult. */
export async function runCommand(nc: NatsConnection, cmd: Command, opts: { readonly timeoutMs?: number; readonly results?: KV } = {}): Promise<CommandOutcome> {
  const results = opts.results ?? (await openCommandResults(nc));
  await sendCommand(nc, cmd);
  return awaitCommandResult(nc, cmd, { ...opts, results });
}

/**
 * The commands still in the stream for a host (work-queue retention: the ones not yet acked), oldest first.
 * Under the strict NATS permissions of security/nats-auth.ts an agent may not read the commands stream
 * by sequence (NATS cannot hold that read to one host): then there is no backlog to report, and the
 * empty list says so (the agent reconciles without it; see security/README.md).
 */
export async function pendingCommands(jsm: JetStreamManager, hostId: string, limit = 10_000): Promise<Array<{ seq: number; data: Uint8Array }>> {
  const out: Array<{ seq: number; data: Uint8Array }> = [];
  let seq = 1;
  while (out.length < limit) {
    let m;
    try {
      m = await jsm.direct.getMessage(COMMAND_STREAM, { seq, next_by_subj: subjects.hostCommands(hostId) });
    } catch (e) {
      if (out.length === 0 && e instanceof Error && /Permissions Violation/i.test(e.message)) return out;
      throw e;
    }
    if (!m) break;
    out.push({ seq: m.seq, data: m.data });
    seq = m.seq + 1;
  }
  return out;
}

/** The commands stream's manager, for callers without one. */
export async function commandStreamManager(nc: NatsConnection): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  await ensureCommandStream(jsm);
  return jsm;
}
