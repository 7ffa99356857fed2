/**
 * Subscriptions: the stream's events as an async iterator.
 *
 *   const sub = store.subscribe(subjects.allDomains(), { durable: 'scheduler', from: 'new' });
 *   for await (const { event, seq } of sub) {
 *     await handle(event);          // acknowledged when the loop asks for the next one
 *     if (done) sub.stop();         // ends after this event, which counts as handled
 *   }
 *
 * With `durable`, a named JetStream consumer keeps the position: a subscriber
 * that stops and a later one under the same name together see every event
 * exactly once, in order. An event is acknowledged only after its handler
 * returned (the loop asked for the next); `break` or a throw in the loop body
 * leaves the current event unacknowledged, so the next subscriber gets it
 * again — call `delivery.ack()` first to break after handling it, or `stop()`.
 *
 * Order across a resume: messages fetched ahead but never handled stay
 * "pending" on the server until their ack wait runs out and would then come
 * back after newer ones. So a subscriber that finds the durable with pending
 * messages recreates it at the acknowledged floor + 1: everything not
 * acknowledged is delivered again, in order. One subscriber per durable name
 * at a time (a second one would reset the first).
 *
 * Pulls expire after `pullExpiresMs` (2 s), not nats.js's 30 s: the client
 * learns that a pull was lost only from missed idle heartbeats (half the
 * expiry, two of them), and one is lost when a nats-server restarts under
 * load (the ordered consumer is recreated on the reconnect and its first
 * pull goes unanswered while JetStream comes back). With 30 s a follower sat
 * 30-45 s behind the log after such a restart, every time in
 * test/scheduler/nats-restart.test.ts (issue 9: the scheduler's inventory
 * froze, and its hosts filled up with its own claims); with 2 s it catches
 * up within a few seconds. The cost: an idle subscription renews its pull
 * every 2 s and hears a heartbeat every second.
 */
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type ConsumerConfig, type ConsumerInfo, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { VirtError, decodeEvent, type AnyEvent } from '@virtflow/model';
import { logPoison, type PoisonHandler } from './codec.ts';
import type { EventStore } from './store.ts';

export interface SubscribeOptions {
  /** Where a new subscription starts: a stream sequence, a time, 'all' or 'new' (default). Ignored when the durable exists. */
  readonly from?: number | Date | 'all' | 'new';
  /** Consumer name: the subscription survives its subscriber. */
  readonly durable?: string;
  readonly onPoison?: PoisonHandler | undefined;
  /** Messages fetched ahead (256). */
  readonly batch?: number;
  /** How long a handler may take before the server offers the event again (5 min). */
  readonly ackWaitMs?: number;
  /** How long a pull waits on the server; a lost pull is noticed within about 1.5 times this (2 s; at least 1 s). */
  readonly pullExpiresMs?: number;
}

export const DEFAULT_PULL_EXPIRES_MS = 2_000;

export interface Delivery {
  readonly event: AnyEvent;
  /** Stream sequence. */
  readonly seq: number;
  readonly subject: string;
  /** How many times the server has delivered it (1 unless redelivered). */
  readonly deliveries: number;
  /** Acknowledge now (it is acknowledged anyway when the loop asks for the next one). */
  ack(): void;
}

export class EventSubscription implements AsyncIterable<Delivery> {
  readonly #store: EventStore;
  readonly filter: string;
  readonly #opts: SubscribeOptions;
  #stopped = false;
  #messages: ConsumerMessages | undefined;
  /** Highest stream sequence handled (acknowledged or skipped). */
  #handled = 0;
  #lastAcked: JsMsg | undefined;

  constructor(store: EventStore, filter: string, opts: SubscribeOptions) {
    this.#store = store;
    this.filter = filter;
    this.#opts = opts;
  }

  get name(): string {
    return this.#opts.durable ?? '(ephemeral)';
  }

