/**
 * Opening a KV bucket that may not exist yet, from many processes at once.
 * nats.js's `Kvm.create` reads the bucket's stream and adds it when missing;
 * when several agents of a fresh cluster start together, two adds cross and
 * the server refuses the later one ("subjects overlap with an existing
 * stream", or "stream name already in use" on some versions) although the
 * bucket now exists. The loser tries again, which finds it.
 */
import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import type { KV, KvOptions, Kvm } from '@nats-io/kv';

const CREATION_RACE = /subjects overlap with an existing stream|stream name already in use/i;

/**
 * `Kvm.create` with the crossing-creation retry; with `jsm`, a bucket that exists with fewer replicas than
 * asked for is given more (a cluster grown to three nodes, or a bucket first made by a client left at 1).
 */
export async function createBucket(kvm: Kvm, name: string, opts: Partial<KvOptions>, jsm?: JetStreamManager, tries = 5): Promise<KV> {
  for (let i = 1; ; i++) {
    try {
      const kv = await kvm.create(name, opts);
      if (jsm && (opts.replicas ?? 1) > 1) {
        const info = await jsm.streams.info(`KV_${name}`);
        if (info.config.num_replicas < opts.replicas!) await jsm.streams.update(info.config.name, { ...info.config, num_replicas: opts.replicas! });
      }
      return kv;
    } catch (e) {
      if (i >= tries || !(e instanceof JetStreamApiError && CREATION_RACE.test(e.message))) throw e;
      await new Promise((r) => setTimeout(r, 20 * i + Math.random() * 20));
    }
  }
}
