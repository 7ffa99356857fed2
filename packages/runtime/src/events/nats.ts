/** A NATS connection as the services want it. */
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';

export type NatsOptions = Partial<NodeConnectionOptions> & {
  /**
   * How many servers keep a copy of each stream and bucket virtflow creates over this connection
   * (VIRTFLOW_NATS_REPLICAS: 3 on a three-node JetStream cluster, so one node's loss loses nothing).
   */
  readonly replicas?: number;
};

/** The replica count each connection was opened with: a property of the deployment it talks to, so it travels with it. */
const replicasByConnection = new WeakMap<NatsConnection, number>();

/** The replicas streams and buckets get when created over `nc` (1 unless connectNats was told otherwise). */
export function replicasOf(nc: NatsConnection | undefined): number {
  return (nc && replicasByConnection.get(nc)) ?? 1;
}

/**
 * Connects with reconnection forever (a restarting server is waited for, not
 * fatal) and without nats.js's async stack traces: capturing a stack for every
 * request costs more than the request itself at event-store rates.
 */
export async function connectNats(servers: string | string[], opts: NatsOptions = {}): Promise<NatsConnection> {
  const { replicas, ...rest } = opts;
  const nc = await connect({
    servers,
    name: 'virtflow',
    noAsyncTraces: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...rest,
  });
  if (replicas !== undefined && replicas !== 1) replicasByConnection.set(nc, replicas);
  return nc;
}
