/**
 * The host agent: `node --import tsx services/host-agent/src/main.ts`.
 *
 * VIRTFLOW_HOST_ID, VIRTFLOW_HYPERVISOR=qemu|test, VIRTFLOW_NATS_URL, VIRTFLOW_RUN_DIR,
 * VIRTFLOW_HTTP_PORT / VIRTFLOW_HTTP_HOST (/healthz, /metrics), VIRTFLOW_CONCURRENCY,
 * VIRTFLOW_HEARTBEAT_MS, VIRTFLOW_ACK_WAIT_MS, VIRTFLOW_START_RECOVERY_MS, VIRTFLOW_LOG_LEVEL;
 * for the QEMU hypervisor VIRTFLOW_QEMU_KVM=auto|on|off (auto, the default: KVM when /dev/kvm
 * opens read-write; off forces TCG, as on a host without KVM — slower starts, for tests);
 * for the test hypervisor VIRTFLOW_TEST_CPUS, VIRTFLOW_TEST_MEMORY_KIB,
 * VIRTFLOW_TEST_DELAYS (`start=2000,...`), VIRTFLOW_TEST_GUEST_SHUTDOWN_MS;
 * VIRTFLOW_STORAGE_PATHS (colon-separated folders every host path of a definition must lie
 * under; unset: no restriction), VIRTFLOW_NATS_USER with _PASSWORD or VIRTFLOW_NATS_NKEY_SEED_FILE,
 * VIRTFLOW_NATS_TLS_CA/_CERT/_KEY (packages/runtime/src/security/README.md). A wrong value
 * stops the agent with a message naming the variable (exit code 2).
 *
 * SIGTERM/SIGINT drain: no new command is taken, the running ones finish, the
 * domains keep running. After a SIGKILL the next start redelivers the commands
 * that were not acked, and the interrupted ones resume (execute.ts).
 */
import { mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, EventStore, connectNats, serveHealthAndMetrics, hostCapabilities, loadAgentConfig, loadConfig, loadSecurityConfig, natsSecurityOptions, type AgentConfig, type NatsOptions, type SecurityConfig } from '@virtflow/runtime';
import { Agent } from './agent.ts';
import { jsonLogger, type Logger } from './log.ts';
import { AgentMetrics } from './metrics.ts';
import { createTestHypervisor, type TestOperation } from './hypervisor/test/index.ts';
import type { Hypervisor } from './hypervisor/types.ts';

/** VIRTFLOW_QEMU_KVM as the QEMU hypervisor's `kvm` option. */
function qemuKvm(v: string | undefined): 'auto' | boolean {
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new ConfigError('VIRTFLOW_QEMU_KVM', `must be auto, on or off, not '${v}'`);
}

async function qemuHypervisor(runDir: string, kvm: 'auto' | boolean, log: Logger): Promise<Hypervisor> {
  let mod: { createQemuHypervisor?: (o: { runDir: string; kvm?: 'auto' | boolean; log?: Logger; capabilities?: () => ReturnType<typeof hostCapabilities> }) => Hypervisor };
  try {
    mod = (await import('./hypervisor/qemu/index.ts')) as typeof mod;
  } catch (e) {
    throw new Error(`VIRTFLOW_HYPERVISOR=qemu: the QEMU hypervisor could not be loaded from services/host-agent/src/hypervisor/qemu/index.ts (${(e as Error).message}); use VIRTFLOW_HYPERVISOR=test meanwhile`);
  }
  if (typeof mod.createQemuHypervisor !== 'function') throw new Error('VIRTFLOW_HYPERVISOR=qemu: hypervisor/qemu/index.ts has no createQemuHypervisor(options)');
  return mod.createQemuHypervisor({ runDir, kvm, log, capabilities: hostCapabilities });
}

function hypervisorFor(a: AgentConfig, kvm: 'auto' | boolean, log: Logger): Promise<Hypervisor> | Hypervisor {
  if (a.hypervisor === 'qemu') return qemuHypervisor(a.runDir, kvm, log);
  return createTestHypervisor({
    cpus: a.testCpus, memoryKiB: a.testMemoryKiB, delays: a.testDelays as Partial<Record<TestOperation, number>>,
    guestShutdownMs: a.testGuestShutdownMs, stateFile: join(a.runDir, 'test-hypervisor.json'),
  });
}

async function main(): Promise<void> {
  let config;
  let agentConfig: AgentConfig;
  let security: SecurityConfig;
  let natsOptions: NatsOptions;
  let kvm: 'auto' | boolean;
  try {
    config = loadConfig(process.env, { hostId: hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) });
    agentConfig = loadAgentConfig(process.env, { hostId: config.hostId, tmpdir: tmpdir() });
    security = loadSecurityConfig(process.env);
    natsOptions = natsSecurityOptions(security);
    kvm = qemuKvm(process.env['VIRTFLOW_QEMU_KVM']);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`virtflow-agent: ${e.message}`);
    process.exit(2);
  }
  const log = jsonLogger({ service: 'virtflow-agent', hostId: config.hostId }, config.logLevel);
  mkdirSync(agentConfig.runDir, { recursive: true });
  const hypervisor = await hypervisorFor(agentConfig, kvm, log);
  const nc = await connectNats([...config.natsUrl], { ...natsOptions, replicas: config.natsReplicas });
  const store = await EventStore.open(nc);
  const metrics = new AgentMetrics();
  const agent = await Agent.start({
    hostId: config.hostId, nc, store, hypervisor, log, metrics, concurrency: config.concurrency, heartbeatMs: agentConfig.heartbeatMs,
    ackWaitMs: agentConfig.ackWaitMs, startRecoveryMs: agentConfig.startRecoveryMs,
    ...(security.storagePaths ? { storagePaths: security.storagePaths } : {}),
  });
  let stopping = false;
  const http = await serveHealthAndMetrics(config.httpHost, config.httpPort, () => {
    const s = agent.status();
    const ok = !stopping && s.ready && !nc.isClosed();
    return { ok, ...s, reconcile: s.reconcile && { ...s.reconcile, unexpected: s.reconcile.unexpected.map((d) => d.uuid) } };
  }, metrics);
  // Always printed, whatever the log level: supervisors and tests wait for it.
  console.log(JSON.stringify({ level: 'info', msg: 'virtflow-agent ready', hostId: config.hostId, pid: process.pid, hypervisor: hypervisor.kind, http: http.url }));

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'virtflow-agent stopping', { signal });
    await agent.stop(); // the running commands finish; domains keep running
    await store.close();
    await nc.drain();
    http.close();
    log('info', 'virtflow-agent stopped', {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e) => {
  console.error('virtflow-agent:', e);
  process.exit(1);
});
