/** Shared set-up of the host-agent integration tests: a private nats-server, agents on the test hypervisor, commands. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { makeCommand, type AnyEvent, type CommandArgs, type CommandOutcome, type CommandType, type DomainState } from '@virtflow/model';
import { awaitCommandResult, domainRef, openCommandResults, sendCommand, type EventStore } from '@virtflow/runtime';
import { Agent, createTestHypervisor, type AgentOptions, type TestHypervisor, type TestHypervisorOptions } from '@virtflow/host-agent';
import { startNats, type Nats } from '../events/support.ts';

export { startNats, type Nats };

/** Generous under load: two cores shared with other suites. */
export const TIMEOUT = 30_000;

export function domainXml(name: string, uuid: string, memoryMiB = 256): string {
  return `<domain type='kvm'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>${memoryMiB}</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
`;
}

export interface TestAgent {
  readonly agent: Agent;
  readonly hv: TestHypervisor;
  readonly store: EventStore;
  readonly nc: NatsConnection;
  readonly hostId: string;
}

export async function startAgent(nats: Nats, hostId: string, hv: TestHypervisorOptions = {}, opts: Partial<AgentOptions> = {}): Promise<TestAgent> {
  const nc = await nats.connect();
  const store = await nats.store();
  const hypervisor = createTestHypervisor(hv);
  const agent = await Agent.start({ hostId, nc, store, hypervisor, heartbeatMs: 500, ...opts });
  return { agent, hv: hypervisor, store, nc, hostId };
}

/** Sends a command and waits for its outcome. */
export async function command<T extends CommandType>(
  nc: NatsConnection, hostId: string, type: T, uuid: string, args: CommandArgs[T], opts: { readonly id?: string; readonly correlationId?: string } = {},
): Promise<{ outcome: CommandOutcome; id: string; correlationId: string }> {
  const correlationId = opts.correlationId ?? `job-${randomUUID()}`;
  const cmd = makeCommand(type, { hostId, uuid }, args, { correlationId, now: () => new Date(), newId: () => opts.id ?? randomUUID() });
  await sendCommand(nc, cmd);
  const outcome = await awaitCommandResult(nc, cmd, { timeoutMs: TIMEOUT, results: await openCommandResults(nc) });
  return { outcome, id: cmd.id, correlationId };
}

export async function events(store: EventStore, uuid: string): Promise<AnyEvent[]> {
  return (await store.events(domainRef(uuid))).map((e) => e.event);
}

export async function waitFor<T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = TIMEOUT): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function domainState(store: EventStore, uuid: string): Promise<DomainState | undefined> {
  return (await store.load(domainRef(uuid))).state;
}

const MAIN = new URL('../../services/host-agent/src/main.ts', import.meta.url).pathname;

export interface AgentProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly output: () => string;
}

/** services/host-agent/src/main.ts as a child process; resolves once it says it is ready. */
export async function spawnAgent(env: Record<string, string>): Promise<AgentProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const deadline = Date.now() + TIMEOUT * 2;
  while (!out.includes('virtflow-agent ready')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`agent did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, exited, output: () => out };
}

