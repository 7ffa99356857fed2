/**
 * The VIRT_EVENTS stream: its configuration, and what the server it lives on
 * can check for us.
 */
import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { EVENT_STREAM, subjects } from '@virtflow/model';

export interface StreamOptions {
  /** Stream name (VIRT_EVENTS); tests and benchmarks may use their own. */
  readonly stream?: string;
  /** Replicas of the stream in a cluster (1). */
  readonly replicas?: number;
  /**
   * JetStream's duplicate window: how long a Nats-Msg-Id is remembered. The
   * msg-id concurrency mode relies on it (see store.ts); one hour by default.
   * It is the stream's setting, so every process opening the store must agree
   * on it (opening with another value changes the stream's).
   */
  readonly duplicateWindowMs?: number;
}

export const DEFAULT_DUPLICATE_WINDOW_MS = 60 * 60 * 1000;

export function eventStreamConfig(opts: StreamOptions = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: opts.stream ?? EVENT_STREAM,
    subjects: [subjects.all()],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    // Every event is kept: history and rebuilds need all of them.
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    duplicate_window: nanos(opts.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS),
    // Head reads and duplicate checks are direct gets: cheaper than the stream API.
    allow_direct: true,
    num_replicas: opts.replicas ?? 1,
  };
}

/**
 * Creates the stream, or brings an existing one's window and direct access to
 * what we need. Returns the duplicate window the stream has now, in ms.
 */
export async function ensureEventStream(jsm: JetStreamManager, opts: StreamOptions = {}): Promise<number> {
  const want = eventStreamConfig(opts);
  try {
    const info = await jsm.streams.info(want.name);
    const have = info.config;
    // Replicas only grow here: a process configured for fewer (a client left at the default) never shrinks the cluster's copies.
    const replicas = Math.max(have.num_replicas, want.num_replicas ?? 1);
    if (have.duplicate_window !== want.duplicate_window || have.allow_direct !== true || replicas !== have.num_replicas) {
      await jsm.streams.update(want.name, { ...have, duplicate_window: want.duplicate_window!, allow_direct: true, num_replicas: replicas });
    }
  } catch (e) {
    if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
    try {
      await jsm.streams.add(want);
    } catch (err) {
      // Another process created it between our info and our add: fine.
      if (!(err instanceof JetStreamApiError && /already in use/i.test(err.message))) throw err;
    }
  }
  return (await jsm.streams.info(want.name)).config.duplicate_window / 1e6;
}

/**
 * The sequence a follower that has read everything stored so far has reached,
 * given that it is at `have`: the stream's last sequence — unless that message
 * is gone (an operator deleted a poison message at the tail, or a server came
 * back without its last writes). JetStream's `last_seq` still names a deleted
 * last message, which no follower ever reads, so waiting for it would last until
 * the wait's timeout; then the last message still stored is the target. The
 * existence check costs a direct get only when the follower is behind.
 */
export async function followTarget(jsm: JetStreamManager, stream: string, have: number): Promise<number> {
  const last = (await jsm.streams.info(stream)).state.last_seq;
  if (last <= have) return last;
  if (await jsm.direct.getMessage(stream, { seq: last })) return last;
  return (await jsm.direct.getMessage(stream, { last_by_subj: subjects.all() }))?.seq ?? 0;
}

/** [major, minor, patch] of the server this connection talks to. */
export function serverVersion(nc: NatsConnection): readonly [number, number, number] {
  const v = nc.info?.version ?? '0.0.0';
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

/**
 * nats-server 2.11 added Nats-Expected-Last-Subject-Sequence-Subject: the
 * expected-last-subject-sequence check applied to a wildcard. Older servers
 * silently ignore the header, so it must never be relied on there.
 */
export function supportsSubjectWildcardCheck(nc: NatsConnection): boolean {
  const [major, minor] = serverVersion(nc);
  return major > 2 || (major === 2 && minor >= 11);
}
