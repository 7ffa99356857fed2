/**
 * Reading one aggregate's messages, two ways.
 *
 * - `consumer`: an ephemeral consumer on the aggregate's wildcard
 *   (`virt.evt.domain.<uuid>.*`), drained to its end (replay.ts). One ordered
 *   pass; what nats-server 2.11 (and 2.10's subject tree) answers from an index.
 * - `subjects`: the aggregate's literal subjects, one per event type the model
 *   knows. nats-server 2.9 answers a wildcard by scanning the stream's blocks
 *   (a load took ~75 ms at 60,000 messages and grows with the stream) but
 *   indexes literal subjects, so: the last message of each type at once (which
 *   also gives the head and the per-subject sequences the msg-id check needs),
 *   then each type's messages after `fromSeq` with direct gets, merged by
 *   sequence. Types are read concurrently, so a writer appending meanwhile can
 *   show up in one type and not yet in another: the caller checks that the
 *   versions it folds are consecutive and reads again if not. Messages on
 *   subjects of no known type (poison) are not seen, which changes nothing in
 *   msg-id mode: they fold into nothing, and its sequence checks are per known
 *   subject. (The subject-wildcard check counts them: that mode reads with the
 *   consumer unless told otherwise.)
 */
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { DOMAIN_EVENT_TYPES, HOST_EVENT_TYPES, type EventType } from '@virtflow/model';
import { aggregateSubjects, type AggregateRef } from './aggregate.ts';
import { replay } from './replay.ts';

export type ReadStrategy = 'consumer' | 'subjects';

export interface RawMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
}

export interface AggregateMessages {
  /** In stream order. */
  readonly messages: readonly RawMessage[];
  /** Last sequence of each of the aggregate's known subjects (by type; 0: none), when the strategy learns them. */
  readonly typeSeqs?: Readonly<Record<string, number>>;
}

export const typesOf = (kind: AggregateRef['kind']): readonly EventType[] => (kind === 'domain' ? DOMAIN_EVENT_TYPES : HOST_EVENT_TYPES);

export async function readByConsumer(nc: NatsConnection, jsm: JetStreamManager, stream: string, aggregate: AggregateRef, fromSeq: number): Promise<AggregateMessages> {
  const messages: RawMessage[] = [];
  await replay(nc, jsm, { stream, filter: aggregateSubjects(aggregate).all, fromSeq }, (m) => messages.push({ seq: m.seq, subject: m.subject, data: m.data.slice() }));
  return { messages };
}

/** The last message on each of the aggregate's literal subjects. */
export async function subjectHeads(jsm: JetStreamManager, stream: string, aggregate: AggregateRef): Promise<Map<EventType, StoredMsg>> {
  const subj = aggregateSubjects(aggregate);
  const types = typesOf(aggregate.kind);
  const found = await Promise.all(types.map((t) => jsm.direct.getMessage(stream, { last_by_subj: subj.event(t) })));
  const out = new Map<EventType, StoredMsg>();
  types.forEach((t, i) => {
    const m = found[i];
    if (m) out.set(t, m);
  });
  return out;
}

export async function readBySubjects(jsm: JetStreamManager, stream: string, aggregate: AggregateRef, fromSeq: number): Promise<AggregateMessages> {
  const heads = await subjectHeads(jsm, stream, aggregate);
  const subj = aggregateSubjects(aggregate);
  const typeSeqs: Record<string, number> = {};
  for (const t of typesOf(aggregate.kind)) typeSeqs[t] = heads.get(t)?.seq ?? 0;
  const lists = await Promise.all([...heads].map(async ([type, last]) => {
    const out: RawMessage[] = [];
    if (last.seq < fromSeq) return out;
    for (let cursor = fromSeq; ;) {
      const m = cursor === last.seq ? last : await jsm.direct.getMessage(stream, { seq: cursor, next_by_subj: subj.event(type) });
      if (!m || m.seq > last.seq) break;
      out.push({ seq: m.seq, subject: m.subject, data: m.data });
      if (m.seq === last.seq) break;
      cursor = m.seq + 1;
    }
    return out;
  }));
  return { messages: lists.flat().sort((a, b) => a.seq - b.seq), typeSeqs };
}
