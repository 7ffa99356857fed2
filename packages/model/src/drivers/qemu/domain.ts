/**
 * QEMU domain-level post-parse (qemuDomainDefPostParseBasic and
 * qemuDomainDefPostParse, src/qemu/qemu_domain.c), as rules in libvirt's
 * order: emulator; bootloader; machine; NVRAM; default devices
 * (domain-devices.ts); machine alias; default CPU; GIC; VNC sockets; vCPU,
 * CPU, TSEG and NUMA checks and fills.
 */
import type { Draft } from 'immer';
import type { Capabilities } from '../../caps/types.ts';
import type { DomainDef } from '../../domain/types.ts';
import { VirtError } from '../../errors.ts';
import { domainRule, type DomainRule } from '../../postparse/rules.ts';
import { formatBitmap, parseBitmap } from '../../util/bitmap.ts';
import { unitMultiplier } from '../../util/units.ts';
import { qemuDefaultDeviceRules } from './domain-devices.ts';
import { isARM, isARMVirt, isPPC64, isQ35, isS390, isX86, type QemuData } from './data.ts';

type Def = Draft<DomainDef>;

// --------------------------------------------------------------- emulator

/** virQEMUCapsArchToString: the qemu-system-* suffix for an arch. */
function qemuArchName(arch: string): string {
  if (arch === 'i686') return 'i386';
  if (arch === 'armv6l' || arch === 'armv7l') return 'arm';
  return arch;
}

/** virQEMUCapsGuestIsNative. */
function isNative(host: string, guest: string): boolean {
  return host === guest || (host === 'x86_64' && guest === 'i686') || (host === 'aarch64' && guest === 'armv7l') || (isPPC64(host) && isPPC64(guest));
}

/**
 * virQEMUCapsGetDefaultEmulator: the first qemu-system binary found for the
 * guest arch. libvirt searches $PATH; we search the emulators the
 * capabilities list.
 */
export function defaultEmulator(caps: Capabilities, guestArch: string): string | undefined {
  const known = caps.guests.flatMap((g) => [g.emulator, ...g.domains.map((d) => d.emulator)]).filter((p): p is string => p !== undefined);
  const find = (arch: string) => known.find((p) => p.split('/').pop() === `qemu-system-${qemuArchName(arch)}`);
  const host = caps.host.arch;
  if (host === 'aarch64' && guestArch === 'armv7l') {
    const hit = find('aarch64');
    if (hit) return hit;
  }
  const direct = find(guestArch);
  if (direct) return direct;
  let target = isNative(host, guestArch) ? host : guestArch;
  if (isPPC64(target)) target = 'ppc64';
  if (target !== guestArch) {
    const hit = find(target);
    if (hit) return hit;
  }
  if (isNative(host, guestArch)) return known.find((p) => p === '/usr/libexec/qemu-kvm');
  return undefined;
}

const emulatorDefault = domainRule<QemuData>('emulator-default', "QEMU's emulator for the guest arch: the host's qemu-system binary for it", (def, ctx) => {
  if (def.devices?.emulator !== undefined) return;
  const arch = def.os?.type?.arch ?? ctx.caps.host.arch;
  const path = defaultEmulator(ctx.caps, arch);
  if (!path) throw new VirtError('CONFIG_UNSUPPORTED', `No emulator found for arch '${arch}'`, '/domain/os/type/@arch');
  (def.devices ??= {}).emulator = path;
});

// ---------------------------------------------------------- machine, NVRAM

const bootloader = domainRule<QemuData>('bootloader-unsupported', 'QEMU boots the guest itself: a host-side <bootloader> is a Xen feature', (def) => {
  if (def.bootloader) throw new VirtError('CONFIG_UNSUPPORTED', 'bootloader is not supported by QEMU', '/domain/bootloader');
  if (def.bootloaderArgs) throw new VirtError('CONFIG_UNSUPPORTED', 'bootloader is not supported by QEMU', '/domain/bootloader_args');
});

const machineDefault = domainRule<QemuData>('machine-default', "QEMU's preferred machine for the emulator, by its versioned name: the newest i440fx (`pc`) on x86", (def, ctx) => {
  const type = ((def.os ??= {}).type ??= { text: 'hvm' });
  if (type.machine !== undefined) return;
  const machine = ctx.data.preferredMachine;
  if (!machine) {
    throw new VirtError('INVALID_ARG', `could not get preferred machine for ${def.devices?.emulator ?? ''} type=${def.type ?? ''}`, '/domain/os/type/@machine');
  }
  type.machine = machine;
});

