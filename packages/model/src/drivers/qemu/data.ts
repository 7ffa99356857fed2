/**
 * The QEMU driver's opaque data (libvirt's per-parse qemuCaps, looked up by
 * qemuDomainPostParseDataAlloc from the domain's <emulator>): what that
 * binary offers — its machine types, their default CPU models, its
 * capability flags — plus the qemu.conf settings the post-parse reads.
 * Owned by the domain-level rules; read by every qemu rule.
 *
 * Also the machine-family predicates of src/qemu/qemu_domain.c
 * (qemuDomainIsQ35, qemuDomainIsI440FX, ...), shared by all qemu rule files.
 */
import type { Capabilities, GuestCaps, MachineType } from '../../caps/types.ts';
import { findGuest } from '../../caps/index.ts';
import type { DomainDef } from '../../domain/types.ts';
import type { AddressCaps } from './addresses-common.ts';

// ------------------------------------------------------------------ arches

export const isX86 = (arch: string | undefined): boolean => arch === 'i686' || arch === 'x86_64';
export const isPPC64 = (arch: string | undefined): boolean => arch === 'ppc64' || arch === 'ppc64le';
export const isS390 = (arch: string | undefined): boolean => arch === 's390' || arch === 's390x';
export const isRISCV = (arch: string | undefined): boolean => arch === 'riscv32' || arch === 'riscv64';
export const isMIPS = (arch: string | undefined): boolean => arch === 'mips' || arch === 'mipsel' || arch === 'mips64' || arch === 'mips64el';
export const isARM = (arch: string | undefined): boolean => arch === 'armv6l' || arch === 'armv7l' || arch === 'armv7b' || arch === 'aarch64';

// ------------------------------------------------------- machine families

/** The parts of a definition the machine predicates read. */
export interface MachineOf {
  readonly os?: { readonly type?: { readonly arch?: string; readonly machine?: string } };
}

const archOf = (def: MachineOf): string | undefined => def.os?.type?.arch;
const machineOf = (def: MachineOf): string => def.os?.type?.machine ?? '';

/** qemuDomainMachineIsQ35: `q35` or `pc-q35-*` on x86. */
export function isQ35Machine(machine: string, arch: string | undefined): boolean {
  return isX86(arch) && (machine === 'q35' || machine.startsWith('pc-q35-'));
}

/** qemuDomainMachineIsI440FX: `pc`, `pc-0.*`, `pc-1.*`, `pc-i440fx-*` or `rhel*` on x86. */
export function isI440fxMachine(machine: string, arch: string | undefined): boolean {
  return isX86(arch) && (machine === 'pc' || machine.startsWith('pc-0.') || machine.startsWith('pc-1.') || machine.startsWith('pc-i440fx-') || machine.startsWith('rhel'));
}

export function isARMVirtMachine(machine: string, arch: string | undefined): boolean {
  return (arch === 'armv6l' || arch === 'armv7l' || arch === 'aarch64') && (machine === 'virt' || machine.startsWith('virt-'));
}

export const isQ35 = (def: MachineOf): boolean => isQ35Machine(machineOf(def), archOf(def));
export const isI440fx = (def: MachineOf): boolean => isI440fxMachine(machineOf(def), archOf(def));
export const isS390CCW = (def: MachineOf): boolean => isS390(archOf(def)) && machineOf(def).startsWith('s390-ccw');
export const isARMVirt = (def: MachineOf): boolean => isARMVirtMachine(machineOf(def), archOf(def));
export const isRISCVVirt = (def: MachineOf): boolean => isRISCV(archOf(def)) && (machineOf(def) === 'virt' || machineOf(def).startsWith('virt-'));
export const isPSeries = (def: MachineOf): boolean => isPPC64(archOf(def)) && (machineOf(def) === 'pseries' || machineOf(def).startsWith('pseries-'));
export const isMipsMalta = (def: MachineOf): boolean => isMIPS(archOf(def)) && machineOf(def) === 'malta';
/** qemuDomainHasBuiltinIDE: i440fx, malta, sun4u, g3beige. */
export const hasBuiltinIDE = (def: MachineOf): boolean => isI440fx(def) || ['malta', 'sun4u', 'g3beige'].includes(machineOf(def));
/** qemuDomainNeedsFDC: every supported q35 needs an explicit floppy controller. */
export const needsFDC = isQ35;

type ControllerList = { readonly devices?: { readonly controllers?: ReadonlyArray<{ readonly type?: string; readonly index?: string; readonly model?: string }> } };

