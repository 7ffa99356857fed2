/**
 * A JetStream cluster of nats-server processes on loopback (the compose
 * file's three nodes, here), each with its own store folder, routes to the
 * others and a server name; stops them afterwards. For the tests of what
 * replicas buy: a stream on three nodes survives one node's loss.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { findBinary, freePort } from './index.ts';

export interface NatsCluster {
  /** Client URLs, one per node. */
  readonly urls: readonly string[];
  /** Server names: n1, n2, ... */
  readonly names: readonly string[];
  /** SIGKILLs one node (by server name): a machine lost. */
  kill(name: string): Promise<void>;
  stop(): Promise<void>;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export async function startNatsCluster(size = 3, readyMs = 60_000): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'virtflow-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const names = ports.map((_, i) => `n${i + 1}`);
  const procs = new Map<string, ChildProcess>();
  const stopOne = async (p: ChildProcess, signal: NodeJS.Signals) => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  };
  const stop = async () => {
    await Promise.all([...procs.values()].map((p) => stopOne(p, 'SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    names.forEach((name, i) => {
      const sd = join(dir, name);
      mkdirSync(sd);
      const p = spawn(findBinary('nats-server'), [
        '-a', '127.0.0.1', '-p', String(ports[i]), '-js', '-sd', sd, '--server_name', name,
        '--cluster_name', 'virtflow-test', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes,
        '-l', join(dir, `${name}.log`),
      ], { stdio: 'ignore' });
      procs.set(name, p);
    });
    const deadline = Date.now() + readyMs;
    for (const port of ports) while (!(await listening(port))) {
      if (Date.now() > deadline) throw new Error(`nats-server on ${port} did not listen: ${dir}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // JetStream answers once the nodes have elected a meta leader.
    const nc = await connect({ servers: ports.map((p) => `nats://127.0.0.1:${p}`) });
    try {
      for (;;) {
        const ok = await jetstreamManager(nc, { timeout: 2_000 }).then((jsm) => jsm.getAccountInfo()).then(() => true, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`the JetStream cluster elected no leader within ${readyMs} ms: ${dir}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await nc.close();
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    urls: ports.map((p) => `nats://127.0.0.1:${p}`),
    names,
    kill: async (name) => {
      const p = procs.get(name);
      if (!p) throw new Error(`no node ${name}`);
      await stopOne(p, 'SIGKILL');
    },
    stop,
  };
}