const nvramDefault = domainRule<QemuData>(
  'nvram-default',
  "a read-only pflash UEFI loader needs a writable variable store: libvirt keeps one per domain in its nvram directory",
  (def, ctx) => {
    const os = def.os;
    const loader = os?.loader;
    if (!os || !loader || loader.type !== 'pflash' || loader.readonly !== 'yes' || loader.stateless === 'yes') return;
    const nv = os.nvram;
    if (nv && (nv.type !== undefined || (nv.text ?? '') !== '')) return;
    const path = `${ctx.data.config.nvramDir}/${def.name ?? ''}_VARS.fd`;
    if (nv) nv.text = path;
    else os.nvram = { text: path };
  },
);

const machineCanonical = domainRule<QemuData>('machine-canonical', 'a machine alias stands for the versioned machine QEMU maps it to, fixed so the guest ABI cannot change on upgrade', (def, ctx) => {
  const type = def.os?.type;
  if (type?.machine === undefined) return;
  const canon = ctx.data.canonicalMachine(type.machine);
  if (canon !== undefined && canon !== type.machine) type.machine = canon;
});

// ------------------------------------------------------------------- CPU

/** virCPUArchIsSupported: arches with a libvirt CPU driver. */
const cpuArchSupported = (arch: string | undefined): boolean => isX86(arch) || isPPC64(arch) || isS390(arch) || isARM(arch);

const cpuDefault = domainRule<QemuData>(
  'cpu-default',
  "the machine's default CPU model as QEMU reports it (qemu64 on x86), unchecked since it may not be runnable as is",
  (def, ctx) => {
    const cpu = def.cpu;
    if (cpu && ((cpu.mode ?? 'custom') !== 'custom' || cpu.model?.text)) return;
    const arch = def.os?.type?.arch;
    if (!cpuArchSupported(arch)) return;
    if (!isX86(arch) && !isS390(arch) && !isPPC64(arch) && def.type !== 'qemu') return;
    const machine = def.os?.type?.machine;
    const model = machine !== undefined ? ctx.data.machineDefaultCPU(machine) : undefined;
    if (!model) return;
    if (model === 'host' && def.type !== 'kvm') {
      throw new VirtError('INTERNAL_ERROR', 'QEMU reports invalid default CPU model "host" for non-kvm domain virt type', '/domain/cpu');
    }
    const c = (def.cpu ??= {});
    if (model === 'host') {
      // s390 hosts that report a host CPU model get host-model; our caps carry none.
      c.mode = 'host-passthrough';
      return;
    }
    c.mode = 'custom';
    c.match = 'exact';
    c.check = 'none';
    c.model = { ...c.model, fallback: 'forbid', text: model };
  },
);

const sveRequire = domainRule<QemuData>('cpu-sve', 'SVE vector lengths need SVE itself, so the sve feature is required', (def) => {
  const features = def.cpu?.features;
  if (!features?.some((f) => f.name !== 'sve' && f.name?.startsWith('sve'))) return;
  const i = features.findIndex((f) => f.name === 'sve');
  if (i < 0) {
    features.push({ policy: 'require', name: 'sve' });
    return;
  }
  const sve = features[i]!;
  if (sve.policy === 'disable' || sve.policy === 'forbid') {
    throw new VirtError('CONFIG_UNSUPPORTED', 'SVE disabled, but SVE vector lengths provided', `/domain/cpu/feature[${i + 1}]/@policy`);
  }
  if (sve.policy !== 'require') sve.policy = 'require';
});

const cpuMigratable = domainRule<QemuData>(
  'cpu-migratable',
  'a host-passthrough CPU is migratable (only features that survive migration) where QEMU can say so; on x86 without that, it is not',
  (def, ctx) => {
    const cpu = def.cpu;
    if (!cpu || cpu.mode !== 'host-passthrough' || cpu.migratable !== undefined) return;
    if (ctx.data.has('cpu.migratable')) cpu.migratable = 'on';
    else if (isX86(def.os?.type?.arch)) cpu.migratable = 'off';
  },
);

