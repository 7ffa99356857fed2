/**
 * Small fixtures for the placement tests: host capabilities of a QEMU host,
 * a cluster registered through events, and requests.
 */
import type { Capabilities, HostCaps } from '../caps/types.ts';

type HostNumaCell = NonNullable<HostCaps['numaCells']>[number];
import { log, type Log } from '../events/fixtures.ts';
import { emptyInventory, foldInventory } from './inventory.ts';
import type { Inventory, InventoryConfig, PlacementRequest, SchedulerHints } from './types.ts';

export const GiB = 1048576;
export const MiB = 1024;

export interface HostOptions {
  readonly cpus?: number;
  readonly memoryKiB?: number;
  readonly arch?: string;
  /** Offer kvm (default true). */
  readonly kvm?: boolean;
  readonly emulator?: string;
  readonly machines?: readonly string[];
  readonly cpuModels?: ReadonlyArray<{ name: string; usable?: 'yes' | 'no' | 'unknown' }>;
  readonly numaCells?: readonly HostNumaCell[];
}

/** A QEMU host: hvm guests of its arch, `pc` as an alias of the first machine. */
export function qemuCaps(o: HostOptions = {}): Capabilities {
  const arch = o.arch ?? 'x86_64';
  const machines = o.machines ?? ['pc-i440fx-7.2', 'pc-q35-7.2'];
  return {
    host: { arch, cpus: o.cpus ?? 8, memoryKiB: o.memoryKiB ?? 16 * GiB, ...(o.numaCells ? { numaCells: o.numaCells } : {}) },
    guests: [
      {
        osType: 'hvm',
        arch,
        wordsize: 64,
        emulator: o.emulator ?? `/usr/bin/qemu-system-${arch}`,
        machines: [{ name: 'pc', canonical: machines[0]!, maxCpus: 255 }, ...machines.map((name, i) => ({ name, maxCpus: 255, ...(i === 0 ? { isDefault: true } : {}) }))],
        domains: [{ type: 'qemu' }, ...(o.kvm === false ? [] : [{ type: 'kvm' }])],
      },
    ],
    cpuModels: o.cpuModels ?? [{ name: 'qemu64' }, { name: 'Haswell', usable: 'yes' }, { name: 'Skylake-Server', usable: 'no' }],
    source: 'fixture',
  };
}

export interface HostSpec extends HostOptions {
  readonly id: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** A log with each host registered, and its inventory. */
export function cluster(hosts: readonly HostSpec[], config: InventoryConfig = {}): { log: Log; inv: Inventory } {
  const l = log();
  for (const h of hosts) l.add('HostRegistered', { hostId: h.id, capabilities: qemuCaps(h), ...(h.labels ? { labels: h.labels } : {}) });
  return { log: l, inv: foldInventory(emptyInventory(config), l.events) };
}

/** A kvm request on x86_64 for `pc-i440fx-7.2` with QEMU's emulator. */
export function request(uuid: string, o: Partial<Omit<PlacementRequest, 'hints'>> & { hints?: SchedulerHints } = {}): PlacementRequest {
  return {
    uuid,
    memoryKiB: 2 * GiB,
    vcpus: 2,
    domainType: 'kvm',
    osType: 'hvm',
    arch: 'x86_64',
    machine: 'pc-i440fx-7.2',
    emulator: '/usr/bin/qemu-system-x86_64',
    ...o,
    hints: o.hints ?? {},
  };
}

/** uuid number i, deterministic. */
export function uuidOf(i: number): string {
  const hex = i.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}
