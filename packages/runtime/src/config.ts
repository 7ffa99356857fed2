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
  /** VIRTFLOW_NATS_REPLICAS (1): copies of each stream and bucket virtflow creates (3 on a three-node JetStream cluster). */
  readonly natsReplicas: number;
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
  /**
   * VIRTFLOW_EVENT_PROVENANCE (0): 1 puts a define's provenance into its DomainDefined event too. The
   * job's result always carries it; in the event it is ~6x the event's size and every later load
   * of the domain reads and checks it again.
   */
  readonly eventProvenance: boolean;
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
    natsReplicas: int(env, 'VIRTFLOW_NATS_REPLICAS', 1, 1, 5),
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
    eventProvenance: oneOf(env, 'VIRTFLOW_EVENT_PROVENANCE', '0', ['0', '1'] as const) === '1',
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

/** The scheduler's own settings (services/scheduler), beside the shared Config. */
export interface SchedulerServiceConfig {
  /** VIRTFLOW_SCHEDULER_MAX_HOSTS (3): hosts a start is tried on before the job fails (Nova's scheduler_max_attempts). */
  readonly maxHosts: number;
  /** VIRTFLOW_COMMAND_TIMEOUT_MS (60000): how long an agent may take to answer a command. */
  readonly commandTimeoutMs: number;
  /** VIRTFLOW_RAM_ALLOCATION_RATIO (1.0), VIRTFLOW_CPU_ALLOCATION_RATIO (4.0): Nova's overcommit ratios. */
  readonly ramAllocationRatio: number;
  readonly cpuAllocationRatio: number;
  /** VIRTFLOW_RESERVED_HOST_MEMORY_KIB (524288), VIRTFLOW_RESERVED_HOST_CPUS (0): what each host keeps for itself. */
  readonly reservedHostMemoryKiB: number;
  readonly reservedHostCpus: number;
  /** VIRTFLOW_HOST_SUBSET_SIZE (1): choose at random among the best N hosts, so schedulers side by side rarely race for one. */
  readonly hostSubsetSize: number;
  /** VIRTFLOW_SCHEDULER_WEIGHTS (ram=1,cpu=1,domains=0,softAffinity=1): weigher multipliers; ram/cpu > 0 spread, < 0 pack. */
  readonly weights: Readonly<Partial<Record<'ram' | 'cpu' | 'domains' | 'softAffinity', number>>>;
  /** VIRTFLOW_MAX_DOMAINS_PER_HOST (none): NumDomainsFilter's limit. */
  readonly maxDomainsPerHost: number | undefined;
}

function ratio(env: Env, name: string, def: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n) || n <= 0 || n > 1000) throw new ConfigError(name, `'${raw}' is not a ratio above 0 (e.g. 1.5)`);
  return n;
}

const WEIGHERS = ['ram', 'cpu', 'domains', 'softAffinity'] as const;

function weights(env: Env, name: string): Partial<Record<(typeof WEIGHERS)[number], number>> {
  const raw = env[name]?.trim();
  const out: Partial<Record<(typeof WEIGHERS)[number], number>> = {};
  if (!raw) return out;
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]+)=(-?\d+(?:\.\d+)?)$/.exec(part);
    if (!m) throw new ConfigError(name, `'${part}' is not weigher=multiplier (e.g. ram=-1 to pack)`);
    if (!(WEIGHERS as readonly string[]).includes(m[1]!)) throw new ConfigError(name, `unknown weigher '${m[1]}' (known: ${WEIGHERS.join(', ')})`);
    out[m[1] as (typeof WEIGHERS)[number]] = Number(m[2]);
  }
  return out;
}

/** Parses the scheduler's variables; throws ConfigError naming the first bad one. */
export function loadSchedulerConfig(env: Env = process.env): SchedulerServiceConfig {
  const maxDomains = env.VIRTFLOW_MAX_DOMAINS_PER_HOST?.trim();
  return Object.freeze({
    maxHosts: int(env, 'VIRTFLOW_SCHEDULER_MAX_HOSTS', 3, 1, 1_000),
    commandTimeoutMs: int(env, 'VIRTFLOW_COMMAND_TIMEOUT_MS', 60_000, 100, 3_600_000),
    ramAllocationRatio: ratio(env, 'VIRTFLOW_RAM_ALLOCATION_RATIO', 1.0),
    cpuAllocationRatio: ratio(env, 'VIRTFLOW_CPU_ALLOCATION_RATIO', 4.0),
    reservedHostMemoryKiB: int(env, 'VIRTFLOW_RESERVED_HOST_MEMORY_KIB', 512 * 1024, 0, Number.MAX_SAFE_INTEGER),
    reservedHostCpus: int(env, 'VIRTFLOW_RESERVED_HOST_CPUS', 0, 0, 1_000_000),
    hostSubsetSize: int(env, 'VIRTFLOW_HOST_SUBSET_SIZE', 1, 1, 1_000),
    weights: Object.freeze(weights(env, 'VIRTFLOW_SCHEDULER_WEIGHTS')),
    maxDomainsPerHost: maxDomains ? int(env, 'VIRTFLOW_MAX_DOMAINS_PER_HOST', 0, 1, 1_000_000) : undefined,
  });
}

/** TLS material for one server: PEM files. */
export interface TlsFiles {
  /** The CA that signed the server's certificate (and checks ours). */
  readonly ca?: string;
  /** Our client certificate and its key, for servers that verify clients. */
  readonly cert?: string;
  readonly key?: string;
}

