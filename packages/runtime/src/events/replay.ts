/**
 * Reading a slice of the stream in order, up to its current end: an
 * ephemeral, unacknowledged pull consumer on a subject filter, drained with
 * `no_wait` pulls. A no_wait pull returns what is there now and ends with a
 * 404/408 status instead of waiting, so a replay ends at the head as the
 * server saw it — a point-in-time read, which is what `load` needs to know the
 * version it observed — and never waits for events that do not exist.
 *
 * Why not the consumer's num_pending as the end: nats-server 2.9 estimates it
 * for a wildcard filter starting mid-stream, and the estimate can be off by a
 * few messages either way (seen in this repository's tests). And why not
 * nats.js's fetch/consume: neither offers no_wait, and both wrap every message
 * in objects a million-event rebuild does not need.
 */
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, nanos, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { VirtError } from '@virtflow/model';

export interface ReplayOptions {
  readonly stream: string;
  readonly filter: string;
  /** First stream sequence to read (1: everything). */
  readonly fromSeq: number;
  /** Only the last message of each subject (a KV bucket's current values). */
  readonly lastPerSubject?: boolean;
  /** Messages per pull (4096). */
  readonly batch?: number;
  /** Give up when nothing arrives for this long (10 s). */
  readonly idleTimeoutMs?: number;
}

/** One stored message, as replay hands it over. */
export interface Replayed {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

/** Calls `each` for every message from `fromSeq` to the filter's current end, in order; returns how many. */
export async function replay(nc: NatsConnection, jsm: JetStreamManager, o: ReplayOptions, each: (m: Replayed) => void): Promise<number> {
  let total = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return total + (await replayOnce(nc, jsm, o, each));
    } catch (e) {
      // A gap (a message lost on a reconnect) restarts the read where it broke off.
      if (!(e instanceof GapError) || attempt >= 3 || o.lastPerSubject) throw e;
      total += e.delivered;
      o = { ...o, fromSeq: e.nextSeq };
    }
  }
}

class GapError extends Error {
  constructor(readonly nextSeq: number, readonly delivered: number) {
    super(`replay: delivery gap before stream sequence ${nextSeq}`);
  }
}

/** Stream and delivery sequence from a JetStream ack subject (old and new token layouts). */
function sequences(reply: string): { seq: number; dseq: number } {
  const t = reply.split('.');
  const at = t.length === 9 ? 5 : 7;
  if (t.length < 9 || t[0] !== '$JS' || t[1] !== 'ACK') throw new VirtError('INTERNAL_ERROR', `not a JetStream delivery: '${reply}'`);
  return { seq: Number(t[at]), dseq: Number(t[at + 1]) };
}

async function replayOnce(nc: NatsConnection, jsm: JetStreamManager, o: ReplayOptions, each: (m: Replayed) => void): Promise<number> {
  const ci = await jsm.consumers.add(o.stream, {
    filter_subject: o.filter,
    ...(o.lastPerSubject ? { deliver_policy: DeliverPolicy.LastPerSubject } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, o.fromSeq) }),
    ack_policy: AckPolicy.None,
    mem_storage: true,
    num_replicas: 1,
    // Cleaned up by the server should this process die before deleting it.
    inactive_threshold: nanos(60_000),
  });
  const batch = o.batch ?? 4096;
  const next = `$JS.API.CONSUMER.MSG.NEXT.${o.stream}.${ci.name}`;
  const request = new TextEncoder().encode(JSON.stringify({ batch, no_wait: true }));
  const inbox = createInbox();
  try {
    return await new Promise<number>((resolve, reject) => {
      /**
       * Messages still owed to the pull in flight. One pull at a time: 2.9 answers
       * no_wait only when the request arrives, so a second pull queued behind a
       * first would wait for ever once the stream runs dry.
       */
      let owed = 0;
      let count = 0;
      let lastSeq = 0;
      let timer: NodeJS.Timeout | undefined;
      const fail = (e: unknown) => {
        clearTimeout(timer);
        sub.unsubscribe();
        reject(e);
      };
      const idle = () => {
        clearTimeout(timer);
        timer = setTimeout(() => fail(new VirtError('OPERATION_TIMEOUT', `replay of ${o.filter} stalled after ${count} messages`)), o.idleTimeoutMs ?? 10_000);
      };
      const pull = () => {
        owed = batch;
        nc.publish(next, request, { reply: inbox });
      };
      const end = () => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(count);
      };
      const sub = nc.subscribe(inbox, {
        callback: (err: Error | null, m: Msg) => {
          if (err) return fail(err);
          idle();
          if (!m.reply) {
            // A status: 404 (nothing now) or 408 (fewer than asked) ends this pull and the replay.
            const code = m.headers?.code ?? 0;
            if (code !== 404 && code !== 408) return fail(new VirtError('INTERNAL_ERROR', `replay of ${o.filter}: server said ${code} ${m.headers?.description ?? ''}`));
            return end();
          }
          let s: { seq: number; dseq: number };
          try {
            s = sequences(m.reply);
          } catch (e) {
            return fail(e);
          }
          if (s.dseq !== count + 1) return fail(new GapError(lastSeq === 0 ? o.fromSeq : lastSeq + 1, count));
          count++;
          lastSeq = s.seq;
          try {
            each({ seq: s.seq, subject: m.subject, data: m.data, headers: m.headers });
          } catch (e) {
            return fail(e);
          }
          if (--owed === 0) pull();
        },
      });
      idle();
      pull();
    });
  } finally {
    jsm.consumers.delete(o.stream, ci.name).catch(() => undefined);
  }
}
