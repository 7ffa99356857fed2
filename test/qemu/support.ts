/**
 * Shared pieces of the QEMU hypervisor suites: whether qemu is here, enriched
 * definitions, a private run folder per test whose qemu processes are killed
 * (process group) and whose files are removed even when the test fails, and a
 * recorder of lifecycle changes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { defineDomain, defaultRegistry, type Capabilities, type DomainDef } from '@virtflow/model';
import { hostCapabilities } from '@virtflow/runtime';
import { buildArgv, runPaths, type RunPaths } from '../../services/host-agent/src/hypervisor/qemu/index.ts';
import type { Hypervisor, LifecycleChange } from '../../services/host-agent/src/hypervisor/types.ts';

export const QEMU = '/usr/bin/qemu-system-x86_64';

/** Undefined when qemu-system-x86_64 runs here; else why the suite skips. */
export function qemuMissing(): string | undefined {
  if (!existsSync(QEMU)) return `needs ${QEMU} (apt-get install qemu-system-x86)`;
  try {
    execFileSync(QEMU, ['--version'], { stdio: 'ignore', timeout: 20_000 });
    return undefined;
  } catch (e) {
    return `${QEMU} does not run: ${(e as Error).message.split('\n')[0]}`;
  }
}

let caps: Promise<Capabilities> | undefined;

/** The domain as the qemu driver post-parses it on this host. */
export async function define(xml: string): Promise<DomainDef> {
  caps ??= hostCapabilities();
  return defineDomain(xml, { caps: await caps, registry: defaultRegistry() }).def;
}

/** A small domain with nothing to boot: SeaBIOS idles, which is all a lifecycle test needs. */
export function smallXml(name: string, opts: { type?: 'kvm' | 'qemu'; extraDevices?: string; os?: string; features?: string } = {}): string {
  return `<domain type='${opts.type ?? 'kvm'}'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>${opts.os ?? ''}</os>
  ${opts.features ?? ''}
  <devices>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
    ${opts.extraDevices ?? ''}
  </devices>
</domain>`;
}

/** Kills every qemu whose pidfile is under `runDir` (its whole process group), then removes the folder. */
export function cleanupRunDir(runDir: string): void {
  if (!existsSync(runDir)) return;
  for (const entry of readdirSync(runDir)) {
    const pidfile = join(runDir, entry, 'qemu.pid');
    if (!existsSync(pidfile)) continue;
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    if (!(pid > 0)) continue;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  rmSync(runDir, { recursive: true, force: true });
}

/** A private run folder, cleaned up after the test whatever its outcome. */
export function runDirFor(t: TestContext): string {
  // Short: the QMP socket path must fit a sockaddr_un.
  const dir = mkdtempSync(join(tmpdir(), 'vfq-'));
  t.after(() => cleanupRunDir(dir));
  return dir;
}

/** Every lifecycle change a hypervisor emits, with a way to wait for one. */
export class Recorder {
  readonly changes: LifecycleChange[] = [];
  #waiters: Array<() => void> = [];
  readonly off: () => void;

  constructor(h: Hypervisor) {
    this.off = h.onLifecycle((c) => {
      this.changes.push(c);
      for (const w of this.#waiters) w();
    });
  }

  /** `event/detail` strings for one domain, in order. */
  of(uuid: string): string[] {
    return this.changes.filter((c) => c.uuid === uuid).map((c) => ('detail' in c ? `${c.event}/${c.detail}` : c.event));
  }

  async waitFor(uuid: string, what: string, timeoutMs: number): Promise<number> {
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.of(uuid).includes(what)) {
          clearTimeout(timer);
          this.#waiters = this.#waiters.filter((w) => w !== check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(new Error(`no ${what} for ${uuid} within ${timeoutMs} ms; saw ${JSON.stringify(this.of(uuid))}`));
      }, timeoutMs);
      this.#waiters.push(check);
      check();
    });
    return Date.now() - started;
  }
}

/** A free loopback TCP port (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Waits until `file` contains `marker`. */
export async function waitForFile(file: string, marker: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if (readFileSync(file, 'utf8').includes(marker)) return;
    } catch {
      // Not written yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let tail = '';
  try {
    tail = readFileSync(file, 'utf8').slice(-400);
  } catch {
    tail = '(no file)';
  }
  throw new Error(`'${marker}' not in ${file} within ${timeoutMs} ms; it ends: ${tail}`);
}

export { tmpdir };

/**
 * What an agent killed in the middle of start() leaves: a qemu started with
 * -S (CPUs never continued) from its run folder, its pidfile written, for a
 * small domain of that name or the definition given. Killed when the test ends.
 */
export async function spawnHalfStarted(t: TestContext, runDir: string, nameOrDef: string | DomainDef): Promise<{ def: DomainDef; uuid: string; paths: RunPaths; pid: number }> {
  const def = typeof nameOrDef === 'string' ? await define(smallXml(nameOrDef)) : nameOrDef;
  const uuid = def.uuid!;
  const paths = runPaths(runDir, uuid);
  mkdirSync(paths.dir, { recursive: true });
  const child = spawn(QEMU, buildArgv(def, { kvm: false, paths }), { detached: true, stdio: 'ignore' });
  child.unref();
  t.after(() => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      // Gone.
    }
  });
  await waitForFile(paths.pidfile, String(child.pid), 20_000);
  return { def, uuid, paths, pid: child.pid! };
}

/**
 * The domain type the tiny guest boots under: 'kvm' where KVM really boots a
 * Linux kernel, else 'qemu' (TCG). Some nested hosts open /dev/kvm and run
 * firmware, yet hang in the kernel's early boot; so this boots the guest once
 * under KVM (20 s at most) and remembers the answer in the guest cache, per
 * host kernel and guest kernel.
 */
export async function guestDomainType(guest: { kernel: string; initrd: string; cmdline: string; readyMarker: string }): Promise<'kvm' | 'qemu'> {
  const { kvmUsable } = await import('@virtflow/runtime');
  if (!(await kvmUsable())) return 'qemu';
  const { release } = await import('node:os');
  const { dirname } = await import('node:path');
  const { writeFileSync } = await import('node:fs');
  const { spawn } = await import('node:child_process');
  const stamp = join(dirname(guest.kernel), `kvm-boots-on-${release()}`);
  if (existsSync(stamp)) return readFileSync(stamp, 'utf8').trim() === 'yes' ? 'kvm' : 'qemu';
  const { hostCpuFlags } = await import('../../services/host-agent/src/hypervisor/qemu/process.ts');
  const cpu = ['host', ...(await hostCpuFlags(QEMU))].join(',');
  const boots = await new Promise<boolean>((resolve) => {
    const child = spawn(QEMU, ['-machine', 'pc,accel=kvm', '-cpu', cpu, '-m', '256', '-nodefaults', '-no-user-config', '-display', 'none',
      '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', guest.cmdline, '-serial', 'stdio'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 20_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes(guest.readyMarker)) done(true);
    });
    child.on('exit', () => done(false));
  });
  writeFileSync(stamp, boots ? 'yes\n' : 'no\n');
  return boots ? 'kvm' : 'qemu';
}
