/**
 * Helpers shared by the QEMU validators (validate-*.ts): the emulator's
 * device capabilities and the host facts the checks consult, libvirt's
 * machine predicates, and readers for the decoded (string-valued) data.
 */
import type { GuestCaps } from '../../caps/types.ts';
import type { DeviceKind, DomainDef } from '../../domain/types.ts';
import type { DeviceValidator } from '../../postparse/rules.ts';
import { VirtError, type ErrorCode } from '../../errors.ts';
import { unitMultiplier } from '../../util/units.ts';
import type { Ctx } from '../../postparse/types.ts';
import type { QemuData } from './data.ts';
import { IothreadIds } from '../../util/iothread-ids.ts';

/** A capability-flag test: virQEMUCapsGet on the domain's emulator, by the flag's cache name (`qemu-xhci`). */
export type Has = (flag: string) => boolean;

/**
 * The emulator's QEMU_CAPS_* flags, from the driver data: for x86 the ones
 * libvirt probes from Debian bookworm's QEMU 7.2 (our Capabilities know
 * machines, CPU models and KVM, not the devices a binary has). That list
 * lacks the host-dependent `sev-guest` and `sgx-epc` (no SEV or SGX host)
 * and `machine-hpet` (QEMU 8), the s390/ppc/ARM-only devices, `zpci`,
 * `vfio-ap`/`vfio-ccw` and the legacy `ivshmem`, so their checks fire.
 */
export function capsOf(ctx: Ctx<QemuData>): Has {
  return (flag) => ctx.data.has(flag);
}

/**
 * Host and daemon facts some checks consult besides the binary's flags, as
 * on the Debian bookworm hosts we compare with: qemu.conf defaults
 * (`spice_tls = 0`), the system daemon (privileged), and no `swtpm`
 * installed (so no TPM emulator backend and no TPM version is offered).
 */
export const QEMU_HOST = {
  spiceTLS: false,
  privileged: true,
  swtpm: false,
  swtpmVersions: [] as readonly string[],
} as const;

/** A QEMU device validator for some device kinds. */
export type DV<K extends DeviceKind> = DeviceValidator<QemuData, K>;

/** The path of the device being validated (`/domain/devices/disk[2]`), or of a device parsed alone. */
export function pathOf(ctx: Ctx<QemuData>, kind: string): string {
  return ctx.devicePath ?? `/${kind}`;
}

/** The virtio model names interfaces, balloons and SCSI controllers share. */
export const VIRTIO_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'];

// ------------------------------------------------------------ errors

export function fail(code: ErrorCode, detail: string, path: string): never {
  throw new VirtError(code, detail, path);
}

export function unsupported(detail: string, path: string): never {
  throw new VirtError('CONFIG_UNSUPPORTED', detail, path);
}

// ------------------------------------------------------------ readers

/** An unsigned number as libvirt reads it (decimal, or 0x-prefixed hex); undefined if absent or not a number. */
export function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (allDigits(s)) return Number(s);
  const t = s.trim();
  if (/^\+?\d+$/.test(t)) return Number(t);
  if (/^0x[0-9a-f]+$/i.test(t)) return Number.parseInt(t.slice(2), 16);
  return undefined;
}

/** Plain decimal digits only: the common spelling, read without a regular expression. */
function allDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** A scaled size in KiB (default unit KiB), rounded up as libvirt stores it; undefined when absent or unreadable. */
export function kib(value: string | undefined, unit: string | undefined): number | undefined {
  const n = num(value);
  const mult = unitMultiplier(unit);
  if (n === undefined || mult === undefined) return undefined;
  return Number((BigInt(n) * mult + 1023n) / 1024n);
}

export function isPow2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

// ------------------------------------------------------------ domain facts

export function arch(def: DomainDef, ctx: Ctx<QemuData>): string {
  return def.os?.type?.arch ?? ctx.data?.arch ?? ctx.caps.host.arch;
}

export function machine(def: DomainDef): string {
  return def.os?.type?.machine ?? '';
}

/** The machine-family predicates of qemu_domain.c, shared with the post-parse rules. */
export { isARMVirt, isPPC64, isPSeries, isQ35, isRISCVVirt, isS390, isX86 } from './data.ts';
export { isI440fx as isI440FX } from './data.ts';

/** The guest entry of the domain's emulator (looked up by the driver data from <emulator>, else the arch). */
export function emulatorGuest(ctx: Ctx<QemuData>): GuestCaps | undefined {
  return ctx.data?.guest;
}

/** The emulator path as libvirt prints it: <emulator>, else the one post-parse would pick. */
export function emulatorPath(def: DomainDef, ctx: Ctx<QemuData>): string {
  return def.devices?.emulator ?? ctx.data?.guest?.emulator ?? '';
}

/** The machine as libvirt prints it in messages: post-parse has replaced an alias by its canonical name. */
export function machineName(def: DomainDef, ctx: Ctx<QemuData>): string {
  const m = machine(def);
  return ctx.data?.canonicalMachine(m) ?? m;
}

/** qemuDomainHasBuiltinESP: sparc, the mips64 magnum/pica61 and the m68k q800 machines. */
export function hasBuiltinESP(def: DomainDef, ctx: Ctx<QemuData>): boolean {
  const a = arch(def, ctx);
  const m = machine(def);
  return a === 'sparc' || (a.startsWith('mips64') && (m === 'magnum' || m === 'pica61')) || (a === 'm68k' && m === 'q800');
}

/** The machine's maxCpus in the caps (0 when unknown), by name or alias. */
export function machineMaxCpus(def: DomainDef, ctx: Ctx<QemuData>): number {
  const name = machineName(def, ctx);
  return ctx.data?.machines.find((x) => x.name === name)?.maxCpus ?? 0;
}

/**
 * Whether the machine has a default RAM id (virQEMUCapsGetMachineDefaultRAMid):
 * QEMU 7.2 reports `pc.ram` for every pc/q35/isapc machine and `microvm.ram`
 * for microvm; only the `none` and `x-remote` machines have none.
 */
export function hasDefaultRAMid(def: DomainDef): boolean {
  const m = machine(def);
  return m !== '' && m !== 'none' && m !== 'x-remote';
}

export function numaCells(def: DomainDef): ReadonlyArray<{ memAccess?: string; memory?: string; unit?: string; cpus?: string }> {
  return def.cpu?.numa?.cells ?? [];
}

export function hasSpiceGraphics(def: DomainDef): boolean {
  return (def.devices?.graphics ?? []).some((g) => g.type === 'spice');
}

/**
 * qemuValidateDomainDefVhostUserRequireSharedMemory: vhost-user devices need
 * the guest memory shared, per NUMA cell or globally.
 */
export function requireSharedMemory(def: DomainDef, name: string, path: string): void {
  const cells = numaCells(def);
  const access = def.memoryBacking?.access?.mode;
  const msg = `'${name}' requires shared memory`;
  if (cells.length === 0 && !(hasDefaultRAMid(def) && access === 'shared')) unsupported(msg, path);
  for (const c of cells) {
    if (c.memAccess === 'private') unsupported(msg, path);
    if (c.memAccess !== 'shared' && access !== 'shared') unsupported(msg, path);
  }
}

/**
 * The iothread ids the domain defines: the <iothreadids> given, completed up
 * to the <iothreads> count with the lowest unused ids, as post-parse does
 * (virDomainDefPostParseIOThreads).
 */
export function iothreadIds(def: DomainDef): IothreadIds {
  return new IothreadIds((def.iothreadids?.iothreads ?? []).map((t) => num(t.id) ?? 0), num(def.iothreads) ?? 0);
}
