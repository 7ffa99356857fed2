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

/** The port asked for, or — when it is 0 or already taken — one the kernel hands out. */
export async function pickPort(want: number): Promise<number> {
  const tryListen = (port: number) => new Promise<number | undefined>((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : undefined));
    });
  });
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

export async function startRedis(dir: string, port: number, logs: string): Promise<{ child: Child; url: string }> {
  const data = join(dir, 'redis');
  mkdirSync(data, { recursive: true });
  const p = await pickPort(port);
  // Append-only file: jobs survive a restart of `up`.
  const child = startChild('redis', need('redis-server'), ['--port', String(p), '--bind', '127.0.0.1', '--dir', data, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'], {
    env: process.env, log: join(logs, 'redis.log'),
  });
  await waitPort(p, child);
  return { child, url: `redis://127.0.0.1:${p}` };
}

export async function startNats(dir: string, port: number, logs: string): Promise<{ child: Child; url: string }> {
  const data = join(dir, 'nats');
  mkdirSync(data, { recursive: true });
  const p = await pickPort(port);
  const child = startChild('nats', need('nats-server'), ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', data], { env: process.env, log: join(logs, 'nats.log') });
  await waitPort(p, child);
  return { child, url: `nats://127.0.0.1:${p}` };
}
