/**
 * A real cluster for the CLI tests: the harness's redis-server and
 * nats-server, the parser service and two host agents on the test hypervisor
 * in this process, and the scheduler as its own process when this checkout
 * has one (services/scheduler/src/main.ts). `virtflow` runs as a child
 * process, exactly as a user runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { bookwormQemuCaps, defaultRegistry, type DriverRegistry } from '@virtflow/model';
import { EventStore, connectNats } from '@virtflow/runtime';
import { startParser, type ParserService } from '@virtflow/parser';
import { Agent, createTestHypervisor } from '@virtflow/host-agent';
import { startServers, type Servers } from '../harness/index.ts';
import { children } from '../support/children.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(REPO, 'packages/client/src/cli.ts');
export const SCHEDULER_MAIN = join(REPO, 'services/scheduler/src/main.ts');
export const hasScheduler = (): boolean => existsSync(SCHEDULER_MAIN);
/** Generous: two cores shared with other suites. */
export const TIMEOUT = 120_000;

export interface Cluster {
  readonly servers: Servers;
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly hosts: readonly string[];
  /** The parser's driver registry (in this process): a test may add a policy stage to it. */
  readonly registry: DriverRegistry;
  readonly scheduler: boolean;
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

const spawned = children();

export const killAll = (): Promise<void> => spawned.killAll();

export async function startCluster(opts: { readonly scheduler?: boolean } = {}): Promise<Cluster> {
  const servers = await startServers();
  const nc = await connectNats(servers.natsUrl);
  const store = await EventStore.open(nc, { onPoison: () => undefined });
  const registry = defaultRegistry();
  const parser: ParserService = await startParser({ redisUrl: servers.redisUrl, store, caps: bookwormQemuCaps, registry, concurrency: 8, attempts: 3, backoffMs: 50 });
  const hosts = ['node1', 'node2'];
  const agents: Agent[] = [];
  const agentConns: NatsConnection[] = [];
  for (const hostId of hosts) {
    const anc = await connectNats(servers.natsUrl);
    agentConns.push(anc);
    const astore = await EventStore.open(anc, { onPoison: () => undefined });
    const hypervisor = createTestHypervisor({ cpus: 8, memoryKiB: 16 * 1024 * 1024, guestShutdownMs: 50 });
    agents.push(await Agent.start({ hostId, nc: anc, store: astore, hypervisor, heartbeatMs: 500 }));
  }
  const env = { VIRTFLOW_REDIS_URL: servers.redisUrl, VIRTFLOW_NATS_URL: servers.natsUrl };
  let scheduler: ChildProcess | undefined;
  if ((opts.scheduler ?? true) && hasScheduler()) {
    scheduler = spawn(process.execPath, ['--import', 'tsx', SCHEDULER_MAIN], {
      cwd: REPO, env: { ...process.env, ...env, VIRTFLOW_HTTP_PORT: '0', VIRTFLOW_HOST_ID: 'scheduler' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    spawned.add(scheduler);
    await waitOutput(scheduler, /virtflow-scheduler ready/, TIMEOUT, 'scheduler');
  }
  return {
    servers, nc, store, hosts, registry, env, scheduler: scheduler !== undefined,
    async stop() {
      // Killed already (killAll) or crashed: its 'exit' has fired, nothing to wait for.
      if (scheduler && scheduler.exitCode === null && scheduler.signalCode === null) {
        const exited = new Promise((r) => scheduler!.once('exit', r));
        scheduler.kill('SIGTERM');
        const t = setTimeout(() => scheduler!.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      for (const a of agents) await a.stop().catch(() => undefined);
      await parser.close();
      await store.close();
      for (const c of [nc, ...agentConns]) await c.close().catch(() => undefined);
      await servers.stop();
    },
  };
}

export function waitOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no ${pattern} within ${timeoutMs} ms: ${out.slice(-2000)}`)), timeoutMs);
    const on = (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!pattern.test(out)) reject(new Error(`${what} exited (${code}) before ${pattern}: ${out.slice(-2000)}`));
    });
  });
}

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `virtflow ARGS...` against the cluster; resolves when it exits. */
export function virtflow(cluster: Pick<Cluster, 'env'> | undefined, args: readonly string[], opts: { readonly env?: Record<string, string>; readonly cwd?: string } = {}): Promise<Ran> {
  const child = spawnVirtflow(cluster, args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

export function spawnVirtflow(cluster: Pick<Cluster, 'env'> | undefined, args: readonly string[], opts: { readonly env?: Record<string, string>; readonly cwd?: string } = {}): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // A test never reaches servers someone started by hand: only the cluster's, or those a test names.
  delete env.VIRTFLOW_REDIS_URL;
  delete env.VIRTFLOW_NATS_URL;
  Object.assign(env, cluster?.env ?? {}, opts.env ?? {});
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: opts.cwd ?? REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  spawned.add(child);
  return child;
}

export const tmp = (): string => tmpdir();
