/**
 * QEMU post-parse of the remaining device kinds: the default NIC and video
 * models (qemuDomainDeviceNetDefPostParse, qemuDomainDeviceVideoDefPostParse),
 * TPM, shmem, panic, vsock and memory devices (qemuDomainTPMDefPostParse,
 * qemuDomainShmemDefPostParse, qemuDomainDevicePanicDefPostParse,
 * qemuDomainVsockDefPostParse, qemuDomainMemoryDefPostParse).
 * Inputs, sounds, audio backends and the memballoon have no QEMU device
 * step: their defaults are parse-time or domain-level.
 */
import { VirtError } from '../../errors.ts';
import { deviceRule, type DeviceRule } from '../../postparse/rules.ts';
import type { Ctx } from '../../postparse/types.ts';
import type { DomainDef } from '../../domain/types.ts';
import { parseScaledKiB, unitMultiplier } from '../../util/units.ts';
import type { QemuData } from './data.ts';
import { archOf, hasQemuCap, haveQemuCaps, isARMBoardArch, isARMVirt, isPPC64, isPSeries, isRISCVVirt, isS390 } from './devices-common.ts';

// ------------------------------------------------------------- <interface>

/** qemuDomainDefaultNetModel; undefined when it depends on capabilities QEMU did not report. */
function defaultNetModel(def: DomainDef, ctx: Ctx<QemuData>): string | undefined {
  const arch = archOf(def, ctx);
  if (isS390(arch)) return 'virtio';
  if (isARMBoardArch(arch)) {
    if (def.os?.type?.machine === 'versatilepb') return 'scm91c111'; // libvirt's enum spelling of SMC91C111, written verbatim
    if (isARMVirt(def)) return 'virtio';
    return 'lan9118';
  }
  if (isRISCVVirt(def)) return 'virtio';
  if (!haveQemuCaps(ctx)) return undefined;
  if (hasQemuCap(ctx, 'rtl8139')) return 'rtl8139';
  if (hasQemuCap(ctx, 'e1000')) return 'e1000';
  if (hasQemuCap(ctx, 'virtio-net')) return 'virtio';
  return 'rtl8139';
}

const netModelVdpa = deviceRule<QemuData, 'interface'>(['interface'], 'net-model-vdpa', 'a vDPA interface is always a virtio NIC', (net) => {
  if (net.type !== 'vdpa' || net.model?.type !== undefined) return;
  (net.model ??= {}).type = 'virtio';
});

const netModelDefault = deviceRule<QemuData, 'interface'>(
  ['interface'],
  'net-model-default',
  "an interface without a model gets the emulator's most widely supported NIC: rtl8139 on x86 (then e1000, virtio), virtio on s390 and the virt machines, lan9118 (scm91c111 on versatilepb) on other ARM boards",
  (net, def, ctx) => {
    // The host networks are not consulted: a network with <forward mode='hostdev'> is taken as an ordinary one.
    if (net.type === 'vdpa' || net.type === 'hostdev' || net.model?.type !== undefined) return;
    const model = defaultNetModel(def, ctx);
    if (model !== undefined) (net.model ??= {}).type = model;
  },
);

// ----------------------------------------------------------------- <video>

/** QEMU_QXL_VGAMEM_DEFAULT, in KiB. */
const QXL_VGAMEM_KIB = 16384;

const videoModelDefault = deviceRule<QemuData, 'video'>(
  ['video'],
  'video-model-default',
  "a video device without a model gets the machine's usual one: vga on ppc64, virtio on ARM/RISC-V virt and s390, else cirrus (then VGA) when QEMU has it",
  (video, def, ctx) => {
    const model = (video.model ??= {});
    if (model.type !== undefined && model.type !== 'default') return;
    const arch = archOf(def, ctx);
    let type = 'default';
    if (isPPC64(arch)) type = 'vga';
    else if (isARMVirt(def) || isRISCVVirt(def) || isS390(arch)) type = 'virtio';
    else if (hasQemuCap(ctx, 'cirrus-vga')) type = 'cirrus';
    else if (hasQemuCap(ctx, 'VGA')) type = 'vga';
    model.type = type;
  },
);

const qxlVgamem = deviceRule<QemuData, 'video'>(['video'], 'qxl-vgamem', "a QXL device without vgamem gets QEMU's 16 MiB VGA memory", (video) => {
  const model = video.model;
  if (model?.type !== 'qxl') return;
  if (model.vgamem === undefined || Number(model.vgamem) === 0) model.vgamem = String(QXL_VGAMEM_KIB);
});

// ------------------------------------------------------------------- <tpm>

const tpmModelDefault = deviceRule<QemuData, 'tpm'>(['tpm'], 'tpm-model-default', 'a TPM without a model is tpm-spapr on ppc64, else tpm-tis', (tpm, def, ctx) => {
  if (tpm.model !== undefined && tpm.model !== 'default') return;
  tpm.model = isPPC64(archOf(def, ctx)) ? 'tpm-spapr' : 'tpm-tis';
});