/** virDomainControllerFind(type, index): the first controller of that type and index. */
export function findController<D extends ControllerList>(def: D, type: string, index = 0): NonNullable<NonNullable<D['devices']>['controllers']>[number] | undefined {
  return def.devices?.controllers?.find((c) => c.type === type && c.index !== undefined && Number(c.index) === index) as never;
}
export const hasPCIRoot = (def: ControllerList): boolean => findController(def, 'pci')?.model === 'pci-root';
export const hasPCIeRoot = (def: ControllerList): boolean => findController(def, 'pci')?.model === 'pcie-root';

// ------------------------------------------------------- capability flags

/**
 * The capability flags libvirt 9.0.0 probed from QEMU 7.2 (qemu-system-x86_64,
 * Debian bookworm), as named in libvirt's caps cache; the snapshot's QEMU.
 * Assumed for a guest whose capabilities do not carry its binary's flags
 * (GuestCaps.qemuFlags, set when they were read from a caps cache).
 */
const QEMU_7_2_X86_64_FLAGS = `kvm sdl no-hpet spice hda-duplex ccid-emulated ccid-passthru piix3-usb-uhci piix4-usb-uhci usb-ehci
ich9-usb-ehci1 pci-ohci usb-redir usb-hub ich9-ahci no-acpi virtio-blk-pci.scsi scsi-disk.channel scsi-block hda-micro nec-usb-xhci
lsi virtio-scsi-pci disable-s3 disable-s4 usb-redir.filter ide-drive.wwn scsi-disk.wwn seccomp-sandbox vnc qxl VGA cirrus-vga
vmware-svga usb-serial virtio-rng rng-random rng-egd megasas tpm-passthrough tpm-tis pci-bridge vfio-pci dmi-to-pci-bridge
usb-storage usb-storage.removable virtio-mmio ich9-intel-hda kvm-pit-lost-tick-policy pvpanic usb-kbd usb-audio
rtc-reset-reinjection iothread migrate-rdma VGA.vgamem_mb vmware-svga.vgamem_mb qxl.vgamem_mb pc-dimm machine-vmport-opt
pci-serial gpex-pcihost ioh3420 x3130-upstream xio3130-downstream rtl8139 e1000 virtio-net virtio-gpu virtio-keyboard
virtio-mouse virtio-tablet virtio-input-host ich9-disable-s3 ich9-disable-s4 virtio-balloon-pci.deflate-on-oom mptsas1068
spice-gl qxl.vram64_size_mb pxb pxb-pcie intel-iommu query-hotpluggable-cpus virtio-vga ivshmem-plain ivshmem-doorbell
vhost-scsi query-cpu-model-expansion spice-rendernode nvdimm pcie-root-port query-cpu-definitions cpu-cache qemu-xhci
intel-iommu.intremap intel-iommu.caching-mode intel-iommu.eim intel-iommu.device-iotlb chardev-reconnect vmcoreinfo isa-serial
pcie-pci-bridge nbd-tls tpm-crb pr-manager-helper screendump_device hda-output vmgenid vhost-vsock tpm-emulator mch
mch.extended-tseg-mbytes egl-headless vfio-pci.display memory-backend-memfd memory-backend-memfd.hugetlb iothread.poll-max-ns
egl-headless.rendernode memory-backend-file.pmem nvdimm.unarmed virtio-pci-non-transitional nbd-bitmap x86-max-cpu
cpu-unavailable-features canonical-cpu-features bochs-display migration-file-drop-cache dbus-vmstate vhost-user-gpu
vhost-user-vga incremental-backup ramfb drive-nvme smp-dies i8042 rng-builtin vhost-user-fs query-named-block-nodes.flat
blockdev-snapshot.allow-write-only-overlay blockdev-reopen fsdev.multidevs pcie-root-port.hotplug aio.io_uring tcg
virtio-blk-pci.scsi.default.disabled pvscsi cpu.migratable intel-iommu.aw-bits numa.hmat usb-host.hostdevice
virtio-balloon.free-page-reporting block-export-add netdev.vhost-vdpa dc390 am53c974 virtio-pmem-pci vhost-user-fs.bootindex
vhost-user-blk cpu-max memory-backend-file.x-use-canonical-path-for-ramblock-id migration-param.block-bitmap-mapping
vnc-power-control object.qapified rotation-rate compat-deprecated acpi-index input-linux virtio-gpu-gl-pci virtio-vga-gl
confidential-guest-support set-action virtio-blk.queue-size virtio-mem-pci memory-backend-file.reserve
piix4.acpi-root-pci-hotplug netdev.json query-dirty-rate rbd-encryption sev-guest-kernel-hashes sev-inject-launch-secret
device.json+hotplug virtio-mem-pci.prealloc calc-dirty-rate dirtyrate-param.mode blockdev.nbd.tls-hostname
memory-backend-file.prealloc-threads virtio-iommu-pci virtio-iommu.boot-bypass virtio-net.rss chardev.qemu-vdagent
display-dbus iothread.thread-pool-max usb-host.guest-resets-all migration.blocked-reasons query-stats query-stats-schemas
thread-context screenshot-format-png netdev.stream`.split(/\s+/);

