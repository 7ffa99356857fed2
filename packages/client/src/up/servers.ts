/** redis-server and nats-server for `virtflow up`, from PATH, with their data under the up folder. */
import { existsSync, mkdirSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { join } from 'node:path';
import { startChild, type Child } from './children.ts';

export function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'])) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function need(name: string): string {
  const p = findBinary(name);
  if (!p) throw new Error(`${name} is not installed: run 'bash scripts/bootstrap' (it installs it with apt-get), or point VIRTFLOW_${name.startsWith('redis') ? 'REDIS' : 'NATS'}_URL at a running server`);
  return p;
}

/** Listens on 127.0.0.1:port (0: any) for a moment; the port it got, or undefined when it is taken. */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : undefined));
    });
  });
}

/** The port asked for, or — when it is 0 or already taken — one the kernel hands out. */
export async function pickPort(want: number): Promise<number> {
  return (want > 0 ? await tryListen(want) : undefined) ?? (await tryListen(0))!;
}

export async function waitPort(port: number, child: Child, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited with ${child.proc.exitCode} (log: ${child.log})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000} s (log: ${child.log})`);
}

export interface StartedServer {
  readonly child: Child;
  readonly url: string;
  readonly port: number;
  /** Why it is not on the port asked for (that one was taken by another program), for the user. */
  readonly moved?: string;
}

interface ServerSpec {
  readonly name: 'redis' | 'nats';
  readonly bin: string;
  readonly scheme: string;
  args(port: number): string[];
  /** The line the server prints once it listens: proof that the port answers to this child and not to someone else's server. */
  readonly ready: RegExp;
}

/**
 * Starts the server on `want`, or on a free port when `want` is taken by
 * another program (a system redis-server on 6379, say): `up` never talks to
 * a server it did not start unless VIRTFLOW_*_URL says so. A port taken
 * between the check and the server's bind (another program was quicker)
 * is given up for a new free one, twice at most.
 */
async function startServer(spec: ServerSpec, want: number, logs: string): Promise<StartedServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort(attempt === 1 ? want : 0);
    const child = startChild(spec.name, spec.bin, spec.args(port), { env: process.env, log: join(logs, `${spec.name}.log`) });
    try {
      // Generous: a large append-only file is loaded before redis says it is ready.
      await child.waitFor(spec.ready, 60_000);
      await waitPort(port, child);
      const moved = want > 0 && port !== want ? `port ${want} is taken by another program` : undefined;
      return { child, url: `${spec.scheme}://127.0.0.1:${port}`, port, ...(moved ? { moved } : {}) };
    } catch (e) {
      await child.stop();
      if (attempt < 3 && (await tryListen(port)) === undefined) continue;
      throw e;
    }
  }
}

export async function startRedis(dir: string, port: number, logs: string): Promise<StartedServer> {
  const data = join(dir, 'redis');
  mkdirSync(data, { recursive: true });
  // Append-only file: jobs survive a restart of `up`.
  return startServer({
    name: 'redis', bin: need('redis-server'), scheme: 'redis', ready: /Ready to accept connections/,
    args: (p) => ['--port', String(p), '--bind', '127.0.0.1', '--dir', data, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'],
  }, port, logs);
}

export async function startNats(dir: string, port: number, logs: string): Promise<StartedServer> {
  const data = join(dir, 'nats');
  mkdirSync(data, { recursive: true });
  return startServer({
    name: 'nats', bin: need('nats-server'), scheme: 'nats', ready: /Server is ready/,
    args: (p) => ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', data],
  }, port, logs);
}
