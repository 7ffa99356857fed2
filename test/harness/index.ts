/**
 * Test harness: a private redis-server and nats-server (JetStream on) on free
 * loopback ports, with their data in a temporary folder. Never a fixed port,
 * never a server someone started by hand.
 *
 *   const servers = await startServers();
 *   ... servers.redisUrl, servers.natsUrl ...
 *   await servers.stop();   // stops both and removes the folder
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Servers {
  readonly redisUrl: string;
  readonly natsUrl: string;
  readonly dir: string;
  stop(): Promise<void>;
  /**
   * Stops nats-server (SIGTERM, or SIGKILL for a crash) and starts it again on
   * the same port with the same JetStream folder. Resolves once it listens.
   */
  restartNats(opts?: { readonly signal?: 'SIGTERM' | 'SIGKILL'; readonly downMs?: number }): Promise<void>;
  /**
   * Stops redis-server (SIGTERM, or SIGKILL for a crash) and starts it again on the same
   * port with the same folder (with `redisAof` its data comes back). Resolves once it listens.
   */
  restartRedis(opts?: { readonly signal?: 'SIGTERM' | 'SIGKILL'; readonly downMs?: number }): Promise<void>;
}

export interface ServerOptions {
  readonly redis?: boolean;
  readonly nats?: boolean;
  /** Redis append-only file, for tests that restart it. */
  readonly redisAof?: boolean;
  /** The address nats-server listens on (127.0.0.1): another local address for clients in network namespaces (test/support/netns.ts). */
  readonly natsHost?: string;
  /** nats-server configuration text (users, accounts, tls): written to `<dir>/nats.conf` and passed with `-c`. */
  readonly natsConfig?: string;
  /** redis-server ACL file text: written to `<dir>/users.acl` and passed with `--aclfile`. */
  readonly redisAcl?: string;
  /** redis-server on TLS only (`--port 0 --tls-port`): PEM files; redisUrl becomes rediss://. */
  readonly redisTls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
}

/** A port the kernel just handed out on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export function findBinary(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/usr/bin'])) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  throw new Error(`${name} not found: run scripts/bootstrap (it installs it with apt-get)`);
}

async function waitForPort(port: number, proc: ChildProcess, log: string, what: string, timeoutMs = 15_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}: ${tail(log)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, host);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${host}:${port} within ${timeoutMs} ms: ${tail(log)}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-5).join('\n');
  } catch {
    return '(no log)';
  }
}

async function stopProcess(proc: ChildProcess, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export async function startServers(opts: ServerOptions = {}): Promise<Servers> {
  const dir = mkdtempSync(join(tmpdir(), 'virtflow-test-'));
  const procs: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => stopProcess(p)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let redisUrl = '';
    let natsUrl = '';
    let restartNats: Servers['restartNats'] = async () => {
      throw new Error('nats-server was not started');
    };
    let restartRedis: Servers['restartRedis'] = async () => {
      throw new Error('redis-server was not started');
    };
    if (opts.redis !== false) {
      const port = await freePort();
      const log = join(dir, 'redis.log');
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--logfile', log, '--daemonize', 'no',
        '--appendonly', opts.redisAof ? 'yes' : 'no'];
      if (opts.redisAcl !== undefined) {
        writeFileSync(join(dir, 'users.acl'), opts.redisAcl, { mode: 0o600 });
        args.push('--aclfile', join(dir, 'users.acl'));
      }
      if (opts.redisTls) {
        args[1] = '0';
        args.push('--tls-port', String(port), '--tls-cert-file', opts.redisTls.certFile, '--tls-key-file', opts.redisTls.keyFile,
          '--tls-ca-cert-file', opts.redisTls.caFile, '--tls-auth-clients', 'optional');
      }
      let proc = spawn(findBinary('redis-server'), args, { stdio: 'ignore' });
      procs.push(proc);
      await waitForPort(port, proc, log, 'redis-server');
      restartRedis = async ({ signal = 'SIGTERM', downMs = 0 } = {}) => {
        await stopProcess(proc, signal);
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
        const next = spawn(findBinary('redis-server'), args, { stdio: 'ignore' });
        procs[procs.indexOf(proc)] = next;
        proc = next;
        // Loading a large append-only file takes a while on a loaded machine.
        await waitForPort(port, next, log, 'redis-server', 60_000);
      };
      redisUrl = `${opts.redisTls ? 'rediss' : 'redis'}://127.0.0.1:${port}`;
    }
    if (opts.nats !== false) {
      const port = await freePort();
      const log = join(dir, 'nats.log');
      const natsHost = opts.natsHost ?? '127.0.0.1';
      const args = ['-a', natsHost, '-p', String(port), '-js', '-sd', join(dir, 'jetstream'), '-l', log];
      if (opts.natsConfig !== undefined) {
        writeFileSync(join(dir, 'nats.conf'), opts.natsConfig, { mode: 0o600 });
        args.push('-c', join(dir, 'nats.conf'));
      }
      let proc = spawn(findBinary('nats-server'), args, { stdio: 'ignore' });
      procs.push(proc);
      await waitForPort(port, proc, log, 'nats-server', undefined, natsHost);
      natsUrl = `nats://${natsHost}:${port}`;
      restartNats = async ({ signal = 'SIGTERM', downMs = 0 } = {}) => {
        await stopProcess(proc, signal);
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
        const next = spawn(findBinary('nats-server'), args, { stdio: 'ignore' });
        procs[procs.indexOf(proc)] = next;
        proc = next;
        await waitForPort(port, next, log, 'nats-server', undefined, natsHost);
      };
    }
    return { redisUrl, natsUrl, dir, stop, restartNats: (o) => restartNats(o), restartRedis: (o) => restartRedis(o) };
  } catch (e) {
    await stop();
    throw e;
  }
}
