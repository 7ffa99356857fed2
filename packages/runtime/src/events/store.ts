/**
 * The event store: every change in virtflow is an event appended to the
 * VIRT_EVENTS stream on JetStream, and an aggregate's state is the fold of its
 * events (snapshot + tail).
 *
 * ## Optimistic concurrency: two writers can never both win
 *
 * `append(aggregate, events, expectedVersion)` stores the events only if the
 * aggregate is still at `expectedVersion`; otherwise it throws a
 * ConcurrencyError and the caller reloads, decides again and retries
 * (`update` does that loop). How the check is made depends on the server:
 *
 * - **nats-server ≥ 2.11** (`subject-wildcard` mode): each event is published
 *   with Nats-Expected-Last-Subject-Sequence = the aggregate's head sequence and
 *   Nats-Expected-Last-Subject-Sequence-Subject = the aggregate's wildcard
 *   (`virt.evt.domain.<uuid>.*`). The server compares against the last message
 *   of any type of that aggregate, atomically: exact, no window, no clock.
 *
 * - **older servers** (`msg-id` mode; Debian's 2.9.10 here): the -Subject header
 *   does not exist and is silently ignored, so the expected sequence can only be
 *   checked on the event's own subject (`...<uuid>.DomainStarted`), which does
 *   not see a concurrent `DomainStopped`. Two checks close that gap:
 *   1. Nats-Msg-Id is `<kind>.<id>@<version>`. Two writers that both read
 *      version v both publish `@v+1`; the stream's duplicate window (one hour)
 *      stores the first and answers the second `duplicate` → ConcurrencyError.
 *   2. The msg id only collides inside the window, so the read that established
 *      `expectedVersion` must be recent: the store refuses to publish when that
 *      read is older than half the window. A competitor's event newer than the
 *      read is then still in the window; one older than the read was seen by it.
 *   Each event still carries Nats-Expected-Last-Subject-Sequence for its own
 *   subject, which the server does enforce.
 *
 *   The "read" is the store's observation of the aggregate's head: the `load`
 *   that produced `expectedVersion` (replay to the head the server reported), or
 *   this store's own previous successful append. Without a fresh observation the
 *   store reads the head itself (below). An aggregate's first event needs no read in either
 *   mode: it must be its creation event (DomainDefined, HostRegistered), and
 *   expected-last-subject-sequence 0 on that literal subject proves the
 *   aggregate has never existed.
 *
 *   Reads on 2.9: the server answers a wildcard (last message of
 *   `virt.evt.domain.<uuid>.*`, or a consumer filtered on it) by scanning the
 *   stream's blocks, slower as the stream grows; literal subjects are indexed.
 *   So in this mode loads and head reads go through the aggregate's literal
 *   subjects, one per event type (aggregate-read.ts), which also gives the
 *   per-subject sequences the own-subject check needs.
 *
 * ## Poison on an aggregate's own subjects
 * Anyone allowed to publish domain events can put junk on
 * `virt.evt.domain.<uuid>.<type>`, with any Nats-Msg-Id. It must not block the
 * aggregate, so the two numbers are kept apart: the *version* counts only valid
 * events (poison is reported to `onPoison` and never folded; so is a
 * well-formed event at version 1 that is not a creation event), while the
 * *expected sequences* are those of the last stored message, poison included,
 * since that is what the server compares. Hence:
 * - a creation is first checked blind (expected sequence 0); when that fails
 *   and a read finds poison but still no event, it is checked against what the
 *   read found (a load just before, as `update` does, goes there directly);
 * - a publish answered `duplicate` by a message that is not an event of this
 *   aggregate at this version (poison squatting the version's msg id) moves to
 *   the msg id `<id>~<poison's sequence>`: every honest writer of that version
 *   meets the same poison, so they move together and still collide.
 *
 * An append of several events is checked event by event (each against the one
 * before it), not atomically: if a competitor slips in between, the events
 * before it stay and the ConcurrencyError says how many (`appended`).
 *
 * ## Snapshots
 * `load` folds snapshot + tail. When the tail it folded holds `snapshotEvery`
 * events or more, it stores a new snapshot (KV bucket VIRT_SNAPSHOTS, key
 * `<kind>.<id>`), so an aggregate that is read is replayed from at most N events.
 */
import { randomUUID } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type PubAck, type StoredMsg } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  VirtError, aggregateOf, asOf as asOfEvents, decodeEvent, diffVersions, encodeEvent, foldDomain, history as historyOf, makeEvent, observationProblem, reduceDomain, reduceHost, subjects,
  type AnyEvent, type DefinitionChange, type DefinitionVersion, type DomainState, type EventData, type EventType, type HostState, type KnownObservation,
} from '@virtflow/model';
import { CREATION_TYPE, aggregateKey, aggregateSubjects, versionMsgId, type AggregateKind, type AggregateRef } from './aggregate.ts';
import { logPoison, textDecoder, textEncoder, type PoisonHandler } from './codec.ts';
import { ConcurrencyError, NameTakenError } from './errors.ts';
import { readByConsumer, readBySubjects, subjectHeads, type AggregateMessages, type ReadStrategy } from './aggregate-read.ts';
import { DEFAULT_DUPLICATE_WINDOW_MS, ensureEventStream, supportsSubjectWildcardCheck, type StreamOptions } from './stream.ts';
import { EventSubscription, type SubscribeOptions } from './subscribe.ts';
import { createBucket } from '../kv-create.ts';
import { replicasOf } from './nats.ts';

