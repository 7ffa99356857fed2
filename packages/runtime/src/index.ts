/**
 * @virtflow/runtime — I/O shared by the services: host capabilities; the NATS
 * JetStream event store, subscriptions and KV projections (events/); logging,
 * metrics and graceful shutdown with later issues.
 */
export { hostCapabilities, kvmUsable, probeQemuCapabilities } from './capabilities.ts';
export * from './events/index.ts';
export { loadConfig, ConfigError, type Config } from './config.ts';
export { loadAgentConfig, type AgentConfig } from './config.ts';
export { loadSecurityConfig, loadIntakeConfig, type SecurityConfig, type TlsFiles, type IntakeConfig } from './config.ts';
export * from './security/index.ts';
export { loadSchedulerConfig, type SchedulerServiceConfig } from './config.ts';
export { queues } from './queues.ts';
export {
  COMMAND_STREAM, COMMAND_RESULTS_BUCKET, HEARTBEAT_BUCKET, ensureCommandStream, openCommandResults, openHeartbeats, commandResultKey,
  sendCommand, awaitCommandResult, runCommand, commandOutcome, parseOutcome, commandStreamManager, pendingCommands, CommandResultWatcher, readHeartbeats, type CommandStreamOptions, type Heartbeat,
} from './commands.ts';
export { Registry as MetricsRegistry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
export { createLogger, forJob, type DestinationStream, type Logger, type LogLevel, type LoggerOptions } from './log.ts';
export { serveHealthAndMetrics, type HealthReport, type MetricsSource, type ServiceHttp } from './http.ts';
