/**
 * libvirtd with its QEMU driver, for the suites that compare with
 * qemu:///system. Started through the oracle's own setup.sh (idempotent; needs
 * root and Debian's packages), once per run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { oracleDir } from './libvirt-data.ts';

let state: string | undefined | null = null;
let startedHere = false;

function answers(): boolean {
  try {
    execFileSync('virsh', ['-c', 'qemu:///system', 'version'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** Undefined when qemu:///system answers; else why it cannot. */
export function libvirtdMissing(): string | undefined {
  if (state !== null) return state;
  if (answers()) return (state = undefined);
  const setup = join(oracleDir, 'setup.sh');
  if (!existsSync(setup)) return (state = `needs libvirtd: ${setup} is absent`);
  if (process.getuid?.() !== 0) return (state = `needs libvirtd: run ${setup} as root`);
  try {
    execFileSync('bash', [setup], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
    startedHere = true;
  } catch (e) {
    return (state = `needs libvirtd: ${setup} failed: ${(e as Error).message.split('\n')[0]}`);
  }
  return (state = answers() ? undefined : 'needs libvirtd: qemu:///system does not answer after setup.sh');
}

/** Stops the libvirtd this run started (a suite leaves no daemon behind); one started by someone else stays. */
export function stopLibvirtdIfStarted(): void {
  if (!startedHere) return;
  try {
    const pid = Number(readFileSync('/var/run/libvirtd.pid', 'utf8').trim());
    if (pid > 0) process.kill(pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
  startedHere = false;
  state = null;
}
