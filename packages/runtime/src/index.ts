/**
 * @virtflow/runtime — I/O shared by the services: host capabilities now; the
 * NATS JetStream event store, BullMQ queues, logging, metrics and graceful
 * shutdown with later issues.
 */
export { hostCapabilities, kvmUsable, probeQemuCapabilities } from './capabilities.ts';
