/**
 * Configuration: the `VIRTFLOW_*` environment variables, parsed and checked
 * once at start into a typed object. A wrong value stops the service with a
 * message naming the variable (ConfigError), never a surprise later.
 */
export interface Config {
  /** VIRTFLOW_REDIS_URL (redis://127.0.0.1:6379): BullMQ's Redis. */
  readonly redisUrl: string;
  /** VIRTFLOW_NATS_URL (nats://127.0.0.1:4222): the event store; a comma-separated list for a cluster. */
  readonly natsUrl: readonly string[];
  /** VIRTFLOW_HOST_ID (the machine's hostname): the node this process runs on. */
  readonly hostId: string;
  /** VIRTFLOW_HTTP_PORT (9464; 0: any free port): /healthz and /metrics. */
  readonly httpPort: number;
  /** VIRTFLOW_HTTP_HOST (127.0.0.1). */
  readonly httpHost: string;
  /** VIRTFLOW_CONCURRENCY (16): jobs a worker runs at once. */
  readonly concurrency: number;
  /** VIRTFLOW_JOB_ATTEMPTS (5): tries of an infrastructure fault before the dead-letter queue. */
  readonly jobAttempts: number;
  /** VIRTFLOW_BACKOFF_MS (500): the first retry's delay, doubled each time. */
  readonly backoffMs: number;
  /** VIRTFLOW_LOCK_MS (30000): a job's lock; a crashed worker's jobs are taken back after it. */
  readonly lockMs: number;
  /** VIRTFLOW_STALLED_MS (VIRTFLOW_LOCK_MS): how often a worker looks for jobs whose lock expired (BullMQ's stalledInterval). */
  readonly stalledMs: number;
  /** VIRTFLOW_POLICY_STAGES (none): comma-separated modules, each exporting a PolicyStage (or a list), loaded at start. */
  readonly policyStages: readonly string[];
  /** VIRTFLOW_POLICY_DIR (none): a folder of policy stage modules, watched while the service runs. */
  readonly policyDir: string | undefined;
  /** VIRTFLOW_POLICY_POLL_MS (2000; 0: never): how often the policy folder is rescanned besides file-system events and SIGHUP. */
  readonly policyPollMs: number;
  /** VIRTFLOW_QUEUE_PREFIX (bull): BullMQ's key prefix in Redis. */
  readonly queuePrefix: string;
  /** VIRTFLOW_LOG_LEVEL (info). */
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly variable: string, detail: string) {
    super(`${variable}: ${detail}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function url(env: Env, name: string, def: string, schemes: readonly string[]): string {
  const v = env[name]?.trim() || def;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `'${v}' is not a URL`);
  }
  if (!schemes.includes(u.protocol.replace(/:$/, ''))) throw new ConfigError(name, `'${v}' must start with ${schemes.map((s) => `${s}://`).join(' or ')}`);
  return v;
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `'${raw}' is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `${n} is out of range ${min}..${max}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, def: T, allowed: readonly T[]): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return def;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `'${raw}' is not one of ${allowed.join(', ')}`);
  return raw as T;
}

/** Parses the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env, defaults: { readonly hostId?: string } = {}): Config {
  const nats = (env.VIRTFLOW_NATS_URL?.trim() || 'nats://127.0.0.1:4222').split(',').map((s) => s.trim()).filter(Boolean);
  const natsUrl = nats.map((n) => url({ VIRTFLOW_NATS_URL: n }, 'VIRTFLOW_NATS_URL', n, ['nats', 'tls', 'ws', 'wss']));
  const hostId = env.VIRTFLOW_HOST_ID?.trim() || defaults.hostId || 'localhost';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(hostId)) throw new ConfigError('VIRTFLOW_HOST_ID', `'${hostId}' must be 1 to 64 characters of A-Z a-z 0-9 _ - (it is a subject token)`);
  const prefix = env.VIRTFLOW_QUEUE_PREFIX?.trim() || 'bull';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) throw new ConfigError('VIRTFLOW_QUEUE_PREFIX', `'${prefix}' must be 1 to 64 characters of A-Z a-z 0-9 _ . -`);
  const lockMs = int(env, 'VIRTFLOW_LOCK_MS', 30_000, 100, 3_600_000);
  const modules = (env.VIRTFLOW_POLICY_STAGES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = modules.find((m) => !/\.(m?js|ts|mts)$/.test(m));
  if (bad) throw new ConfigError('VIRTFLOW_POLICY_STAGES', `'${bad}' is not a .mjs, .js, .ts or .mts module`);
  return Object.freeze({
    redisUrl: url(env, 'VIRTFLOW_REDIS_URL', 'redis://127.0.0.1:6379', ['redis', 'rediss']),
    natsUrl: Object.freeze(natsUrl),
    hostId,
    httpPort: int(env, 'VIRTFLOW_HTTP_PORT', 9464, 0, 65535),
    httpHost: env.VIRTFLOW_HTTP_HOST?.trim() || '127.0.0.1',
    concurrency: int(env, 'VIRTFLOW_CONCURRENCY', 16, 1, 10_000),
    jobAttempts: int(env, 'VIRTFLOW_JOB_ATTEMPTS', 5, 1, 100),
    backoffMs: int(env, 'VIRTFLOW_BACKOFF_MS', 500, 0, 3_600_000),
    lockMs,
    stalledMs: int(env, 'VIRTFLOW_STALLED_MS', lockMs, 100, 3_600_000),
    policyStages: Object.freeze(modules),
    policyDir: env.VIRTFLOW_POLICY_DIR?.trim() || undefined,
    policyPollMs: int(env, 'VIRTFLOW_POLICY_POLL_MS', 2_000, 0, 3_600_000),
    queuePrefix: prefix,
    logLevel: oneOf(env, 'VIRTFLOW_LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const),
  });
}

/** The host agent's own settings (services/host-agent), beside the shared Config. */
export interface AgentConfig {
  /** VIRTFLOW_HYPERVISOR (qemu): qemu | test. */
  readonly hypervisor: 'qemu' | 'test';
  /** VIRTFLOW_RUN_DIR (<tmpdir>/virtflow/<host id>): per-domain run folders, the test hypervisor's state file. */
  readonly runDir: string;
  /** VIRTFLOW_HEARTBEAT_MS (5000): heartbeat period; a heartbeat lives 3 periods. */
  readonly heartbeatMs: number;
  /** VIRTFLOW_ACK_WAIT_MS (30000): JetStream ack wait of the command consumer. */
  readonly ackWaitMs: number;
  /** VIRTFLOW_START_RECOVERY_MS (10000): how long an interrupted start may take to finish after a restart (a qemu left paused before its cont never does). */
  readonly startRecoveryMs: number;
  /** VIRTFLOW_TEST_CPUS (8), VIRTFLOW_TEST_MEMORY_KIB (16777216): the test hypervisor's synthetic host. */
  readonly testCpus: number;
  readonly testMemoryKiB: number;
  /** VIRTFLOW_TEST_DELAYS (none): per-operation delays of the test hypervisor, `start=2000,destroy=10`. */
  readonly testDelays: Readonly<Record<string, number>>;
  /** VIRTFLOW_TEST_GUEST_SHUTDOWN_MS (50): how long the simulated guest takes to power off; `never` ignores ACPI. */
  readonly testGuestShutdownMs: number;
}

const TEST_OPERATIONS = ['start', 'shutdown', 'destroy', 'reboot', 'reset', 'suspend', 'resume', 'attachDevice', 'detachDevice', 'migrateOut'];

function delays(env: Env, name: string): Record<string, number> {
  const raw = env[name]?.trim();
  const out: Record<string, number> = {};
  if (!raw) return out;
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(part);
    if (!m) throw new ConfigError(name, `'${part}' is not operation=milliseconds`);
    if (!TEST_OPERATIONS.includes(m[1]!)) throw new ConfigError(name, `unknown operation '${m[1]}' (known: ${TEST_OPERATIONS.join(', ')})`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Parses the agent's variables; throws ConfigError naming the first bad one. */
export function loadAgentConfig(env: Env = process.env, defaults: { readonly hostId: string; readonly tmpdir: string }): AgentConfig {
  const guest = env.VIRTFLOW_TEST_GUEST_SHUTDOWN_MS?.trim();
  return Object.freeze({
    hypervisor: oneOf(env, 'VIRTFLOW_HYPERVISOR', 'qemu', ['qemu', 'test'] as const),
    runDir: env.VIRTFLOW_RUN_DIR?.trim() || `${defaults.tmpdir}/virtflow/${defaults.hostId}`,
    heartbeatMs: int(env, 'VIRTFLOW_HEARTBEAT_MS', 5_000, 100, 3_600_000),
    ackWaitMs: int(env, 'VIRTFLOW_ACK_WAIT_MS', 30_000, 1_000, 3_600_000),
    startRecoveryMs: int(env, 'VIRTFLOW_START_RECOVERY_MS', 10_000, 0, 3_600_000),
    testCpus: int(env, 'VIRTFLOW_TEST_CPUS', 8, 1, 1_000_000),
    testMemoryKiB: int(env, 'VIRTFLOW_TEST_MEMORY_KIB', 16 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    testDelays: Object.freeze(delays(env, 'VIRTFLOW_TEST_DELAYS')),
    testGuestShutdownMs: guest === 'never' ? Infinity : int(env, 'VIRTFLOW_TEST_GUEST_SHUTDOWN_MS', 50, 0, 3_600_000),
  });
}
