/**
 * @virtflow/runtime — I/O shared by the services: configuration, the NATS JetStream event store, BullMQ queues, logging, metrics, graceful shutdown (issue 4 onwards).
 * Nothing is exported yet: the package exists so the workspace layout is in place.
 */
export {};
