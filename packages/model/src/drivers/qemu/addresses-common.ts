/**
 * Shared pieces of QEMU address assignment: the device walk libvirt's
 * virDomainDeviceInfoIterate does, reading the numbers of an <address> the
 * way libvirt's parsers do, machine predicates, and the emulator
 * capabilities the assignment consults.
 */
import type { AddressDef } from '../../domain/types.ts';
import type { Draft } from 'immer';
import type { DomainDef } from '../../domain/types.ts';
import { indexedDevicePath } from '../../util/device-path.ts';
import { keysInOrder } from '../../util/keys-in-order.ts';

export type DomainDraft = Draft<DomainDef>;

/** An <address> as decoded: every attribute a string. */
export type Address = AddressDef;

/** Any device as decoded: what the address code reads of it. */
export interface Dev {
  address?: Address;
  [key: string]: any;
}

/** A device met in libvirt's walk: its kind, its place and the (draft) device itself. */
export interface DevRef {
  readonly kind: string;
  /** Position among devices of its kind (0 for a single device). */
  readonly index: number;
  readonly path: string;
  readonly dev: Dev;
}

/** Device kinds with one element (the rest are arrays under these keys). */
const WALK: ReadonlyArray<readonly [kind: string, key: string, many: boolean]> = [
  ['disk', 'disks', true],
  ['interface', 'interfaces', true],
  ['sound', 'sounds', true],
  ['hostdev', 'hostdevs', true],
  ['video', 'videos', true],
  ['controller', 'controllers', true],
  ['smartcard', 'smartcards', true],
  ['serial', 'serials', true],
  ['parallel', 'parallels', true],
  ['channel', 'channels', true],
  ['console', 'consoles', true],
  ['input', 'inputs', true],
  ['filesystem', 'filesystems', true],
  ['watchdog', 'watchdog', false],
  ['memballoon', 'memballoon', false],
  ['rng', 'rngs', true],
  ['nvram', 'nvram', false],
  ['hub', 'hubs', true],
  ['shmem', 'shmems', true],
  ['tpm', 'tpms', true],
  ['panic', 'panics', true],
  ['memory', 'memoryDevices', true],
  ['redirdev', 'redirdevs', true],
  ['iommu', 'iommu', false],
  ['vsock', 'vsock', false],
];

/** Each kind's key → its place in the walk. */
const WALK_INDEX: ReadonlyMap<string, number> = new Map(WALK.map((w, i) => [w[1], i]));

/** The array of devices of a kind (empty when there is none). */
export function devs(def: DomainDraft, key: string): Dev[] {
  const v = (def.devices as Record<string, unknown> | undefined)?.[key];
  return (v as Dev[] | undefined) ?? [];
}

/** The single device of a kind (watchdog, memballoon, nvram, iommu, vsock). */
export function single(def: DomainDraft, key: string): Dev | undefined {
  return (def.devices as Record<string, unknown> | undefined)?.[key] as Dev | undefined;
}

export function devicePath(kind: string, index: number, many = true): string {
  return many ? indexedDevicePath(kind, index) : `/domain/devices/${kind}`;
}

/**
 * virDomainSkipBackcompatConsole: the first <console> of an HVM guest that
 * only mirrors a serial port is not a device of its own.
 */
export function isBackcompatConsole(def: DomainDraft, index: number, console: Dev): boolean {
  const t = console.target?.type as string | undefined;
  return index === 0 && (t === undefined || t === 'serial' || t === 'none') && (def.os?.type?.text ?? 'hvm') === 'hvm';
}

/** A device met in the walk; its path is only spelled out when asked for (errors, mostly). */
class WalkRef implements DevRef {
  constructor(
    readonly kind: string,
    readonly index: number,
    readonly many: boolean,
    readonly dev: Dev,
  ) {}

  get path(): string {
    return devicePath(this.kind, this.index, this.many);
  }
}

/** virDomainDeviceInfoIterate: every device that carries device info, in libvirt's order. */
export function walkDevices(def: DomainDraft): DevRef[] {
  const out: DevRef[] = [];
  const all = def.devices as Record<string, unknown> | undefined;
  if (!all) return out;
  const present = keysInOrder(all, WALK_INDEX);
  for (let p = 0; p < present.length; p++) {
    const entry = WALK[present[p]!]!;
    const kind = entry[0];
    const key = entry[1];
    const many = entry[2];
    const v = all[key];
    if (v === undefined) continue;
    if (many) {
      const list = v as Dev[];
      for (let index = 0; index < list.length; index++) {
        const dev = list[index]!;
        if (kind === 'console' && isBackcompatConsole(def, index, dev)) continue;
        out.push(new WalkRef(kind, index, true, dev));
      }
    } else if (v) {
      out.push(new WalkRef(kind, 0, false, v as Dev));
    }
  }
  return out;
}

