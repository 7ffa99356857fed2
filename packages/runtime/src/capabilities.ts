/**
 * Host capabilities read off this machine: QEMU's own listings for every
 * qemu-system binary found, /dev/kvm, CPU count and memory. Where no QEMU is
 * installed, the checked-in snapshot of Debian bookworm's QEMU 7.2 is used.
 */
import { execFile } from 'node:child_process';
import { constants, accessSync, existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { buildQemuCaps, bookwormQemuCaps, type Capabilities } from '@virtflow/model';
import { readNumaCells } from './numa.ts';

const run = promisify(execFile);

/** qemu-system binary → libvirt arch. */
const EMULATORS: ReadonlyArray<[string, string]> = [
  ['x86_64', '/usr/bin/qemu-system-x86_64'],
  ['i686', '/usr/bin/qemu-system-i386'],
  ['aarch64', '/usr/bin/qemu-system-aarch64'],
];

export async function kvmUsable(): Promise<boolean> {
  try {
    const fh = await open('/dev/kvm', constants.O_RDWR);
    await fh.close();
    return true;
  } catch {
    return false;
  }
}

function hostArch(): string {
  return process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch === 'ia32' ? 'i686' : process.arch;
}

function memoryKiB(): number | undefined {
  try {
    return Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) || undefined;
  } catch {
    return undefined;
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Probes the real QEMU binaries; undefined where none is installed. */
export async function probeQemuCapabilities(): Promise<Capabilities | undefined> {
  const found = EMULATORS.filter(([, path]) => existsSync(path) && executable(path));
  if (found.length === 0) return undefined;
  const emulators = await Promise.all(
    found.map(async ([arch, path]) => {
      const [machine, cpu, version] = await Promise.all([
        run(path, ['-machine', 'help']),
        run(path, ['-cpu', 'help']),
        run(path, ['--version']),
      ]);
      return { arch, path, machineHelp: machine.stdout, cpuHelp: cpu.stdout, version: version.stdout };
    }),
  );
  const mem = memoryKiB();
  const caps = buildQemuCaps({
    hostArch: hostArch(),
    kvm: await kvmUsable(),
    cpus: availableParallelism(),
    ...(mem ? { memoryKiB: mem } : {}),
    emulators,
    source: `probed: ${found.map(([, p]) => p).join(', ')}`,
  });
  const numaCells = readNumaCells();
  return numaCells ? { ...caps, host: { ...caps.host, numaCells } } : caps;
}

/** The host's capabilities: probed where QEMU is installed, else the bookworm snapshot. */
export async function hostCapabilities(): Promise<Capabilities> {
  return (await probeQemuCapabilities()) ?? bookwormQemuCaps;
}