export type ConcurrencyMode = 'subject-wildcard' | 'msg-id';

export interface EventStoreOptions extends StreamOptions {
  /** 'auto' (default) picks subject-wildcard on nats-server ≥ 2.11, msg-id before. */
  readonly concurrency?: 'auto' | ConcurrencyMode;
  /**
   * How loads read an aggregate (aggregate-read.ts): 'auto' (default) reads the
   * literal subjects where the server scans for wildcards (the msg-id mode's
   * servers), else a consumer on the wildcard.
   */
  readonly read?: 'auto' | ReadStrategy;
  /** Write a snapshot when a load folded this many events past the last one (100; 0: never). */
  readonly snapshotEvery?: number;
  readonly snapshotBucket?: string;
  /** Bumped when the reducers change shape, so old snapshots are ignored. */
  readonly snapshotSchema?: number;
  /** Poison messages met while loading (default: a line on stderr). */
  readonly onPoison?: PoisonHandler;
  /** Errors of background work (snapshot writes) that must not fail the caller. */
  readonly onError?: (e: unknown) => void;
  /** Clock and id source for the events `update` makes. */
  readonly now?: () => Date;
  readonly newId?: () => string;
  /** Publish timeout, ms (5000). */
  readonly timeoutMs?: number;
}

export type StateOf<K extends AggregateKind> = K extends 'domain' ? DomainState : HostState;

export interface Loaded<K extends AggregateKind = AggregateKind> {
  readonly aggregate: AggregateRef & { readonly kind: K };
  /** undefined for an aggregate without events. */
  readonly state: StateOf<K> | undefined;
  /** Its version: that of its last event (0: none). */
  readonly version: number;
  /** Stream sequence of its last message (0: none). */
  readonly seq: number;
  /** Events folded on top of the snapshot (all of them without one). */
  readonly replayed: number;
  readonly fromSnapshot: boolean;
}

export interface AppendResult {
  /** The aggregate's version after the append. */
  readonly version: number;
  /** Stream sequence of each event (0 for one a retry found already stored, behind the head). */
  readonly seqs: readonly number[];
}

/** What `update`'s decide function returns: events without their envelope. */
export interface EventDraft<T extends EventType = EventType> {
  readonly type: T;
  readonly data: EventData[T];
}

export interface UpdateOptions {
  readonly correlationId?: string;
  readonly causationId?: string;
  /** Attempts before the ConcurrencyError is thrown to the caller (10). */
  readonly attempts?: number;
}

/** What the store knows of an aggregate's head, and since when. */
interface Observation {
  version: number;
  seq: number;
  /** Last stream sequence of each of the aggregate's subjects, by type token (msg-id mode). */
  typeSeqs: Record<string, number>;
  /** Date.now() when the read establishing it was sent. */
  at: number;
  /** Id of the event at the head, when known: tells a retry that its own earlier attempt landed. */
  headId?: string | undefined;
  /** typeSeqs covers every subject of the aggregate (a type missing from it has no message): true after a load or from version 0. */
  complete: boolean;
}

/**
 * An observation as it crosses process boundaries (EventStore.observation /
 * observe): what a store knows of an aggregate's head, `at` in epoch ms — the
 * shape a start command carries it in (the model's KnownObservation).
 */
export type ObservationSnapshot = KnownObservation;

/** How far in the future an observation handed to `observe` may claim to be (clock skew between hosts), ms. */
const OBSERVE_MAX_FUTURE_MS = 5_000;

interface Snapshot {
  readonly schema: number;
  readonly kind: AggregateKind;
  readonly id: string;
  readonly version: number;
  readonly seq: number;
  readonly typeSeqs: Record<string, number>;
  readonly state: unknown;
}

const MAX_OBSERVATIONS = 50_000;
/** How many poison messages holding a version's msg id an append steps past before giving up. */
const MAX_MSG_ID_HOPS = 8;
const CREATION_TYPES: ReadonlySet<EventType> = new Set(Object.values(CREATION_TYPE));

export class EventStore {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly mode: ConcurrencyMode;
  readonly readStrategy: ReadStrategy;
  readonly duplicateWindowMs: number;
  readonly #snapshots: KV;
  readonly #opts: EventStoreOptions;
  readonly #observed = new Map<string, Observation>();
  readonly #background = new Set<Promise<unknown>>();