  /** Ends the iteration once the current event's handler returns; that event is acknowledged. */
  stop(): void {
    this.#stopped = true;
    // Wakes an iterator waiting for a message that may never come.
    if (!this.#inHandler) this.#messages?.stop();
  }

  #inHandler = false;

  async *[Symbol.asyncIterator](): AsyncIterator<Delivery> {
    if (this.#stopped) return;
    const messages = (this.#messages = await this.#open());
    const onPoison = this.#opts.onPoison ?? logPoison;
    const durable = this.#opts.durable !== undefined;
    try {
      for await (const m of messages) {
        if (this.#stopped) break;
        const seq = m.seq;
        if (seq <= this.#handled) {
          // A redelivery of something already handled (its ack wait ran out while it waited in the buffer).
          if (durable) this.#ack(m);
          continue;
        }
        const e = decodeEvent(m.data, m.subject);
        if (e instanceof VirtError) {
          onPoison({ seq, subject: m.subject, error: e, where: `subscription ${this.name}` });
          this.#handled = seq;
          if (durable) this.#ack(m);
          continue;
        }
        let acked = false;
        const ack = () => {
          if (acked || !durable) return;
          acked = true;
          this.#ack(m);
        };
        this.#inHandler = true;
        yield { event: e, seq, subject: m.subject, deliveries: m.info.deliveryCount, ack };
        this.#inHandler = false;
        // The loop asked for the next event: this one's handler returned.
        this.#handled = seq;
        ack();
        if (this.#stopped) break;
      }
    } finally {
      this.#inHandler = false;
      messages.stop();
      if (durable) await this.#flushAcks();
    }
  }

  #ack(m: JsMsg): void {
    m.ack();
    this.#lastAcked = m;
  }

  /** Makes sure the server has applied our acks before a resumed subscriber reads the floor. */
  async #flushAcks(): Promise<void> {
    const last = this.#lastAcked;
    if (!last) return;
    try {
      await this.#store.nc.flush();
      const deadline = Date.now() + 2_000;
      while (Date.now() < deadline) {
        const ci = await this.#store.jsm.consumers.info(this.#store.stream, this.#opts.durable!);
        if (ci.ack_floor.stream_seq >= last.seq) return;
        await new Promise((r) => setTimeout(r, 5));
      }
    } catch {
      // The connection is going away: the next subscriber resumes from the floor the server has.
    }
  }

  async #open(): Promise<ConsumerMessages> {
    const { js } = this.#store;
    // idle_heartbeat is half of expires (nats.js's default), so a lost pull shows within ~1.5 expiries.
    const pull = { max_messages: this.#opts.batch ?? 256, expires: Math.max(1_000, this.#opts.pullExpiresMs ?? DEFAULT_PULL_EXPIRES_MS) };
    if (this.#opts.durable === undefined) {
      const c = await js.consumers.get(this.#store.stream, { filter_subjects: this.filter, ...startOf(this.#opts.from) });
      return c.consume(pull);
    }
    const ci = await this.#durable(this.#opts.durable);
    this.#handled = ci.ack_floor.stream_seq;
    const c = await js.consumers.get(this.#store.stream, ci.name);
    return c.consume(pull);
  }

  /** The durable consumer, created on first use, reset to its ack floor when it has messages in flight. */
  async #durable(name: string): Promise<ConsumerInfo> {
    const { jsm, stream } = this.#store;
    const base: Partial<ConsumerConfig> = {
      durable_name: name,
      filter_subject: this.filter,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.#opts.ackWaitMs ?? 5 * 60_000),
      max_ack_pending: Math.max(1_000, (this.#opts.batch ?? 256) * 4),
    };
    let ci: ConsumerInfo;
    try {
      ci = await jsm.consumers.info(stream, name);
    } catch (e) {
      if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.ConsumerNotFound)) throw e;
      return jsm.consumers.add(stream, { ...base, ...startOf(this.#opts.from) });
    }
    if (ci.config.filter_subject !== this.filter) {
      throw new VirtError('INVALID_ARG', `durable subscription '${name}' follows '${ci.config.filter_subject ?? ''}', not '${this.filter}'`, name);
    }
    if (ci.num_ack_pending === 0) return ci;
    await jsm.consumers.delete(stream, name);
    return jsm.consumers.add(stream, { ...base, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: ci.ack_floor.stream_seq + 1 });
  }
}

function startOf(from: SubscribeOptions['from']): Pick<ConsumerConfig, 'deliver_policy' | 'opt_start_seq' | 'opt_start_time'> {
  if (from === undefined || from === 'new') return { deliver_policy: DeliverPolicy.New };
  if (from === 'all') return { deliver_policy: DeliverPolicy.All };
  if (from instanceof Date) return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: from.toISOString() };
  if (!Number.isSafeInteger(from) || from < 1) throw new VirtError('INVALID_ARG', `subscription start must be a stream sequence ≥ 1, a Date, 'all' or 'new', not ${String(from)}`);
  return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from };
}
