/**
 * libvirtd with its QEMU driver, for the suites that compare with
 * qemu:///system. Started through the oracle's own setup.sh (idempotent; needs
 * root and Debian's packages), once per run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { oracleDir } from './libvirt-data.ts';

let state: string | undefined | null = null;

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
  } catch (e) {
    return (state = `needs libvirtd: ${setup} failed: ${(e as Error).message.split('\n')[0]}`);
  }
  return (state = answers() ? undefined : 'needs libvirtd: qemu:///system does not answer after setup.sh');
}