/** qemu-system-i386 7.2 lacks the x86-64-only CPU probing flags and `cpu.migratable`. */
const I386_MISSING = new Set(['x86-max-cpu', 'cpu-unavailable-features', 'canonical-cpu-features', 'cpu.migratable']);

/**
 * Other binaries are not in our snapshots: the flags every QEMU that libvirt
 * 9.0.0 supports (4.2 or newer) has for what the domain post-parse reads.
 */
const OTHER_FLAGS: Record<string, readonly string[]> = {
  aarch64: ['gpex-pcihost', 'qemu-xhci', 'nec-usb-xhci', 'pci-ohci', 'virtio-net', 'cpu.migratable'],
  armv7l: ['gpex-pcihost', 'qemu-xhci', 'nec-usb-xhci', 'pci-ohci', 'virtio-net'],
  riscv64: ['gpex-pcihost', 'qemu-xhci', 'virtio-net'],
  riscv32: ['gpex-pcihost', 'qemu-xhci', 'virtio-net'],
  s390x: ['zpci', 'virtio-net', 'cpu.migratable'],
  ppc64: ['qemu-xhci', 'nec-usb-xhci', 'pci-ohci', 'rtl8139', 'e1000', 'virtio-net', 'VGA', 'cpu.migratable'],
  ppc64le: ['qemu-xhci', 'nec-usb-xhci', 'pci-ohci', 'rtl8139', 'e1000', 'virtio-net', 'VGA', 'cpu.migratable'],
};

function flagsFor(binaryArch: string): ReadonlySet<string> {
  if (binaryArch === 'x86_64') return new Set(QEMU_7_2_X86_64_FLAGS);
  if (binaryArch === 'i686') return new Set(QEMU_7_2_X86_64_FLAGS.filter((f) => !I386_MISSING.has(f)));
  return new Set(OTHER_FLAGS[binaryArch] ?? []);
}

/** libvirt's preferredMachines[], indexed by the binary's arch: moved first in the machine list at probe time. */
const PREFERRED_MACHINE: Record<string, string> = {
  i686: 'pc', x86_64: 'pc',
  armv6l: 'integratorcp', armv7l: 'integratorcp', armv7b: 'integratorcp', aarch64: 'integratorcp',
  ppc64: 'pseries', ppc64le: 'pseries', ppc: 'g3beige', ppcle: 'g3beige', ppcemb: 'bamboo',
  s390x: 's390-ccw-virtio', riscv32: 'spike_v1.10', riscv64: 'spike_v1.10',
  mips: 'malta', mipsel: 'malta', mips64: 'malta', mips64el: 'malta',
  sparc: 'SS-5', sparc64: 'sun4u', alpha: 'clipper', cris: 'axis-dev88', lm32: 'lm32-evr', m68k: 'mcf5208evb',
  microblaze: 'petalogix-s3adsp1800', microblazeel: 'petalogix-s3adsp1800', or32: 'or1k-sim',
  sh4: 'shix', sh4eb: 'shix', unicore32: 'puv3', xtensa: 'sim', xtensaeb: 'sim',
};

// ------------------------------------------------------------- qemu.conf

/** The qemu.conf settings and daemon environment the post-parse reads; defaults of a privileged libvirtd. */
export interface QemuConfig {
  /** cfg->libDir. */
  readonly libDir: string;
  /** cfg->nvramDir. */
  readonly nvramDir: string;
  /** vnc_allow_host_audio. */
  readonly vncAllowHostAudio: boolean;
  /** nographics_allow_host_audio. */
  readonly nographicsAllowHostAudio: boolean;
  /** The daemon's QEMU_AUDIO_DRV and SDL_AUDIODRIVER. */
  readonly env: { readonly QEMU_AUDIO_DRV?: string; readonly SDL_AUDIODRIVER?: string };
}