const cpuCheck = domainRule<QemuData>(
  'cpu-check-default',
  "how the CPU is checked against the host at start: not at all for passthrough, maximum and TCG guests' custom models, partially otherwise",
  (def) => {
    const cpu = def.cpu;
    if (!cpu) return;
    const mode = cpu.mode ?? 'custom';
    if ((mode === 'custom' && !cpu.model?.text) || cpu.check !== undefined) return;
    if (mode === 'host-passthrough' || mode === 'maximum') cpu.check = 'none';
    else if (mode === 'host-model') cpu.check = 'partial';
    else if (mode === 'custom') cpu.check = def.type === 'qemu' ? 'none' : 'partial';
  },
);

// -------------------------------------------------------------- features

const gicDefault = domainRule<QemuData>('gic-default', 'the ARM virt machine always has a GIC: the newest version the accelerator offers, v2 under TCG', (def, ctx) => {
  const gic = def.features?.gic;
  if (!(gic === undefined ? isARMVirt(def) : gic.version === undefined)) return;
  let version: '2' | '3' | undefined;
  for (const v of ['3', '2'] as const) {
    // The emulated GICv3 lacks an MSI controller, so TCG guests stay on v2.
    if (v === '3' && def.type === 'qemu') continue;
    if (ctx.data.supportsGIC(v)) {
      version = v;
      break;
    }
  }
  const features = (def.features ??= {});
  if (features.gic) features.gic.version = version ?? '2';
  else features.gic = { version: version ?? '2' };
});

const vncSocketRecheck = domainRule<QemuData>(
  'vnc-socket-recheck',
  "a VNC socket under libvirt's own state directory was generated by an older libvirt, not chosen by the user: listen on an address instead",
  (def, ctx) => {
    for (const g of def.devices?.graphics ?? []) {
      if (g.type !== 'vnc') continue;
      for (const l of g.listens ?? []) {
        if (l.type !== 'socket' || !l.socket || l.autoGenerated === 'yes' || !l.socket.startsWith(ctx.data.config.libDir)) continue;
        if (ctx.flags.inactive) {
          delete l.socket;
          l.type = 'address';
        } else l.fromConfig = 'yes';
      }
    }
  },
);

// ------------------------------------------------------------------ vCPUs

interface VcpuState {
  online: boolean;
  hotpluggable: string | undefined;
  order: number;
  path: string;
}

/** The vCPUs as libvirt holds them after parsing <vcpu> and <vcpus>. */
function vcpuStates(def: DomainDef): VcpuState[] {
  const max = Number(def.vcpu?.text ?? '1');
  if (!Number.isInteger(max) || max < 1) return [];
  const listed = def.vcpus?.vcpus;
  const states: VcpuState[] = [];
  const current = def.vcpu?.current !== undefined ? Number(def.vcpu.current) : max;
  // Only vCPU 0, the listed ones and the one after the last listed can change
  // the check's verdict (every other vCPU repeats its neighbour's state), so the
  // states stop there: a <vcpu>4294967295</vcpu> must not allocate 4G states.
  let upTo = 1;
  for (const v of listed ?? []) {
    const id = Number(v.id);
    if (Number.isInteger(id) && id >= 0 && id < max) upTo = Math.max(upTo, id + 1);
  }
  const count = Math.min(max, upTo + 1);
  for (let i = 0; i < count; i++) states.push({ online: listed?.length ? false : i < current, hotpluggable: undefined, order: 0, path: '/domain/vcpu' });
  (listed ?? []).forEach((v, k) => {
    const s = states[Number(v.id)];
    if (!s) return;
    s.online = v.enabled === 'yes';
    s.hotpluggable = v.hotpluggable;
    s.order = v.order !== undefined ? Number(v.order) : 0;
    s.path = `/domain/vcpus/vcpu[${k + 1}]`;
  });
  return states;
}

function fail(msg: string, s: VcpuState, attr?: string): never {
  throw new VirtError('CONFIG_UNSUPPORTED', msg, s.path === '/domain/vcpu' || !attr ? s.path : `${s.path}/@${attr}`);
}

