/** Assembles Capabilities from what a probe read off the host (or a snapshot). */
import { parseCpuHelp, parseMachineHelp, parseQemuVersion } from './qemu-help.ts';
import type { Capabilities, GuestCaps } from './types.ts';

export interface QemuProbe {
  readonly hostArch: string;
  readonly kvm: boolean;
  readonly cpus?: number;
  readonly memoryKiB?: number;
  /** One entry per emulator binary found. */
  readonly emulators: ReadonlyArray<{ arch: string; path: string; machineHelp: string; cpuHelp?: string; version?: string }>;
  readonly source: string;
}

const WORDSIZE: Record<string, number> = { i686: 32, x86_64: 64, aarch64: 64, armv7l: 32, ppc64: 64, ppc64le: 64, s390x: 64, riscv64: 64 };

export function buildQemuCaps(probe: QemuProbe): Capabilities {
  const guests: GuestCaps[] = probe.emulators.map((e) => ({
    osType: 'hvm',
    arch: e.arch,
    wordsize: WORDSIZE[e.arch] ?? 64,
    emulator: e.path,
    machines: parseMachineHelp(e.machineHelp),
    // KVM can only run guests of the host's own arch family.
    domains: [{ type: 'qemu' }, ...(probe.kvm && sameFamily(e.arch, probe.hostArch) ? [{ type: 'kvm' }] : [])],
  }));
  const host = probe.emulators.find((e) => e.arch === probe.hostArch) ?? probe.emulators[0];
  return {
    host: { arch: probe.hostArch, ...(probe.cpus ? { cpus: probe.cpus } : {}), ...(probe.memoryKiB ? { memoryKiB: probe.memoryKiB } : {}) },
    guests,
    cpuModels: host?.cpuHelp ? parseCpuHelp(host.cpuHelp) : [],
    source: probe.source,
    ...(host?.version ? { qemuVersion: parseQemuVersion(host.version) ?? host.version } : {}),
  };
}

function sameFamily(a: string, b: string): boolean {
  const x86 = ['i686', 'x86_64'];
  return a === b || (x86.includes(a) && x86.includes(b));
}
