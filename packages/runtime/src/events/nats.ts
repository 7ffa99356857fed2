/** A NATS connection as the services want it. */
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';

export type NatsOptions = Partial<NodeConnectionOptions>;

/**
 * Connects with reconnection forever (a restarting server is waited for, not
 * fatal) and without nats.js's async stack traces: capturing a stack for every
 * request costs more than the request itself at event-store rates.
 */
export function connectNats(servers: string | string[], opts: NatsOptions = {}): Promise<NatsConnection> {
  return connect({
    servers,
    name: 'virtflow',
    noAsyncTraces: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...opts,
  });
}