export const DEFAULT_QEMU_CONFIG: QemuConfig = {
  libDir: '/var/lib/libvirt/qemu',
  nvramDir: '/var/lib/libvirt/qemu/nvram',
  vncAllowHostAudio: false,
  nographicsAllowHostAudio: false,
  env: {},
};

// ------------------------------------------------------------- the data

export interface QemuData {
  readonly caps: Capabilities;
  /** The guest entry of the domain's emulator (or, failing that, its OS type and arch); undefined when none. */
  readonly guest: GuestCaps | undefined;
  /** The domain's arch (`<os><type arch>`). */
  readonly arch: string;
  /** The arch the emulator binary targets (qemuCaps->arch). */
  readonly binaryArch: string;
  /** `kvm` for type='kvm', `hvf` for type='hvf', else `tcg`: which of the binary's lists apply. */
  readonly accel: 'kvm' | 'hvf' | 'tcg';
  /** Capability flags, named as in libvirt's caps cache (`qemu-xhci`, `cpu.migratable`). */
  readonly flags: ReadonlySet<string>;
  readonly config: QemuConfig;
  /** virQEMUCapsGet. */
  has(flag: string): boolean;
  /** The binary's machine types for the accelerator, `none` left out. */
  readonly machines: readonly MachineType[];
  /** virQEMUCapsGetPreferredMachine: the versioned name of the first machine after probe-time ordering. */
  readonly preferredMachine: string | undefined;
  /** virQEMUCapsGetCanonicalMachine: an alias's machine; else undefined (the name stays). */
  canonicalMachine(name: string): string | undefined;
  /** virQEMUCapsGetMachineDefaultCPU: the CPU model name a machine defaults to, looked up by exact name. */
  machineDefaultCPU(name: string): string | undefined;
  /** virQEMUCapsSupportsGICVersion for the accelerator. */
  supportsGIC(version: '2' | '3'): boolean;
  /**
   * The flags address assignment consults, when the caps carry the binary's
   * flags; absent, address assignment assumes a modern QEMU (addresses-common.ts).
   */
  readonly addressCaps?: Partial<AddressCaps>;
}

function guestOf(caps: Capabilities, def: DomainDef): GuestCaps | undefined {
  const emulator = def.devices?.emulator;
  const osType = def.os?.type?.text ?? 'hvm';
  const arch = def.os?.type?.arch ?? caps.host.arch;
  if (emulator !== undefined) {
    const byPath = caps.guests.find((g) => g.emulator === emulator || g.domains.some((d) => d.emulator === emulator));
    if (byPath) return byPath;
  }
  return findGuest(caps, osType, arch);
}

/** The QOM default CPU of QEMU's x86 machines, as the model name: 486 for isapc, qemu64/qemu32 for the rest. */
function x86DefaultCPU(binaryArch: string, machine: string): string | undefined {
  if (machine === 'none' || machine === 'x-remote') return undefined;
  if (machine === 'isapc') return '486';
  return binaryArch === 'x86_64' ? 'qemu64' : 'qemu32';
}

/** libvirt's domain type for an accelerator's list in the guest caps (virQEMUCapsGetAccel's inverse). */
const ACCEL_DOMAIN = { kvm: 'kvm', hvf: 'hvf', tcg: 'qemu' } as const;

/** What a parse's data takes from the capabilities alone: the same for every domain of one binary and accelerator. */
type BinaryData = Omit<QemuData, 'arch' | 'config'>;

/**
 * libvirt keeps one qemuCaps per emulator binary (virQEMUCapsCache) and every
 * parse borrows it; the derived flags, machine lists and lookups here are
 * likewise computed once per capabilities object, binary and accelerator —
 * never per document.
 */
const binaryCache = new WeakMap<Capabilities, Map<GuestCaps | string, Map<string, QemuData>>>();

/** The data for the default qemu.conf, made once per capabilities, binary, accelerator and guest arch. */
function sharedData(caps: Capabilities, guest: GuestCaps | undefined, binaryArch: string, accel: QemuData['accel'], arch: string): QemuData {
  let perCaps = binaryCache.get(caps);
  if (!perCaps) binaryCache.set(caps, (perCaps = new Map()));
  const guestKey = guest ?? binaryArch;
  let perGuest = perCaps.get(guestKey);
  if (!perGuest) perCaps.set(guestKey, (perGuest = new Map()));
  const key = `${binaryArch}\0${accel}\0${arch}`;
  let data = perGuest.get(key);
  if (!data) perGuest.set(key, (data = { ...computeBinaryData(caps, guest, binaryArch, accel), arch, config: DEFAULT_QEMU_CONFIG }));
  return data;
}