  private constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, snapshots: KV, mode: ConcurrencyMode, opts: EventStoreOptions) {
    this.nc = nc;
    this.js = js;
    this.jsm = jsm;
    this.stream = opts.stream ?? 'VIRT_EVENTS';
    this.mode = mode;
    this.readStrategy = opts.read === undefined || opts.read === 'auto' ? (mode === 'msg-id' ? 'subjects' : 'consumer') : opts.read;
    this.duplicateWindowMs = opts.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    this.#snapshots = snapshots;
    this.#opts = opts;
  }

  /** Opens the store, creating the stream and the snapshot bucket when missing. */
  static async open(nc: NatsConnection, opts: EventStoreOptions = {}): Promise<EventStore> {
    const timeout = opts.timeoutMs ?? 5_000;
    const jsm = await jetstreamManager(nc, { timeout });
    const js = jetstream(nc, { timeout });
    // The window the stream really has (another process may have opened it with a shorter one) bounds ours.
    const replicas = opts.replicas ?? replicasOf(nc);
    const window = Math.min(await ensureEventStream(jsm, { ...opts, replicas }), opts.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS);
    const snapshots = await createBucket(new Kvm(js), opts.snapshotBucket ?? 'VIRT_SNAPSHOTS', { history: 1, replicas }, jsm);
    const wildcard = supportsSubjectWildcardCheck(nc);
    const want = opts.concurrency ?? 'auto';
    if (want === 'subject-wildcard' && !wildcard) {
      throw new VirtError('CONFIG_UNSUPPORTED', `concurrency mode 'subject-wildcard' needs nats-server 2.11 or later (this one is ${nc.info?.version ?? 'unknown'})`);
    }
    const mode: ConcurrencyMode = want === 'auto' ? (wildcard ? 'subject-wildcard' : 'msg-id') : want;
    return new EventStore(nc, js, jsm, snapshots, mode, { ...opts, duplicateWindowMs: window });
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends events to one aggregate if it is still at `expectedVersion`
   * (0 for a new one). The events are envelopes (makeEvent) at versions
   * expectedVersion + 1, + 2, ... on the aggregate's subjects.
   */
  async append(aggregate: AggregateRef, events: readonly AnyEvent[], expectedVersion: number): Promise<AppendResult> {
    this.#checkBatch(aggregate, events, expectedVersion);
    try {
      return await this.#append(aggregate, events, expectedVersion);
    } catch (e) {
      // A creation checked blind (expected sequence 0) fails when the aggregate's subjects hold
      // poison but no event: read what is there and, if it is still no event, create on top of it.
      if (!(e instanceof ConcurrencyError && e.reason === 'sequence' && expectedVersion === 0 && e.appended === 0)) throw e;
      const loaded = await this.load(aggregate, { snapshot: false });
      if (loaded.version !== 0 || loaded.seq === 0) throw e;
      return this.#append(aggregate, events, expectedVersion);
    }
  }

  async #append(aggregate: AggregateRef, events: readonly AnyEvent[], expectedVersion: number): Promise<AppendResult> {
    const key = aggregateKey(aggregate);
    try {
      const pending = this.#observationFor(aggregate, events, expectedVersion);
      const obs = pending instanceof Promise ? await pending : pending;
      // A retry whose earlier attempt stored some of the events (its ack was lost) goes on after them.
      const landed = obs.version - expectedVersion;
      const seqs: number[] = landed > 0 ? [...new Array<number>(landed - 1).fill(0), obs.seq] : [];
      for (const event of events.slice(Math.max(0, landed))) {
        const ack = await this.#publish(aggregate, event, obs, expectedVersion, seqs.length);
        seqs.push(ack.seq);
      }
      this.#observe(key, obs);
      return { version: obs.version, seqs };
    } catch (e) {
      this.#observed.delete(key);
      throw e;
    }
  }

  #checkBatch(aggregate: AggregateRef, events: readonly AnyEvent[], expectedVersion: number): void {
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) throw new VirtError('INVALID_ARG', `expectedVersion must be a non-negative integer, not ${String(expectedVersion)}`);
    if (events.length === 0) throw new VirtError('INVALID_ARG', 'append needs at least one event');
    events.forEach((e, i) => {
      const of = aggregateOf(e.subject);
      if (!of || of.kind !== aggregate.kind || of.id !== aggregate.id) {
        throw new VirtError('INVALID_ARG', `event ${e.id} (${e.type}) is on '${e.subject}', not on ${aggregate.kind} '${aggregate.id}'`, `/events[${i}]/subject`);
      }
      if (e.version !== expectedVersion + i + 1) {
        throw new VirtError('INVALID_ARG', `event ${e.id} (${e.type}) has version ${e.version}; appended after version ${expectedVersion} it must be ${expectedVersion + i + 1}`, `/events[${i}]/version`);
      }
    });
    if (expectedVersion === 0 && events[0]!.type !== CREATION_TYPE[aggregate.kind]) {
      throw new VirtError('OPERATION_INVALID', `a new ${aggregate.kind} starts with ${CREATION_TYPE[aggregate.kind]}, not ${events[0]!.type}`, '/events[0]/type');
    }
  }

  /**
   * The head the append is checked against: remembered (no round trip — the
   * common case, so no promise either), or read now.
   */
  #observationFor(aggregate: AggregateRef, events: readonly AnyEvent[], expectedVersion: number): Observation | Promise<Observation> {
    const now = Date.now();
    const known = this.#observed.get(aggregateKey(aggregate));
    if (known && known.version > expectedVersion) throw new ConcurrencyError(aggregate, expectedVersion, 'version', { actualVersion: known.version });
    const fresh = known && known.version === expectedVersion && (this.mode === 'subject-wildcard' || now - known.at < this.duplicateWindowMs / 2);
    if (expectedVersion === 0) {
      // A load that found poison but no event: its sequences are what the server will check against.
      if (fresh && known.complete) return { ...known, typeSeqs: { ...known.typeSeqs } };
      // Blind: nothing stored on the aggregate, we expect. Not `complete`, since poison on another of
      // its subjects is not ruled out by this creation's own-subject check.
      return { version: 0, seq: 0, typeSeqs: {}, at: now, complete: false };
    }
    if (fresh && (this.mode === 'subject-wildcard' || known.complete)) return { ...known, typeSeqs: { ...known.typeSeqs } };
    return this.#readObservation(aggregate, events, expectedVersion, fresh ? known : undefined);
  }

  async #readObservation(aggregate: AggregateRef, events: readonly AnyEvent[], expectedVersion: number, known: Observation | undefined): Promise<Observation> {
    const obs = known ? { ...known, typeSeqs: { ...known.typeSeqs } } : await this.#readHead(aggregate);
    if (obs.version !== expectedVersion) {
      const landed = obs.version - expectedVersion;
      const ours = landed > 0 && landed <= events.length && obs.headId === events[landed - 1]!.id;
      if (!ours) throw new ConcurrencyError(aggregate, expectedVersion, 'version', { actualVersion: obs.version });
    }
    if (this.mode === 'msg-id') await this.#readTypeSeqs(aggregate, events, obs);
    return obs;
  }

  /**
   * The aggregate's last message: over its wildcard (one indexed lookup from
   * 2.10 on), or as the newest of the last messages of its literal subjects,
   * which also gives the msg-id check every subject's sequence.
   */
  async #readHead(aggregate: AggregateRef): Promise<Observation> {
    const at = Date.now();
    let m: StoredMsg | null | undefined;
    const typeSeqs: Record<string, number> = {};
    if (this.readStrategy === 'subjects') {
      const heads = await subjectHeads(this.jsm, this.stream, aggregate);
      for (const [t, h] of heads) {
        typeSeqs[t] = h.seq;
        if (!m || h.seq > m.seq) m = h;
      }
    } else m = await this.jsm.direct.getMessage(this.stream, { last_by_subj: aggregateSubjects(aggregate).all });
    if (!m) return { version: 0, seq: 0, typeSeqs: {}, at, complete: true };
    const head = decodeEvent(m.data, m.subject);
    if (head instanceof VirtError) {
      // A poison message on top: its version is unknown, so fold the aggregate (which skips it) to learn the head.
      await this.load(aggregate);
      const obs = this.#observed.get(aggregateKey(aggregate))!;
      return { ...obs, typeSeqs: { ...obs.typeSeqs } };
    }
    const complete = this.readStrategy === 'subjects';
    return { version: head.version, seq: m.seq, typeSeqs: complete ? typeSeqs : { [head.type]: m.seq }, at, headId: head.id, complete };
  }

  /** Last sequence of each subject the batch writes to that the observation does not know yet (literal lookups: indexed). */
  async #readTypeSeqs(aggregate: AggregateRef, events: readonly AnyEvent[], obs: Observation): Promise<void> {
    const missing = [...new Set(events.map((e) => e.type))].filter((t) => obs.typeSeqs[t] === undefined);
    if (obs.complete) {
      for (const t of missing) obs.typeSeqs[t] = 0;
      return;
    }
    const subj = aggregateSubjects(aggregate);
    const found = await Promise.all(missing.map((t) => this.jsm.direct.getMessage(this.stream, { last_by_subj: subj.event(t) })));
    missing.forEach((t, i) => (obs.typeSeqs[t] = found[i]?.seq ?? 0));
  }

  async #publish(aggregate: AggregateRef, event: AnyEvent, obs: Observation, expectedVersion: number, appended: number): Promise<PubAck> {
    const wildcard = this.mode === 'subject-wildcard';
    const sentAt = Date.now();
    if (!wildcard && sentAt - obs.at >= this.duplicateWindowMs / 2) {
      throw new ConcurrencyError(aggregate, expectedVersion, 'stale-read', { appended });
    }
    const expect = wildcard
      ? { lastSubjectSequence: obs.seq, lastSubjectSequenceSubject: aggregateSubjects(aggregate).all }
      : { lastSubjectSequence: obs.typeSeqs[event.type] ?? 0 };
    const body = encodeEvent(event);
    let ack: PubAck;
    for (let msgID = versionMsgId(aggregate, event.version), hop = 0; ; hop++) {
      try {
        ack = await this.js.publish(event.subject, body, { msgID, expect, timeout: this.#opts.timeoutMs ?? 5_000 });
      } catch (e) {
        if (e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) {
          throw new ConcurrencyError(aggregate, expectedVersion, 'sequence', { appended, cause: e });
        }
        throw e;
      }
      if (!ack.duplicate) break;
      const holder = await this.#msgIdHolder(ack.seq, aggregate, event);
      if (holder === 'own') break;
      if (holder === 'rival' || hop >= MAX_MSG_ID_HOPS) throw new ConcurrencyError(aggregate, expectedVersion, 'duplicate', { appended });
      // Poison took the version's msg id (a publisher can set any Nats-Msg-Id). Every honest writer of
      // this version meets the same poison at the same sequence, so they all move to the same next id
      // and still collide with each other there.
      msgID = `${msgID}~${ack.seq}`;
    }
    obs.version = event.version;
    obs.seq = ack.seq;
    obs.typeSeqs[event.type] = ack.seq;
    obs.at = sentAt;
    obs.headId = event.id;
    return ack;
  }

  /**
   * Who holds the msg id a publish was answered `duplicate` for: our own event (a retried publish
   * whose first attempt did land: a success), another writer's event at this version (a conflict),
   * or poison — anything that is not an event of this aggregate at this version (reported).
   */
  async #msgIdHolder(seq: number, aggregate: AggregateRef, event: AnyEvent): Promise<'own' | 'rival' | 'poison'> {
    const m = await this.jsm.direct.getMessage(this.stream, { seq });
    if (!m) return 'rival';
    const stored = decodeEvent(m.data, m.subject);
    if (stored instanceof VirtError) {
      (this.#opts.onPoison ?? logPoison)({ seq, subject: m.subject, error: stored, where: 'append' });
      return 'poison';
    }
    if (stored.id === event.id) return 'own';
    const of = aggregateOf(stored.subject);
    if (of?.kind === aggregate.kind && of.id === aggregate.id && stored.version === event.version) return 'rival';
    (this.#opts.onPoison ?? logPoison)({ seq, subject: m.subject, where: 'append', error: new VirtError('INTERNAL_ERROR', `message ${seq} holds the msg id of ${aggregate.kind} '${aggregate.id}' version ${event.version} but is event ${stored.id} (${stored.type}) version ${stored.version}`, m.subject) });
    return 'poison';
  }

  /**
   * What this store knows of an aggregate's head (from its own loads and
   * appends), as a copy another process can hand to `observe`; undefined when
   * it knows nothing.
   */
  observation(aggregate: AggregateRef): Readonly<ObservationSnapshot> | undefined {
    const o = this.#observed.get(aggregateKey(aggregate));
    if (!o) return undefined;
    return { version: o.version, seq: o.seq, typeSeqs: { ...o.typeSeqs }, at: o.at, ...(o.headId !== undefined ? { headId: o.headId } : {}), complete: o.complete };
  }

  /**
   * Takes an observation of an aggregate from elsewhere (the scheduler hands
   * the agent the one it made with its DomainPlaced), so that an append at
   * its version needs no read. False when refused: malformed, `at` more than a
   * few seconds ahead of this clock, or older than one already held (the
   * higher version wins; at the same version, the later `at`).
   *
   * Why this is safe: it is exactly what the store's own cached observations
   * are, and it is trusted the same way. Every append on it is still checked
   * by the server: the expected last sequence (of the aggregate's wildcard in
   * subject-wildcard mode: exact; of the event's own subject in msg-id mode),
   * and in msg-id mode the msg id `<kind>.<id>@<version>` collides with any
   * other event written at that version since the observation, as long as
   * the observation is younger than half the duplicate window, which
   * #observationFor and #publish enforce on `at` as for any other observation
   * (a future `at` is clamped to now, so skew can only age it). An honest
   * observation that went stale in transit (someone wrote since) costs a
   * ConcurrencyError and a reload, never a second event at a version: the
   * writer's event holds the msg id (and moved the sequences).
   *
   * What it cannot do is tell a true observation from an invented one: in
   * msg-id mode an observation claiming a version *above* the real head, with
   * the right sequence for the event's own subject, would let an append leave
   * a gap in the versions (loads report it as an anomaly). So only take
   * observations from a writer trusted to write the aggregate anyway (the
   * scheduler, over the authenticated command subject), never from users.
   */
  observe(aggregate: AggregateRef, obs: ObservationSnapshot): boolean {
    const now = Date.now();
    if (typeof obs !== 'object' || obs === null || Array.isArray(obs) || observationProblem(obs as unknown as Record<string, unknown>)) return false;
    if (obs.at > now + OBSERVE_MAX_FUTURE_MS) return false;
    // A head at version v > 0 is a message; version 0 with a sequence is poison alone (a load can see that).
    if (obs.version > 0 && obs.seq === 0) return false;
    const key = aggregateKey(aggregate);
    const at = Math.min(obs.at, now);
    const held = this.#observed.get(key);
    if (held && (held.version > obs.version || (held.version === obs.version && held.at >= at))) return false;
    this.#observe(key, { version: obs.version, seq: obs.seq, typeSeqs: { ...obs.typeSeqs }, at, headId: obs.headId, complete: obs.complete });
    return true;
  }

  #observe(key: string, obs: Observation): void {
    this.#observed.delete(key);
    this.#observed.set(key, obs);
    if (this.#observed.size > MAX_OBSERVATIONS) this.#observed.delete(this.#observed.keys().next().value!);
  }

  // ------------------------------------------------------------------ load

  /**
   * An aggregate's state: snapshot + the events after it. A host's state is
   * folded from its own events (its facts); which domains occupy it is the
   * hosts projection's to say, from the domain events.
   */
  async load<K extends AggregateKind>(aggregate: AggregateRef & { readonly kind: K }, opts: { readonly snapshot?: boolean } = {}): Promise<Loaded<K>> {
    const snap = opts.snapshot === false ? undefined : await this.#readSnapshot(aggregate);
    const reduce = (aggregate.kind === 'domain' ? reduceDomain : reduceHost) as (s: StateOf<K> | undefined, e: AnyEvent) => StateOf<K> | undefined;
    for (let attempt = 1; ; attempt++) {
      const at = Date.now();
      const read = await this.#read(aggregate, (snap?.seq ?? 0) + 1);
      let state = snap?.state as StateOf<K> | undefined;
      const f = this.#fold(read, snap, (e) => void (state = reduce(state, e)), 'load', this.readStrategy === 'subjects' && attempt < 3);
      if (!f) continue;
      this.#observe(aggregateKey(aggregate), { version: f.version, seq: f.seq, typeSeqs: f.typeSeqs, at, headId: f.headId, complete: true });
      const every = this.#opts.snapshotEvery ?? 100;
      if (every > 0 && read.messages.length >= every && state !== undefined) {
        this.#inBackground(this.#writeSnapshot({ schema: this.#schema, kind: aggregate.kind, id: aggregate.id, version: f.version, seq: f.seq, typeSeqs: f.typeSeqs, state }));
      }
      return { aggregate, state, version: f.version, seq: f.seq, replayed: read.messages.length, fromSnapshot: snap !== undefined };
    }
  }

  /** Every event of an aggregate from a stream sequence on, in order, with its sequence (for history and asOf). */
  async events(aggregate: AggregateRef, fromSeq = 1): Promise<Array<{ seq: number; event: AnyEvent }>> {
    for (let attempt = 1; ; attempt++) {
      const read = await this.#read(aggregate, fromSeq);
      const out: Array<{ seq: number; event: AnyEvent }> = [];
      // From the start the versions are checked; from a sequence on, they start wherever they do.
      const from = fromSeq <= 1 ? undefined : { version: -1, seq: 0, typeSeqs: {} };
      const f = this.#fold(read, from, (event, seq) => void out.push({ seq, event }), 'events', this.readStrategy === 'subjects' && attempt < 3);
      if (f) return out;
    }
  }

  #read(aggregate: AggregateRef, fromSeq: number): Promise<AggregateMessages> {
    return this.readStrategy === 'subjects'
      ? readBySubjects(this.jsm, this.stream, aggregate, fromSeq)
      : readByConsumer(this.nc, this.jsm, this.stream, aggregate, fromSeq);
  }

  /**
   * Folds messages read after `from` (a snapshot, or nothing). Poison is
   * reported and skipped. An event whose version does not follow is a read
   * that raced a writer (retry: undefined) or, for good, an anomaly reported
   * like poison.
   */
  #fold(
    read: AggregateMessages,
    from: { version: number; seq: number; typeSeqs: Record<string, number> } | undefined,
    each: (e: AnyEvent, seq: number) => void,
    where: string,
    retry: boolean,
  ): { version: number; seq: number; typeSeqs: Record<string, number>; headId: string | undefined } | undefined {
    const onPoison = this.#opts.onPoison ?? logPoison;
    let version = from?.version ?? 0;
    let seq = from?.seq ?? 0;
    let headId: string | undefined;
    const typeSeqs: Record<string, number> = { ...from?.typeSeqs };
    for (const m of read.messages) {
      // The server's own-subject check counts every message on the subject, poison or not.
      typeSeqs[m.subject.slice(m.subject.lastIndexOf('.') + 1)] = m.seq;
      seq = Math.max(seq, m.seq);
      const e = decodeEvent(m.data, m.subject);
      if (e instanceof VirtError) {
        onPoison({ seq: m.seq, subject: m.subject, error: e, where });
        continue;
      }
      if (e.version === 1 && !CREATION_TYPES.has(e.type)) {
        // Well-formed but impossible: an aggregate begins with its creation event (append enforces it).
        onPoison({ seq: m.seq, subject: m.subject, where, error: new VirtError('INTERNAL_ERROR', `event ${e.id} (${e.type}) has version 1, which only a creation event can have`, m.subject) });
        continue;
      }
      if (version >= 0 && e.version !== version + 1) {
        if (retry) return undefined;
        onPoison({ seq: m.seq, subject: m.subject, where, error: new VirtError('INTERNAL_ERROR', `event ${e.id} has version ${e.version} after version ${version}`, m.subject) });
        continue;
      }
      each(e, m.seq);
      version = e.version;
      headId = e.id;
    }
    if (read.typeSeqs) Object.assign(typeSeqs, read.typeSeqs);
    return { version, seq, typeSeqs, headId };
  }

  get #schema(): number {
    return this.#opts.snapshotSchema ?? 1;
  }

  async #readSnapshot(aggregate: AggregateRef): Promise<(Snapshot & { revision: number }) | undefined> {
    const entry = await this.#snapshots.get(aggregateKey(aggregate));
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    try {
      const s = JSON.parse(textDecoder.decode(entry.value)) as Snapshot;
      const ok = s.schema === this.#schema && s.kind === aggregate.kind && s.id === aggregate.id && Number.isSafeInteger(s.seq) && Number.isSafeInteger(s.version);
      return ok ? { ...s, revision: entry.revision } : undefined;
    } catch {
      return undefined;
    }
  }

  async #writeSnapshot(s: Snapshot): Promise<void> {
    const key = aggregateKey(s);
    const body = textEncoder.encode(JSON.stringify(s));
    // Compare-and-set on the bucket's revision: of two loaders racing, the older snapshot never replaces the newer.
    const prior = await this.#readSnapshot(s);
    if (prior && prior.seq >= s.seq) return;
    const entry = prior ? undefined : await this.#snapshots.get(key);
    try {
      if (prior) await this.#snapshots.update(key, body, prior.revision);
      else if (entry) await this.#snapshots.update(key, body, entry.revision);
      else await this.#snapshots.create(key, body);
    } catch (e) {
      if (!(e instanceof Error && /wrong last sequence|key exists/i.test(e.message))) throw e;
    }
  }

  #inBackground(p: Promise<unknown>): void {
    const tracked = p.catch((e) => (this.#opts.onError ?? ((err) => console.warn('virtflow: event store:', err)))(e)).finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  /** Waits for background work (snapshot writes) to finish. */
  async settle(): Promise<void> {
    while (this.#background.size) await Promise.all([...this.#background]);
  }

  // ---------------------------------------------------------------- update

  /**
   * load → decide → append, again on a ConcurrencyError: the loop every
   * writer needs. `decide` sees the current state and returns the events to
   * append (none: nothing to do); it may throw to refuse.
   */
  async update<K extends AggregateKind>(
    aggregate: AggregateRef & { readonly kind: K },
    decide: (loaded: Loaded<K>) => readonly EventDraft[] | Promise<readonly EventDraft[]>,
    opts: UpdateOptions = {},
  ): Promise<AppendResult & { readonly events: readonly AnyEvent[]; readonly attempts: number }> {
    const attempts = opts.attempts ?? 10;
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.load(aggregate);
      const drafts = await decide(loaded);
      if (drafts.length === 0) return { version: loaded.version, seqs: [], events: [], attempts: attempt };
      const events = this.makeEvents(drafts, loaded.version, opts);
      try {
        const r = await this.append(aggregate, events, loaded.version);
        return { ...r, events, attempts: attempt };
      } catch (e) {
        if (!(e instanceof ConcurrencyError) || attempt >= attempts) throw e;
        // Back off a little, with jitter, so a crowd of writers does not retry in lockstep.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
      }
    }
  }

  /** Envelopes for drafts appended after `version`. */
  makeEvents(drafts: readonly EventDraft[], version: number, opts: { correlationId?: string; causationId?: string } = {}): AnyEvent[] {
    const now = this.#opts.now ?? (() => new Date());
    const newId = this.#opts.newId ?? randomUUID;
    const correlationId = opts.correlationId ?? newId();
    return drafts.map((d, i) => makeEvent(d.type, d.data as never, { aggregateVersion: version + i + 1, correlationId, causationId: opts.causationId ?? correlationId, now, newId }) as AnyEvent);
  }

  // ------------------------------------------------------------- subscribe

  /**
   * The events on `filter` (a subject wildcard from the model's `subjects`) as
   * an async iterator; with `durable`, a named consumer that resumes where the
   * last subscriber under that name stopped. See EventSubscription.
   */
  subscribe(filter: string, opts: SubscribeOptions = {}): EventSubscription {
    return new EventSubscription(this, filter, { onPoison: this.#opts.onPoison, ...opts });
  }

  // ----------------------------------------------------------- name claims

  /**
   * Reserves a domain name for a uuid, cluster-wide: a claim message on the
   * name's own subject, published with expected-last-subject-sequence 0 (never
   * claimed) or the sequence of its last release. The server decides which of
   * two racing claims lands; nothing is checked and then written. Claiming a
   * name the uuid already holds succeeds. Throws NameTakenError otherwise.
   */
  /** Every version of a domain's definition, oldest first (libvirt keeps only the latest). */
  async history(uuid: string): Promise<readonly DefinitionVersion[]> {
    const state = foldDomain((await this.events({ kind: 'domain', id: uuid })).map((e) => e.event));
    return state ? historyOf(state) : [];
  }

  /** The domain as it stood at `time`; undefined when it did not exist yet. */
  async asOf(uuid: string, time: Date | string): Promise<DomainState | undefined> {
    return asOfEvents((await this.events({ kind: 'domain', id: uuid })).map((e) => e.event), time, uuid);
  }

  /** A structural diff between two versions of a domain's definition. */
  async diff(uuid: string, versionA: number, versionB: number): Promise<DefinitionChange[]> {
    const state = foldDomain((await this.events({ kind: 'domain', id: uuid })).map((e) => e.event));
    if (!state) throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`, `/domain/${uuid}`);
    return diffVersions(state, versionA, versionB);
  }

  async claimName(name: string, uuid: string): Promise<number> {
    const subject = subjects.nameClaim(name);
    for (let attempt = 0; attempt < 5; attempt++) {
      const last = await this.#lastClaim(subject);
      if (last?.op === 'claim') {
        if (last.uuid === uuid) return last.seq;
        throw new NameTakenError(name, last.uuid, subject);
      }
      try {
        const ack = await this.js.publish(subject, claimBody('claim', name, uuid), { expect: { lastSubjectSequence: last?.seq ?? 0 } });
        return ack.seq;
      } catch (e) {
        if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamWrongLastSequence)) throw e;
        // Someone else claimed or released it in between: read again and report who.
      }
    }
    throw new VirtError('OPERATION_TIMEOUT', `claim of domain name '${name}' kept racing with other writers`, subject);
  }

  /** Frees a name the uuid holds (after its domain is undefined). False when the uuid does not hold it. */
  async releaseName(name: string, uuid: string): Promise<boolean> {
    const subject = subjects.nameClaim(name);
    for (let attempt = 0; attempt < 5; attempt++) {
      const last = await this.#lastClaim(subject);
      if (last?.op !== 'claim' || last.uuid !== uuid) return false;
      try {
        await this.js.publish(subject, claimBody('release', name, uuid), { expect: { lastSubjectSequence: last.seq } });
        return true;
      } catch (e) {
        if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamWrongLastSequence)) throw e;
      }
    }
    throw new VirtError('OPERATION_TIMEOUT', `release of domain name '${name}' kept racing with other writers`, subject);
  }

  /** The uuid holding a name, if any. */
  async nameOwner(name: string): Promise<string | undefined> {
    const last = await this.#lastClaim(subjects.nameClaim(name));
    return last?.op === 'claim' ? last.uuid : undefined;
  }

  async #lastClaim(subject: string): Promise<(NameClaim & { seq: number }) | undefined> {
    const m = await this.jsm.direct.getMessage(this.stream, { last_by_subj: subject });
    if (!m) return undefined;
    const c = parseClaim(m.data);
    if (!c) throw new VirtError('INTERNAL_ERROR', `message ${m.seq} on ${subject} is not a name claim`, subject);
    return { ...c, seq: m.seq };
  }

  /** Waits for background work; the connection is the caller's to close. */
  async close(): Promise<void> {
    await this.settle();
  }
}

/** The record on a name's claim subject. */
export interface NameClaim {
  readonly op: 'claim' | 'release';
  readonly name: string;
  readonly uuid: string;
}

function claimBody(op: NameClaim['op'], name: string, uuid: string): Uint8Array {
  return textEncoder.encode(JSON.stringify({ op, name, uuid, at: new Date().toISOString() }));
}

export function parseClaim(data: Uint8Array): NameClaim | undefined {
  try {
    const c = JSON.parse(textDecoder.decode(data)) as Partial<NameClaim>;
    return (c.op === 'claim' || c.op === 'release') && typeof c.name === 'string' && typeof c.uuid === 'string' ? (c as NameClaim) : undefined;
  } catch {
    return undefined;
  }
}
