/**
 * Host capabilities, libvirt's virCaps in plain data: what a host can run.
 * Post-parse callbacks read them (default machine, emulator path, CPU models);
 * host agents report them. Built from the real QEMU where it is installed, or
 * taken from a checked-in snapshot.
 */
export interface MachineType {
  /** As QEMU names it, e.g. `pc-i440fx-7.2`, or an alias such as `pc`. */
  readonly name: string;
  /** For an alias, the versioned machine it stands for (`pc` → `pc-i440fx-7.2`). */
  readonly canonical?: string;
  readonly maxCpus: number;
  readonly isDefault?: boolean;
  readonly deprecated?: boolean;
}

export interface GuestDomainType {
  /** `qemu` (TCG) or `kvm`, `lxc`, `xen`, `bhyve`, `test`. */
  readonly type: string;
  readonly emulator?: string;
}

export interface GuestCaps {
  /** `hvm`, `xen`, `exe`, ... */
  readonly osType: string;
  readonly arch: string;
  readonly wordsize: number;
  readonly emulator?: string;
  readonly machines: readonly MachineType[];
  readonly domains: readonly GuestDomainType[];
}

export interface CpuModel {
  readonly name: string;
  /** `Broadwell-IBRS` is an alias of `Broadwell-v3`. */
  readonly aliasOf?: string;
  readonly description?: string;
}

export interface HostCaps {
  readonly arch: string;
  readonly cpus?: number;
  readonly memoryKiB?: number;
}

export interface Capabilities {
  readonly host: HostCaps;
  readonly guests: readonly GuestCaps[];
  readonly cpuModels: readonly CpuModel[];
  /** Where the facts came from, e.g. `qemu-system-x86_64 7.2.22 (probed)` or `snapshot: Debian bookworm QEMU 7.2`. */
  readonly source: string;
  /** The emulator's version as QEMU prints it, when known. */
  readonly qemuVersion?: string;
}
