/** Shared set-up of the event-store integration tests: a private nats-server and connections to it. */
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, EventStore, Projector, type EventStoreOptions, type ProjectorOptions } from '@virtflow/runtime';
import { startServers, type Servers } from '../harness/index.ts';

export interface Nats {
  readonly servers: Servers;
  connect(): Promise<NatsConnection>;
  store(opts?: EventStoreOptions): Promise<EventStore>;
  close(): Promise<void>;
}

/** `withRedis`: a private redis-server too (servers.redisUrl), for suites that also run the queues. */
export async function startNats(opts: { readonly withRedis?: boolean } = {}): Promise<Nats> {
  const servers = await startServers({ redis: opts.withRedis === true });
  const conns: NatsConnection[] = [];
  const connect = async () => {
    const nc = await connectNats(servers.natsUrl);
    conns.push(nc);
    return nc;
  };
  return {
    servers,
    connect,
    store: async (opts = {}) => EventStore.open(await connect(), { onPoison: () => undefined, ...opts }),
    close: async () => {
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      await servers.stop();
    },
  };
}

export interface ProjectorRigOptions {
  readonly store?: EventStoreOptions;
  readonly projector?: ProjectorOptions;
}

/** A private nats-server, an event store on it and a started projector following it, each on a connection of its own. */
export interface ProjectorRig {
  readonly nats: Nats;
  readonly store: EventStore;
  readonly projector: Projector;
  /**
   * Stops the projector (writing the batch in hand), then the server; the server is stopped even when
   * the projector's stop fails. `ignoreStopError`: a failed stop is not reported (suites whose test may
   * leave the server unable to take the last writes, where that failure would hide the test's own).
   */
  close(opts?: { readonly ignoreStopError?: boolean }): Promise<void>;
}

export async function startProjectorRig(opts: ProjectorRigOptions = {}): Promise<ProjectorRig> {
  const nats = await startNats();
  let projector: Projector | undefined;
  try {
    const store = await nats.store(opts.store);
    projector = await Projector.open(await nats.connect(), opts.projector);
    await projector.start();
    const started = projector;
    return {
      nats,
      store,
      projector: started,
      close: async ({ ignoreStopError = false } = {}) => {
        try {
          await started.stop().catch((e: unknown) => {
            if (!ignoreStopError) throw e;
          });
        } finally {
          await nats.close();
        }
      },
    };
  } catch (e) {
    // A half-built rig is torn down here: the suite's `after` has nothing to close it with.
    await projector?.stop().catch(() => undefined);
    await nats.close();
    throw e;
  }
}