function computeBinaryData(caps: Capabilities, guest: GuestCaps | undefined, binaryArch: string, accel: QemuData['accel']): BinaryData {
  // The binary's own flags when the caps carry them (read from libvirt's caps cache), else the assumed list.
  const flags: ReadonlySet<string> = guest?.qemuFlags ? new Set(guest.qemuFlags) : flagsFor(binaryArch);
  const versioned = (m: MachineType) => m.canonical ?? m.name;
  // libvirt's own per-accelerator lists, in libvirt's order, when the caps carry them (qemu-caps-xml.ts);
  // then an accelerator the binary lacks has no machines, as virQEMUCapsGetAccel's empty list.
  const perAccel = guest?.domains.some((d) => d.machines !== undefined) ?? false;
  const accelMachines = perAccel ? (guest!.domains.find((d) => d.type === ACCEL_DOMAIN[accel])?.machines ?? []) : undefined;
  let machines: readonly MachineType[];
  let preferred: MachineType | undefined;
  if (accelMachines !== undefined) {
    machines = accelMachines.filter((m) => m.name !== 'none');
    // virQEMUCapsGetPreferredMachine: the list's first machine (an alias entry follows its machine).
    preferred = machines[0];
  } else {
    machines = (guest?.machines ?? []).filter((m) => m.name !== 'none');
    const wanted = PREFERRED_MACHINE[binaryArch];
    // The probe keeps QEMU's versioned names with `alias` beside them; ours lists the alias as its own entry.
    preferred = (wanted !== undefined ? machines.filter((m) => m.name === wanted || versioned(m) === wanted).pop() : undefined) ?? machines.find((m) => m.isDefault) ?? machines[0];
  }
  const cpuNames = new Set(caps.cpuModels.map((c) => c.name));
  const cpuKnown = (name: string) => caps.cpuModels.length === 0 || cpuNames.has(name);
  // The first machine of each name that is an alias (canonical set), and that is not.
  const aliases = new Map<string, MachineType>();
  const plain = new Map<string, MachineType>();
  for (const m of machines) {
    const byName = m.canonical !== undefined ? aliases : plain;
    if (!byName.has(m.name)) byName.set(m.name, m);
  }
  const defaultCPUs = new Map<string, string | undefined>();
  const machineDefaultCPU = (name: string): string | undefined => {
    const m = plain.get(name);
    if (!m) return undefined;
    // The caps cache records each machine's default CPU; QEMU's listings do not, so it is inferred.
    if (accelMachines !== undefined) return m.defaultCPU;
    if (m.defaultCPU !== undefined) return m.defaultCPU;
    if (!isX86(binaryArch)) return undefined;
    const model = x86DefaultCPU(binaryArch, name);
    return model !== undefined && cpuKnown(model) ? model : undefined;
  };
  return {
    caps,
    guest,
    binaryArch,
    accel,
    flags,
    has: (flag) => flags.has(flag),
    machines,
    preferredMachine: preferred ? versioned(preferred) : undefined,
    canonicalMachine: (name) => aliases.get(name)?.canonical,
    machineDefaultCPU: (name) => {
      if (defaultCPUs.has(name)) return defaultCPUs.get(name);
      const cpu = machineDefaultCPU(name);
      defaultCPUs.set(name, cpu);
      return cpu;
    },
    // TCG emulates GICv2 and GICv3; what KVM offers depends on the host's kernel, which the caps do not record.
    supportsGIC: (version) => isARM(binaryArch) && accel === 'tcg' && (version === '2' || version === '3'),
    ...(guest?.qemuFlags
      ? {
          addressCaps: {
            virtioPciTransitional: flags.has('virtio-pci-non-transitional'),
            pciePciBridge: flags.has('pcie-pci-bridge'),
            pcieRootPort: flags.has('pcie-root-port'),
            virtioMmio: flags.has('virtio-mmio'),
          },
        }
      : {}),
  };
}

export function createQemuData(caps: Capabilities, def: DomainDef, config: QemuConfig = DEFAULT_QEMU_CONFIG): QemuData {
  const arch = def.os?.type?.arch ?? caps.host.arch;
  const guest = guestOf(caps, def);
  const binaryArch = guest?.arch ?? arch;
  const accel = def.type === 'kvm' ? 'kvm' : def.type === 'hvf' ? 'hvf' : 'tcg';
  if (config === DEFAULT_QEMU_CONFIG) return sharedData(caps, guest, binaryArch, accel, arch);
  return { ...computeBinaryData(caps, guest, binaryArch, accel), arch, config };
}
