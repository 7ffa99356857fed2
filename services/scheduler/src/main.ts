/**
 * The scheduler service: `node --import tsx services/scheduler/src/main.ts`.
 * Reads VIRTFLOW_* configuration (the shared Config and loadSchedulerConfig),
 * follows the event stream, takes `virtflow.schedule` jobs, serves /healthz
 * and /metrics, and on SIGTERM/SIGINT stops taking jobs and lets running ones
 * finish. Several can run side by side: claims on the hosts' streams keep
 * them from oversubscribing a host, with no lock between them. After a
 * SIGKILL, BullMQ's stalled-job check hands its jobs to another scheduler
 * once their lock (VIRTFLOW_LOCK_MS) expires.
 * NATS user and TLS, Redis TLS (VIRTFLOW_NATS_USER, VIRTFLOW_NATS_TLS_*,
 * VIRTFLOW_REDIS_TLS_*, the Redis user in VIRTFLOW_REDIS_URL) as the parser's:
 * packages/runtime/src/security/README.md.
 */
import { hostname } from 'node:os';
import type { RedisOptions } from 'ioredis';
import {
  ConfigError, EventStore, connectNats, serveHealthAndMetrics, createLogger, loadConfig, loadSchedulerConfig, loadSecurityConfig, natsSecurityOptions, redisSecurityOptions,
  type NatsOptions,
} from '@virtflow/runtime';
import { startScheduler, type LogLevel } from './service.ts';
import { Membership } from './membership.ts';
import { loadMembershipConfig } from './membership-config.ts';

async function main(): Promise<void> {
  let config;
  let sched;
  let membershipConfig;
  let natsOptions: NatsOptions;
  let redisOptions: RedisOptions;
  try {
    config = loadConfig(process.env, { hostId: hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) });
    sched = loadSchedulerConfig(process.env);
    membershipConfig = loadMembershipConfig(process.env);
    // PEM and nkey files are read here: one that cannot be read stops the service naming its variable.
    const security = loadSecurityConfig(process.env);
    natsOptions = natsSecurityOptions(security);
    redisOptions = redisSecurityOptions(security);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`virtflow-scheduler: ${e.message}`);
    process.exit(2);
  }
  const logger = createLogger({ service: 'virtflow-scheduler', level: config.logLevel, base: { hostId: config.hostId } });
  const log = (level: LogLevel, msg: string, fields: Readonly<Record<string, unknown>> = {}) => logger[level]({ ...fields }, msg);
  const nc = await connectNats([...config.natsUrl], { ...natsOptions, replicas: config.natsReplicas });
  // Snapshots often: a host aggregate gains an event per claim and per release.
  const store = await EventStore.open(nc, { snapshotEvery: 25 });
  const scheduler = await startScheduler({
    redisUrl: config.redisUrl, store, nc, config: sched, concurrency: config.concurrency, prefix: config.queuePrefix,
    lockMs: config.lockMs, stalledMs: config.stalledMs, redisOptions, log,
  });
  // Host failure: HostDown/HostUp from heartbeats, fenced HA domains started elsewhere through the start path
  // (a queued job per fence: any scheduler finishes what a dead one fenced, see Membership's resumeFenced).
  const membership = await Membership.start({
    nc, store, config: membershipConfig.config, checkMs: membershipConfig.checkMs, restart: (r) => scheduler.restart(r), resumeFenced: true, log,
  });
  let stopping = false;
  const http = await serveHealthAndMetrics(config.httpHost, config.httpPort, () => {
    const ok = !stopping && !nc.isClosed() && scheduler.worker.isRunning() && scheduler.live.failure === undefined;
    return { ok, stopping, seq: scheduler.live.seq, hosts: scheduler.live.current().hosts.size };
  }, scheduler.metrics);
  log('info', 'virtflow-scheduler ready', { pid: process.pid, http: http.url, maxHosts: sched.maxHosts });

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'virtflow-scheduler stopping', { signal });
    await membership.stop();
    await scheduler.close(); // running jobs finish first
    await store.close();
    await nc.drain();
    http.close();
    log('info', 'virtflow-scheduler stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e) => {
  console.error('virtflow-scheduler:', e);
  process.exit(1);
});
