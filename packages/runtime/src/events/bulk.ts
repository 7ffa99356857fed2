/**
 * Bulk replay for rebuilds: a whole stream (or a large slice) as fast as the
 * server can push it. An ephemeral push consumer with flow control delivers to
 * one inbox subscription; no acknowledgements, no per-message objects beyond
 * the connection's own, headers left unparsed. Gaps (a delivery sequence
 * skipped) fail the replay, which the caller restarts.
 *
 * It ends at `untilSeq` (the stream's last sequence when the rebuild began),
 * or when the server reports the consumer idle (nothing more to send).
 */
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, nanos, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { VirtError } from '@virtflow/model';

export interface BulkOptions {
  readonly stream: string;
  readonly filter: string;
  readonly fromSeq: number;
  /** Last stream sequence wanted. */
  readonly untilSeq: number;
  /** Give up when nothing arrives for this long (15 s). */
  readonly idleTimeoutMs?: number;
}

/**
 * Stream and delivery sequence from a JetStream ack subject, read from its end:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` (old) or
 * `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>.<token>` (2.10+).
 * Hot: a million calls per rebuild, so no split().
 */
export function deliverySequences(reply: string): { seq: number; dseq: number } | undefined {
  if (!reply.startsWith('$JS.ACK.')) return undefined;
  let dots = 0;
  for (let i = 8; i < reply.length; i++) if (reply.charCodeAt(i) === 46) dots++;
  // Tokens after '$JS.ACK.': 7 (old) or 10 (new); sseq is the 4th or 6th of them.
  const skip = dots === 6 ? 3 : 5;
  let at = 8;
  for (let n = 0; n < skip; n++) at = reply.indexOf('.', at) + 1;
  const mid = reply.indexOf('.', at);
  const end = reply.indexOf('.', mid + 1);
  return { seq: Number(reply.slice(at, mid)), dseq: Number(reply.slice(mid + 1, end)) };
}

/** Calls `each(seq, subject, data)` for every message from fromSeq to untilSeq, in order; returns the last sequence seen. */
export async function bulkReplay(nc: NatsConnection, jsm: JetStreamManager, o: BulkOptions, each: (seq: number, subject: string, data: Uint8Array) => void): Promise<number> {
  if (o.untilSeq < o.fromSeq) return o.fromSeq - 1;
  const inbox = createInbox();
  let lastSeq = o.fromSeq - 1;
  let dseq = 0;
  let name = '';
  try {
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      /** Idle heartbeats in a row, not stalled on flow control: the consumer has nothing more. */
      let idleBeats = 0;
      const finish = (e?: unknown) => {
        if (done) return;
        done = true;
        clearInterval(timer);
        sub.unsubscribe();
        if (e) reject(e);
        else resolve();
      };
      // A watchdog, not a timer reset per message (a million resets cost more than the messages).
      let heard = 0;
      let checked = -1;
      const idle = () => void heard++;
      timer = setInterval(() => {
        if (heard === checked) finish(new VirtError('OPERATION_TIMEOUT', `bulk replay of ${o.filter} stalled at stream sequence ${lastSeq}`));
        checked = heard;
      }, o.idleTimeoutMs ?? 15_000);
      const sub = nc.subscribe(inbox, {
        callback: (err: Error | null, m: Msg) => {
          if (err) return finish(err);
          if (done) return;
          idle();
          const s = m.reply ? deliverySequences(m.reply) : undefined;
          if (!s) {
            // Status 100: a flow-control request (answer it to get more), or an idle heartbeat. A
            // heartbeat naming a stalled flow control wants that answered; one without means the
            // consumer has nothing left to send (the last message wanted was deleted, say).
            if (m.reply) m.respond();
            else if (m.headers?.code === 100) {
              const stalled = m.headers.get('Nats-Consumer-Stalled');
              if (stalled) nc.publish(stalled);
              else if (Number(m.headers.get('Nats-Last-Stream') || 0) >= o.untilSeq || ++idleBeats >= 3) finish();
            }
            return;
          }
          idleBeats = 0;
          if (s.dseq !== ++dseq) return finish(new VirtError('INTERNAL_ERROR', `bulk replay: delivery ${s.dseq} after ${dseq - 1} (a message was lost)`));
          lastSeq = s.seq;
          try {
            each(s.seq, m.subject, m.data);
          } catch (e) {
            return finish(e);
          }
          if (s.seq >= o.untilSeq) finish();
        },
      });
      nc.flush()
        .then(() => jsm.consumers.add(o.stream, {
          filter_subject: o.filter,
          deliver_subject: inbox,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: Math.max(1, o.fromSeq),
          ack_policy: AckPolicy.None,
          flow_control: true,
          idle_heartbeat: nanos(1_000),
          mem_storage: true,
          num_replicas: 1,
          inactive_threshold: nanos(60_000),
        }))
        .then((ci) => void (name = ci.name), finish);
    });
    return lastSeq;
  } finally {
    // The consumer is named once its create returns; the server drops it after inactive_threshold otherwise.
    const drop = () => name && jsm.consumers.delete(o.stream, name).catch(() => undefined);
    if (name) void drop();
    else setTimeout(drop, 100);
  }
}
