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
  /**
   * The CPU model QEMU gives the machine when none is asked for (`qemu64`),
   * when the capabilities say it (libvirt's caps cache records it per
   * machine); absent from QEMU's `-machine help`.
   */
  readonly defaultCPU?: string;
  /** QEMU can hotplug vCPUs on the machine (caps cache `hotplugCpus`). */
  readonly hotplugCpus?: boolean;
  /** The machine still accepts `-numa node,mem=` (caps cache `numaMemSupported`). */
  readonly numaMemSupported?: boolean;
  /** The id of the machine's RAM region (`pc.ram`), when the capabilities say it. */
  readonly defaultRAMid?: string;
}

export interface GuestDomainType {
  /** `qemu` (TCG) or `kvm`, `lxc`, `xen`, `bhyve`, `test`. */
  readonly type: string;
  readonly emulator?: string;
  /**
   * The machine types this accelerator offers, when known apart from the
   * guest's list (libvirt's caps cache keeps one list per accelerator). The
   * order is libvirt's: the first entry is the preferred machine
   * (virQEMUCapsGetPreferredMachine). Entries as in GuestCaps.machines: an
   * alias is its own entry, with `canonical`, before the machine it names.
   */
  readonly machines?: readonly MachineType[];
}

export interface GuestCaps {
  /** `hvm`, `xen`, `exe`, ... */
  readonly osType: string;
  readonly arch: string;
  readonly wordsize: number;
  readonly emulator?: string;
  readonly machines: readonly MachineType[];
  readonly domains: readonly GuestDomainType[];
  /**
   * The emulator binary's QEMU capability flags, named as libvirt's caps
   * cache names them (`qemu-xhci`, `cpu.migratable`), when the capabilities
   * were read from such a cache (qemu-caps-xml.ts). Absent when only QEMU's
   * listings were probed: the QEMU driver then assumes its built-in list.
   * Per guest because libvirt keeps one set per binary.
   */
  readonly qemuFlags?: readonly string[];
}

export interface CpuModel {
  readonly name: string;
  /** `Broadwell-IBRS` is an alias of `Broadwell-v3`. */
  readonly aliasOf?: string;
  readonly description?: string;
  /** QOM type name (`qemu64-x86_64-cpu`), when the capabilities say it. */
  readonly typename?: string;
  /** Whether the host can run the model as is, when probed (caps cache `usable`). */
  readonly usable?: 'yes' | 'no' | 'unknown';
  readonly deprecated?: boolean;
}

export interface HostCaps {
  readonly arch: string;
  readonly cpus?: number;
  readonly memoryKiB?: number;
  /** The host's NUMA cells (`virsh capabilities` <topology><cells>: id, memory, CPU ids), when the capabilities carry them: the scheduler's NUMA fit. */
  readonly numaCells?: readonly { readonly id: number; readonly memoryKiB: number; readonly cpus: readonly number[] }[];
}

export interface Capabilities {
  readonly host: HostCaps;
  readonly guests: readonly GuestCaps[];
  readonly cpuModels: readonly CpuModel[];
  /** Where the facts came from, e.g. `qemu-system-x86_64 7.2.22 (probed)` or `snapshot: Debian bookworm QEMU 7.2`. */
  readonly source: string;
  /** The emulator's version as QEMU prints it, when known. */
  readonly qemuVersion?: string;
  /** The same as libvirt encodes it, major * 1000000 + minor * 1000 + micro (7002050 for 7.2.50), when known. */
  readonly qemuVersionNumber?: number;
}