/** Who a service is to NATS and Redis, how it talks to them, and what its host may open (security/README.md). */
export interface SecurityConfig {
  /**
   * VIRTFLOW_NATS_USER with VIRTFLOW_NATS_PASSWORD or VIRTFLOW_NATS_NKEY_SEED_FILE (a file holding the
   * user nkey's seed `SU...`) (none): the service's NATS user; its reply inbox is `_INBOX_<user>`.
   */
  readonly natsUser?: { readonly user: string; readonly password?: string; readonly nkeySeedFile?: string };
  /** VIRTFLOW_NATS_TLS_CA, VIRTFLOW_NATS_TLS_CERT, VIRTFLOW_NATS_TLS_KEY (none: plain TCP). */
  readonly natsTls?: TlsFiles;
  /** VIRTFLOW_REDIS_TLS_CA, VIRTFLOW_REDIS_TLS_CERT, VIRTFLOW_REDIS_TLS_KEY (none); the Redis user and password ride in VIRTFLOW_REDIS_URL. */
  readonly redisTls?: TlsFiles;
  /**
   * VIRTFLOW_STORAGE_PATHS (none: no restriction): colon-separated absolute
   * folders under which every host path of a definition must lie on this host
   * (disk and filesystem sources, kernel, loader, chardev files, ...).
   */
  readonly storagePaths?: readonly string[];
}

function tlsFiles(env: Env, prefix: string): TlsFiles | undefined {
  const get = (what: string) => {
    const name = `${prefix}_${what}`;
    const v = env[name]?.trim();
    if (v && !v.startsWith('/')) throw new ConfigError(name, `'${v}' must be an absolute path to a PEM file`);
    return v || undefined;
  };
  const ca = get('CA');
  const cert = get('CERT');
  const key = get('KEY');
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError(cert ? `${prefix}_KEY` : `${prefix}_CERT`, `${prefix}_CERT and ${prefix}_KEY go together`);
  if (!ca && !cert) return undefined;
  return Object.freeze({ ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) });
}

/** Parses the security variables; throws ConfigError naming the first bad one. */
export function loadSecurityConfig(env: Env = process.env): SecurityConfig {
  const user = env.VIRTFLOW_NATS_USER?.trim();
  const password = env.VIRTFLOW_NATS_PASSWORD;
  if (user && !/^[A-Za-z0-9_-]{1,64}$/.test(user)) throw new ConfigError('VIRTFLOW_NATS_USER', `'${user}' must be 1 to 64 characters of A-Z a-z 0-9 _ -`);
  const seedFile = env.VIRTFLOW_NATS_NKEY_SEED_FILE?.trim() || undefined;
  if (seedFile && !seedFile.startsWith('/')) throw new ConfigError('VIRTFLOW_NATS_NKEY_SEED_FILE', `'${seedFile}' must be an absolute path`);
  if (password && seedFile) throw new ConfigError('VIRTFLOW_NATS_NKEY_SEED_FILE', 'set VIRTFLOW_NATS_PASSWORD or VIRTFLOW_NATS_NKEY_SEED_FILE, not both');
  if (Boolean(user) !== Boolean(password || seedFile)) throw new ConfigError(user ? 'VIRTFLOW_NATS_PASSWORD' : 'VIRTFLOW_NATS_USER', 'VIRTFLOW_NATS_USER goes with VIRTFLOW_NATS_PASSWORD or VIRTFLOW_NATS_NKEY_SEED_FILE');
  const raw = env.VIRTFLOW_STORAGE_PATHS?.trim();
  const paths = raw ? raw.split(':').map((p) => p.trim()).filter(Boolean) : [];
  const bad = paths.find((p) => !p.startsWith('/') || p.split('/').includes('..'));
  if (bad !== undefined) throw new ConfigError('VIRTFLOW_STORAGE_PATHS', `'${bad}' must be an absolute path without '..'`);
  if (raw && paths.length === 0) throw new ConfigError('VIRTFLOW_STORAGE_PATHS', 'lists no path (unset it for no restriction)');
  const natsTls = tlsFiles(env, 'VIRTFLOW_NATS_TLS');
  const redisTls = tlsFiles(env, 'VIRTFLOW_REDIS_TLS');
  return Object.freeze({
    ...(user && (password || seedFile) ? { natsUser: Object.freeze({ user, ...(password ? { password } : { nkeySeedFile: seedFile! }) }) } : {}),
    ...(natsTls ? { natsTls } : {}),
    ...(redisTls ? { redisTls } : {}),
    ...(paths.length ? { storagePaths: Object.freeze(paths) } : {}),
  });
}

/** The parser intake's per-client rate limit (services/parser/src/ratelimit.ts). */
export interface IntakeConfig {
  /** VIRTFLOW_INTAKE_RATE (0: unlimited): jobs one client may submit per window. */
  readonly rate: number;
  /** VIRTFLOW_INTAKE_WINDOW_MS (1000): the window. */
  readonly windowMs: number;
}

/** Parses the intake variables; throws ConfigError naming the first bad one. */
export function loadIntakeConfig(env: Env = process.env): IntakeConfig {
  return Object.freeze({ rate: int(env, 'VIRTFLOW_INTAKE_RATE', 0, 0, 1_000_000_000), windowMs: int(env, 'VIRTFLOW_INTAKE_WINDOW_MS', 1_000, 1, 86_400_000) });
}
