/**
 * The QEMU process and its run folder: spawning detached (the VM outlives the
 * agent), waiting for the QMP socket, telling whether a pid still is the qemu
 * of a given domain, and killing it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { VirtError } from '@virtflow/model';
import { QmpClient } from './qmp.ts';

/** Spawns qemu in its own session with stdout/stderr appended to `logPath`; the agent does not wait for it. */
export function spawnDetached(emulator: string, argv: readonly string[], logPath: string): ChildProcess {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(emulator, argv, { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** The pid's state letter from /proc (R, S, Z, ...), undefined when there is no such process. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie. */
export function pidAlive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

/** Whether `pid` is a qemu started with `-uuid <uuid>` (its /proc cmdline says so). */
export function isQemuOf(pid: number, uuid: string): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const exe = args[0] ?? '';
    if (!/qemu/.test(exe.slice(exe.lastIndexOf('/') + 1))) return false;
    const i = args.indexOf('-uuid');
    return i >= 0 && args[i + 1]?.toLowerCase() === uuid.toLowerCase() && pidAlive(pid);
  } catch {
    return false;
  }
}

/**
 * Every live qemu on this host by its `-pidfile` argument, from /proc: finds a
 * qemu whose pidfile does not exist yet (the agent died between spawning it
 * and QEMU writing its pidfile) or was removed. One /proc walk serves a whole list().
 */
export function qemusByPidfile(): Map<string, number> {
  const out = new Map<string, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      const exe = args[0] ?? '';
      const i = args.indexOf('-pidfile');
      if (i >= 0 && /qemu/.test(exe.slice(exe.lastIndexOf('/') + 1)) && pidAlive(Number(e))) out.set(args[i + 1]!, Number(e));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/** The value after `flag` on the pid's command line. */
export function cmdlineArg(pid: number, flag: string): string | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  } catch {
    return undefined;
  }
}

export async function readPidfile(path: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The last lines of a log, for error messages. */
export async function logTail(path: string, lines = 6): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Connects to the QMP socket of a qemu being started: retries until it
 * answers, failing early (libvirt's "process exited while connecting to
 * monitor") if the process dies first.
 */
export async function connectWhenReady(qmpPath: string, exited: () => boolean, logPath: string, timeoutMs: number): Promise<QmpClient> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 50)) {
    if (exited()) throw new VirtError('INTERNAL_ERROR', `process exited while connecting to monitor: ${await logTail(logPath)}`);
    try {
      return await QmpClient.connect(qmpPath, { timeoutMs: Math.max(1000, deadline - Date.now()) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED') {
        // A reset or a close before the greeting: QEMU is most likely dying. Let it finish.
        for (let i = 0; i < 50 && !exited(); i++) await sleep(20);
        if (exited()) throw new VirtError('INTERNAL_ERROR', `process exited while connecting to monitor: ${await logTail(logPath)}`);
        if (code !== 'ECONNRESET' && code !== 'EPIPE') throw e;
      }
    }
    if (Date.now() > deadline) throw new VirtError('OPERATION_TIMEOUT', `qemu's monitor ${qmpPath} did not answer within ${timeoutMs} ms`);
    await sleep(delay);
  }
}

/** SIGTERM, then SIGKILL after `graceMs` (virProcessKillPainfully); resolves once the pid is gone. */
export async function killPainfully(pid: number, graceMs = 3000): Promise<void> {
  const gone = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!pidAlive(pid)) return true;
      await sleep(10);
    }
    return !pidAlive(pid);
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await gone(graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  if (!(await gone(5000))) throw new VirtError('INTERNAL_ERROR', `qemu pid ${pid} did not die after SIGKILL`);
}

const hostCpuProbe = new Map<string, Promise<readonly string[]>>();

/**
 * The flags `-cpu host` needs on this host under KVM. Some nested hosts refuse
 * the IA32_ARCH_CAPABILITIES MSR QEMU 7.2 sets for `host`/`max` and QEMU
 * aborts ("failed to set MSR 0x10a"): there `-arch-capabilities` is needed.
 * Probed once per emulator by starting a paused guest (-S) and seeing
 * whether it survives its first register write.
 */
export function hostCpuFlags(emulator: string): Promise<readonly string[]> {
  let p = hostCpuProbe.get(emulator);
  if (!p) {
    p = (async () => {
      if (await cpuStarts(emulator, 'host')) return [];
      if (await cpuStarts(emulator, 'host,-arch-capabilities')) return ['-arch-capabilities'];
      return [];
    })();
    hostCpuProbe.set(emulator, p);
  }
  return p;
}

function cpuStarts(emulator: string, cpu: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(emulator, ['-machine', 'pc,accel=kvm', '-cpu', cpu, '-m', '16', '-nodefaults', '-no-user-config', '-display', 'none', '-S', '-qmp', 'stdio'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    let greeted = false;
    let settled = false;
    const timer = setTimeout(() => finish(false), 10_000);
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(ok);
    };
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      // QEMU greets, then writes the vCPU registers and aborts if KVM refuses an
      // MSR: alive half a second after its greeting, it accepted them.
      if (out.includes('"QMP"') && !greeted) {
        greeted = true;
        setTimeout(() => finish(child.exitCode === null && child.signalCode === null), 500);
      }
    });
    child.on('exit', () => finish(false));
    child.on('error', () => finish(false));
  });
}
