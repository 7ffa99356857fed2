/**
 * The child processes of `virtflow up`: each in its own process group (so a
 * terminal's Ctrl-C reaches `up` alone and the children stop in order, the
 * servers last), its output in a log file, stopped with SIGTERM and, after a
 * grace period, SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly log: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when a line of its output matches, rejects when it exits first or the time runs out. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(graceMs?: number): Promise<void>;
}

export function startChild(name: string, cmd: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; log: string; cwd?: string }): Child {
  const out: WriteStream = createWriteStream(opts.log, { flags: 'a' });
  const proc = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out.write(d);
    // Only the recent output is searched: readiness lines come early and logs can grow without end.
    text = (text + d.toString('utf8')).slice(-64 * 1024);
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      out.end();
      resolve({ code, signal });
      for (const l of listeners) l();
    });
    proc.once('error', (e) => {
      out.end(`${name}: ${e.message}\n`);
      resolve({ code: 127, signal: null });
      for (const l of listeners) l();
    });
  });
  const child: Child = {
    name, proc, pid: proc.pid ?? -1, log: opts.log, exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`${name} did not get ready within ${timeoutMs / 1000} s (log: ${opts.log})`)), timeoutMs);
        const check = () => {
          const m = pattern.exec(text);
          if (m) return done(undefined, m[0]);
          if (proc.exitCode !== null || proc.signalCode !== null) done(new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before it was ready: ${text.trim().split('\n').slice(-3).join(' | ')}`));
        };
        const done = (e?: Error, line?: string) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (e) reject(e);
          else resolve(line!);
        };
        listeners.add(check);
        check();
      });
    },
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
      signalGroup(proc.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(proc.pid!, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Anything the child itself started (its group) goes with it.
      signalGroup(proc.pid, 'SIGKILL');
    },
  };
  return child;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}