const vcpusCheck = domainRule<QemuData>('vcpus-check', 'QEMU starts vCPU 0 first and cold-plugs the non-hotpluggable vCPUs in order before the hotpluggable ones', (def) => {
  const vcpus = vcpuStates(def as DomainDef);
  const first = vcpus[0];
  if (!first) return;
  if (!first.online) fail("vcpu 0 can't be offline", first, 'enabled');
  if (first.hotpluggable === 'yes') fail("vcpu0 can't be hotpluggable", first, 'hotpluggable');
  if (first.order !== 0 && first.order !== 1) fail('vcpu0 must be enabled first', first, 'order');
  const hasOrder = first.order !== 0;
  let prev = first;
  for (const v of vcpus.slice(1)) {
    if (v.online && (v.order !== 0) !== hasOrder) fail('all vcpus must have either set or unset order', v, 'order');
    if (v.hotpluggable === 'no') {
      if (prev.hotpluggable === 'yes') fail('online non-hotpluggable vcpus need to be ordered prior to hotplugable vcpus', v, 'hotpluggable');
      if (prev.order > v.order) fail('online non-hotpluggable vcpus must be ordered in ascending order', v, 'order');
    }
    prev = v;
  }
});

// ------------------------------------------------------------ TSEG, NUMA

const tsegCheck = domainRule<QemuData>('tseg-check', 'an SMM TSEG size is a q35 (MCH) property, set in whole MiB', (def, ctx) => {
  const smm = def.features?.smm;
  if (!smm || (smm.state ?? 'on') !== 'on') return;
  const tseg = smm.tseg;
  if (!tseg || (tseg.text ?? '').trim() === '') return;
  const path = '/domain/features/smm/tseg';
  if (!isQ35(def)) throw new VirtError('CONFIG_UNSUPPORTED', 'SMM TSEG is only supported with q35 machine type', path);
  if (!ctx.data.has('mch.extended-tseg-mbytes')) throw new VirtError('CONFIG_UNSUPPORTED', 'Setting TSEG size is not supported with this QEMU binary', path);
  const mult = unitMultiplier(tseg.unit, 1024n * 1024n);
  if (mult === undefined || !/^\s*\+?\d+\s*$/.test(tseg.text!)) return;
  if ((BigInt(tseg.text!.trim().replace(/^\+/, '')) * mult) % (1024n * 1024n) !== 0n) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'SMM TSEG size must be divisible by 1 MiB', path);
  }
});

const numaCpusFill = domainRule<QemuData>('numa-cpus-fill', 'vCPUs that no NUMA cell lists belong to cell 0, as QEMU would place them', (def) => {
  const cells = def.cpu?.numa?.cells;
  if (!cells?.length) return;
  const max = Number(def.vcpu?.text ?? '1');
  if (!Number.isInteger(max) || max < 1) return;
  const idOf = (c: (typeof cells)[number], i: number) => (c.id !== undefined ? Number(c.id) : i);
  const sets = cells.map((c, i) => (c.cpus !== undefined && c.cpus !== '' ? parseBitmap(c.cpus, `/domain/cpu/numa/cell[${i + 1}]/@cpus`) : new Set<number>()));
  const total = sets.reduce((n, s) => n + s.size, 0);
  if (total >= max) return;
  const zero = cells.findIndex((c, i) => idOf(c, i) === 0);
  if (zero < 0) return;
  const fill = new Set<number>();
  for (let i = 0; i < max; i++) fill.add(i);
  sets.forEach((s, i) => {
    if (i !== zero) for (const c of s) fill.delete(c);
  });
  const text = formatBitmap(fill);
  if (cells[zero]!.cpus !== text) cells[zero]!.cpus = text;
});

// ------------------------------------------------------------------ lists

/** Without caps for the emulator libvirt's callback does nothing (qemuCaps NULL). */
function withCaps(rule: DomainRule<QemuData>): DomainRule<QemuData> {
  return { ...rule, apply: (def, ctx) => (ctx.data.guest ? rule.apply(def, ctx) : undefined) };
}

/** qemuDomainDefPostParseBasic: runs before the opaque data exists. */
export const qemuBasicRules: DomainRule<QemuData>[] = [emulatorDefault];

/** qemuDomainDefPostParse, in libvirt's order, as written: each does its work whether or not caps exist. */
export const qemuDomainRulesWithoutCapsCheck: DomainRule<QemuData>[] = [
  bootloader,
  machineDefault,
  nvramDefault,
  ...qemuDefaultDeviceRules,
  machineCanonical,
  cpuDefault,
  gicDefault,
  vncSocketRecheck,
  vcpusCheck,
  sveRequire,
  cpuMigratable,
  cpuCheck,
  tsegCheck,
  numaCpusFill,
];

/** qemuDomainDefPostParse, in libvirt's order: each rule does nothing without caps for the emulator. */
export const qemuDomainRules: DomainRule<QemuData>[] = qemuDomainRulesWithoutCapsCheck.map(withCaps);