const tpmEmulatorVersion = deviceRule<QemuData, 'tpm'>(
  ['tpm'],
  'tpm-emulator-version',
  'TPM 1.2 and 2.0 are not compatible, so an emulated TPM is pinned to a version: 2.0 for tpm-crb, tpm-spapr and ARM virt, else 1.2',
  (tpm, def) => {
    const backend = tpm.backend;
    if (backend?.type !== 'emulator' || (backend.version !== undefined && backend.version !== 'default')) return;
    backend.version = tpm.model === 'tpm-spapr' || tpm.model === 'tpm-crb' || isARMVirt(def) ? '2.0' : '1.2';
  },
);

// ----------------------------------------------------------------- <shmem>

/** A shmem <size> in bytes (libvirt reads it with a default unit of bytes); 0 when absent. */
function shmemBytes(size: { unit?: string; text?: string } | undefined): bigint {
  if (!size?.text?.trim()) return 0n;
  const mult = unitMultiplier(size.unit, 1n);
  if (mult === undefined || !/^\s*\+?\d+\s*$/.test(size.text)) return 0n;
  return BigInt(size.text.trim().replace(/^\+/, '')) * mult;
}

const shmemDefaults = deviceRule<QemuData, 'shmem'>(
  ['shmem'],
  'shmem-defaults',
  'ivshmem regions default to 4 MiB; an ivshmem-doorbell needs a server and then always uses MSI with ioeventfd on',
  (shm, _def, ctx) => {
    const model = shm.model?.type ?? 'ivshmem';
    if (model !== 'ivshmem-doorbell' && shmemBytes(shm.size) === 0n) shm.size = { unit: 'M', text: '4' };
    if (model === 'ivshmem') return;
    const msg = (what: string) => `shmem model '${model}' ${what}`;
    if (!shm.server) {
      if (model === 'ivshmem-doorbell') throw new VirtError('CONFIG_UNSUPPORTED', msg('is supported only with server option enabled'), `${ctx.devicePath}/model/@type`);
      // libvirt reports "doesn't support msi" here without failing; the parser already refuses <msi> without a server.
      return;
    }
    if (model === 'ivshmem-plain') throw new VirtError('CONFIG_UNSUPPORTED', msg('is supported only with server option disabled'), `${ctx.devicePath}/server`);
    if (shmemBytes(shm.size) !== 0n) throw new VirtError('CONFIG_UNSUPPORTED', msg('does not support size setting'), `${ctx.devicePath}/size`);
    const msi = (shm.msi ??= {});
    msi.ioeventfd ??= 'on';
  },
);

// ----------------------------------------------------------------- <panic>

const panicModelDefault = deviceRule<QemuData, 'panic'>(['panic'], 'panic-model-default', 'a panic device without a model is pseries on pSeries, s390 on s390, else the ISA pvpanic device', (panic, def, ctx) => {
  if (panic.model !== undefined && panic.model !== 'default') return;
  panic.model = isPSeries(def) ? 'pseries' : isS390(archOf(def, ctx)) ? 's390' : 'isa';
});

// ----------------------------------------------------------------- <vsock>

const vsockModelDefault = deviceRule<QemuData, 'vsock'>(['vsock'], 'vsock-model-default', 'QEMU implements vsock only as vhost-vsock, a virtio device', (vsock) => {
  if (vsock.model !== undefined && vsock.model !== 'default') return;
  vsock.model = 'virtio';
});

// -------------------------------------------------------- <memory> devices

/** 256 MiB in KiB: the memory module alignment of pSeries guests. */
const PPC64_MEM_ALIGN_KIB = 256 * 1024;

const memoryPpc64Align = deviceRule<QemuData, 'memory'>(
  ['memory'],
  'memory-ppc64-align',
  'pSeries guests map memory modules in 256 MiB blocks: a new definition has a DIMM rounded up to them, an NVDIMM guest area rounded down',
  (mem, def, ctx) => {
    if (!ctx.flags.abiUpdate || !isPPC64(archOf(def, ctx))) return;
    const target = mem.target;
    if (!target?.size) return;
    const at = `${ctx.devicePath}/target/size`;
    const size = parseScaledKiB({ value: target.size.text ?? '', unit: target.size.unit, path: at, xpath: './target/size[1]' });
    let next: number;
    if (mem.model === 'nvdimm') {
      const label = target.label?.size ? parseScaledKiB({ value: target.label.size.text ?? '', unit: target.label.size.unit, path: `${ctx.devicePath}/target/label/size`, xpath: './target/label/size[1]' }) : 0;
      const guestArea = size - label;
      if (guestArea < PPC64_MEM_ALIGN_KIB) throw new VirtError('XML_ERROR', 'minimum target size for the NVDIMM must be 256MB plus the label size', at);
      next = Math.floor(guestArea / PPC64_MEM_ALIGN_KIB) * PPC64_MEM_ALIGN_KIB + label;
    } else {
      next = Math.ceil(size / PPC64_MEM_ALIGN_KIB) * PPC64_MEM_ALIGN_KIB;
    }
    if (next !== size || target.size.unit !== 'KiB') target.size = { ...target.size, unit: 'KiB', text: String(next) };
  },
);

export const qemuNetRules: DeviceRule<QemuData, any>[] = [netModelVdpa, netModelDefault];
export const qemuVideoRules: DeviceRule<QemuData, any>[] = [videoModelDefault, qxlVgamem];
export const qemuMiscRules: DeviceRule<QemuData, any>[] = [tpmModelDefault, tpmEmulatorVersion, shmemDefaults, panicModelDefault, vsockModelDefault, memoryPpc64Align];