/**
 * An unsigned number as libvirt's virStrToLong_ui* reads it: base 0 takes
 * 0x… as hex and a leading 0 as octal. Undefined when absent; NaN when it
 * does not parse (the parse-time checks have already rejected those).
 */
export function num(s: string | undefined, base: 0 | 10 | 16 = 10): number | undefined {
  if (s === undefined) return undefined;
  const quick = quickNum(s, base);
  if (quick !== -1) return quick;
  const t = s.trim();
  let m: RegExpExecArray | null;
  if (base === 16 || (base === 0 && /^[+]?0[xX]/.test(t))) {
    m = /^\+?(?:0[xX])?([0-9a-fA-F]+)$/.exec(t);
    return m ? parseInt(m[1]!, 16) : NaN;
  }
  if (base === 0 && /^\+?0[0-7]+$/.test(t)) return parseInt(t.replace(/^\+/, ''), 8);
  m = /^\+?([0-9]+)$/.exec(t);
  return m ? parseInt(m[1]!, 10) : NaN;
}

/**
 * The common spellings without a regular expression (address assignment reads
 * thousands of these): plain decimal, and 0x-prefixed hex where the base
 * allows it. -1 sends anything else (signs, spaces, octal, long strings) to
 * the general reading.
 */
function quickNum(s: string, base: 0 | 10 | 16): number {
  const len = s.length;
  if (len === 0 || len > 9) return -1;
  const c0 = s.charCodeAt(0);
  if (base !== 16 && c0 >= 49 && c0 <= 57) {
    let n = c0 - 48;
    for (let i = 1; i < len; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return -1;
      n = n * 10 + d;
    }
    return n;
  }
  if (c0 !== 48) return -1;
  if (len === 1) return base === 16 ? -1 : 0;
  const c1 = s.charCodeAt(1);
  if (base === 10 || (c1 !== 120 && c1 !== 88) || len === 2) return -1;
  let n = 0;
  for (let i = 2; i < len; i++) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return -1;
    n = n * 16 + d;
  }
  return n;
}

export function hex(n: number, width = 0): string {
  return n.toString(16).padStart(width, '0');
}

/** The machine type as the domain states it (already canonical after the domain post-parse). */
function machineOf(def: DomainDraft): string {
  return (def.os?.type?.machine as string | undefined) ?? '';
}

function isX86(def: DomainDraft, arch: string): boolean {
  const a = (def.os?.type?.arch as string | undefined) ?? arch;
  return a === 'x86_64' || a === 'i686';
}

/** qemuDomainIsQ35. */
export function isQ35(def: DomainDraft, arch: string): boolean {
  const m = machineOf(def);
  return isX86(def, arch) && (m === 'q35' || m.startsWith('pc-q35-'));
}

/** qemuDomainIsI440FX. */
export function isI440FX(def: DomainDraft, arch: string): boolean {
  const m = machineOf(def);
  return isX86(def, arch) && (m === 'pc' || m.startsWith('pc-0.') || m.startsWith('pc-1.') || m.startsWith('pc-i440fx-') || m.startsWith('rhel'));
}

/**
 * The QEMU capabilities address assignment consults (libvirt's
 * QEMU_CAPS_*). Every QEMU libvirt 9.0 supports for x86 has them all; the
 * set is kept apart so a host reporting otherwise can be honoured.
 */
export interface AddressCaps {
  /** QEMU_CAPS_VIRTIO_PCI_TRANSITIONAL: virtio devices are PCI Express on q35. */
  readonly virtioPciTransitional: boolean;
  /** QEMU_CAPS_DEVICE_PCIE_PCI_BRIDGE: legacy PCI behind pcie-root-port + pcie-to-pci-bridge. */
  readonly pciePciBridge: boolean;
  /** QEMU_CAPS_DEVICE_PCIE_ROOT_PORT: root ports are `pcie-root-port`, not `ioh3420`. */
  readonly pcieRootPort: boolean;
  /** QEMU_CAPS_DEVICE_VIRTIO_MMIO: a virtio disk with a virtio-mmio address is left alone. */
  readonly virtioMmio: boolean;
}

export const MODERN_QEMU: AddressCaps = { virtioPciTransitional: true, pciePciBridge: true, pcieRootPort: true, virtioMmio: true };

/** The capabilities for this parse: the driver data's `addressCaps` when it has one, else a modern QEMU's. */
export function addressCaps(data: unknown): AddressCaps {
  const c = (data as { addressCaps?: Partial<AddressCaps> } | undefined)?.addressCaps;
  return c ? { ...MODERN_QEMU, ...c } : MODERN_QEMU;
}

/** The arch of the guest, for the machine predicates. */
export function archOf(data: unknown): string {
  return (data as { arch?: string } | undefined)?.arch ?? 'x86_64';
}
