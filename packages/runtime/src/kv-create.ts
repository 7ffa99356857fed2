/**
 * Opening a KV bucket that may not exist yet, from many processes at once.
 * nats.js's `Kvm.create` reads the bucket's stream and adds it when missing;
 * when several agents of a fresh cluster start together, two adds cross and
 * the server refuses the later one ("subjects overlap with an existing
 * stream", or "stream name already in use" on some versions) although the
 * bucket now exists. The loser tries again, which finds it.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV, KvOptions, Kvm } from '@nats-io/kv';

const CREATION_RACE = /subjects overlap with an existing stream|stream name already in use/i;

export async function createBucket(kvm: Kvm, name: string, opts: Partial<KvOptions>, tries = 5): Promise<KV> {
  for (let i = 1; ; i++) {
    try {
      return await kvm.create(name, opts);
    } catch (e) {
      if (i >= tries || !(e instanceof JetStreamApiError && CREATION_RACE.test(e.message))) throw e;
      await new Promise((r) => setTimeout(r, 20 * i + Math.random() * 20));
    }
  }
}
