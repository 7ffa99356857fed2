/**
 * @virtflow/runtime — I/O shared by the services: host capabilities; the NATS
 * JetStream event store, subscriptions and KV projections (events/); logging,
 * metrics and graceful shutdown with later issues.
 */
export { hostCapabilities, kvmUsable, probeQemuCapabilities } from './capabilities.ts';
export * from './events/index.ts';
export { loadConfig, ConfigError, type Config } from './config.ts';
export { queues } from './queues.ts';
