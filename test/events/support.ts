/** Shared set-up of the event-store integration tests: a private nats-server and connections to it. */
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, EventStore, type EventStoreOptions } from '@virtflow/runtime';
import { startServers, type Servers } from '../harness/index.ts';

export interface Nats {
  readonly servers: Servers;
  connect(): Promise<NatsConnection>;
  store(opts?: EventStoreOptions): Promise<EventStore>;
  close(): Promise<void>;
}

export async function startNats(): Promise<Nats> {
  const servers = await startServers({ redis: false });
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
