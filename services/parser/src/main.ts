/**
 * The parser service: `node --import tsx services/parser/src/main.ts [--stages all|intake,policy,postparse:qemu,...]`.
 * Reads VIRTFLOW_* configuration, runs the chosen workers, serves /healthz and
 * /metrics, and on SIGTERM/SIGINT stops taking jobs and lets running ones finish.
 * After a SIGKILL, BullMQ's stalled-job check hands the crashed process's jobs
 * to the next worker once their lock (VIRTFLOW_LOCK_MS) expires.
 * Policy stages come from VIRTFLOW_POLICY_STAGES (at start) and
 * VIRTFLOW_POLICY_DIR (watched while running; SIGHUP rescans it): policy.ts.
 * Per-client rate limit at the intake: VIRTFLOW_INTAKE_RATE, VIRTFLOW_INTAKE_WINDOW_MS (ratelimit.ts);
 * NATS user and TLS, Redis TLS: packages/runtime/src/security/README.md.
 */
import { hostname } from 'node:os';
import { defaultRegistry } from '@virtflow/model';
import {
  ConfigError, EventStore, connectNats, hostCapabilities, loadConfig, loadIntakeConfig, loadSecurityConfig, natsSecurityOptions, redisSecurityOptions,
  type IntakeConfig, type NatsOptions,
} from '@virtflow/runtime';
import type { RedisOptions } from 'ioredis';
import { createLogger, serveHealthAndMetrics } from '@virtflow/runtime';
import { startParser, stageNames, type StageName } from './service.ts';
import { PolicyLoader } from './policy.ts';

function parseStages(argv: readonly string[], known: readonly StageName[]): readonly StageName[] {
  const i = argv.indexOf('--stages');
  const raw = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--stages='))?.slice('--stages='.length);
  if (raw === undefined || raw === 'all') return known;
  const want = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = want.filter((s) => !(known as readonly string[]).includes(s));
  if (bad.length || want.length === 0) throw new ConfigError('--stages', `unknown stage ${bad.map((b) => `'${b}'`).join(', ') || "''"} (known: all, ${known.join(', ')})`);
  return want as StageName[];
}

async function main(): Promise<void> {
  let config;
  let stages: readonly StageName[];
  let intake: IntakeConfig;
  let natsOptions: NatsOptions;
  let redisOptions: RedisOptions;
  const registry = defaultRegistry();
  try {
    config = loadConfig(process.env, { hostId: hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) });
    stages = parseStages(process.argv.slice(2), stageNames(registry));
    intake = loadIntakeConfig(process.env);
    const security = loadSecurityConfig(process.env);
    natsOptions = natsSecurityOptions(security);
    redisOptions = redisSecurityOptions(security);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`virtflow-parser: ${e.message}`);
    process.exit(2);
  }
  // pino JSON lines (packages/runtime/src/log.ts); the ready line is written whatever the level: supervisors wait for it.
  const log = createLogger({ service: 'virtflow-parser', level: config.logLevel, base: { hostId: config.hostId } });
  const always = log.child({}, { level: 'info' });
  const policy = new PolicyLoader(registry, {
    files: config.policyStages, dir: config.policyDir, pollMs: config.policyPollMs,
    log: (entry) => log.info(entry),
  });
  try {
    await policy.start();
  } catch (e) {
    console.error(`virtflow-parser: VIRTFLOW_POLICY_STAGES: ${(e as Error).message}`);
    process.exit(2);
  }
  const nc = await connectNats([...config.natsUrl], { ...natsOptions, replicas: config.natsReplicas });
  const store = await EventStore.open(nc);
  const caps = await hostCapabilities();
  const parser = await startParser({
    redisUrl: config.redisUrl, store, caps, registry, stages, concurrency: config.concurrency,
    attempts: config.jobAttempts, backoffMs: config.backoffMs, prefix: config.queuePrefix, lockMs: config.lockMs, stalledMs: config.stalledMs,
    redisOptions, eventProvenance: config.eventProvenance, ...(intake.rate > 0 ? { intakeLimit: { max: intake.rate, windowMs: intake.windowMs } } : {}),
  });
  let stopping = false;
  const http = await serveHealthAndMetrics(config.httpHost, config.httpPort, () => {
    const ok = !stopping && !nc.isClosed() && parser.workers.every((w) => w.isRunning());
    return { ok, stages, stopping, policy: policy.names };
  }, parser.metrics);
  always.info({ pid: process.pid, stages, http: http.url }, 'virtflow-parser ready');

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    policy.close();
    log.info({ signal }, 'virtflow-parser stopping');
    await parser.close(); // running jobs finish first
    await store.close();
    await nc.drain();
    http.close();
    log.info('virtflow-parser stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // SIGHUP rescans the policy folder at once (it is also watched and polled).
  process.on('SIGHUP', () => void policy.reload());
}

main().catch((e) => {
  console.error('virtflow-parser:', e);
  process.exit(1);
});
