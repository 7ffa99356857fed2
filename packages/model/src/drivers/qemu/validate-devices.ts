/**
 * QEMU per-device validation (qemuValidateDomainDeviceDef in
 * src/qemu/qemu_validate.c): watchdogs, hostdevs, filesystems, TPM,
 * balloon, IOMMU, nvram, hubs, memory devices, shmem and vsock here; the
 * other kinds in validate-disk.ts, validate-controller.ts, validate-net.ts,
 * validate-chardev.ts and validate-display.ts. qemuDeviceKindChecks
 * gathers them all.
 */
import type { DeviceValidator } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { chardev, redirdev, rng, smartcard } from './validate-chardev.ts';
import { audio, graphics, input, sound, video } from './validate-display.ts';
import { network } from './validate-net.ts';
import {
  arch,
  capsOf,
  emulatorPath,
  isARMVirt,
  isPPC64,
  isPSeries,
  isQ35,
  isS390,
  num,
  pathOf,
  QEMU_HOST,
  requireSharedMemory,
  unsupported,
  VIRTIO_MODELS,
  type DV,
} from './validate-util.ts';

const watchdog: DV<'watchdog'> = {
  name: 'watchdog',
  kinds: ['watchdog'],
  check(w, def, ctx) {
    const p = pathOf(ctx, 'watchdog');
    const model = w.model ?? '';
    const addr = w.address?.type;
    switch (model) {
      case 'i6300esb':
        if (addr !== undefined && addr !== 'pci') unsupported(`${model} model of watchdog can go only on PCI bus`, `${p}/address/@type`);
        break;
      case 'ib700':
        if (addr !== undefined) unsupported(`${model} model of watchdog does not support configuring the address`, `${p}/address`);
        break;
      case 'diag288':
        if (addr !== undefined) unsupported(`${model} model of watchdog is virtual and cannot go on any bus.`, `${p}/address`);
        if (!isS390(arch(def, ctx))) unsupported(`${model} model of watchdog is allowed for s390 and s390x only`, `${p}/@model`);
        break;
      default:
        break;
    }
  },
};

/** qemuValidateDomainDeviceDefHostdev (with the mediated-device checks). */
const hostdev: DV<'hostdev'> = {
  name: 'hostdev',
  kinds: ['hostdev'],
  check(h, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'hostdev');
    const mode = h.mode ?? 'subsystem';
    if (mode === 'capabilities') unsupported(`hostdev mode 'capabilities' is not supported in ${def.type}`, `${p}/@mode`);
    if (mode !== 'subsystem') return;
    const boot = h.boot?.order !== undefined;
    switch (h.type) {
      case 'usb':
        if (h.source?.guestReset !== undefined && !has('usb-host.guest-resets-all')) {
          unsupported('guestReset is not supported with this version of QEMU', `${p}/source/@guestReset`);
        }
        break;
      case 'pci':
        if (h.driver?.name === 'vfio' && !has('vfio-pci')) unsupported('VFIO PCI device assignment is not supported by this version of qemu', `${p}/driver/@name`);
        if (h.source?.writeFiltering !== undefined) {
          unsupported('Write filtering of PCI device configuration space is not supported by qemu', `${p}/source/@writeFiltering`);
        }
        break;
      case 'scsi_host':
        if (boot) unsupported('booting from assigned devices is not supported by vhost SCSI devices', `${p}/boot`);
        if (h.source?.protocol === 'vhost' && !has('vhost-scsi')) unsupported("This QEMU doesn't support vhost-scsi devices", `${p}/source/@protocol`);
        break;
      case 'mdev':
        switch (h.model) {
          case 'vfio-pci':
            if (!has('vfio-pci')) unsupported('VFIO PCI device assignment is not supported by this version of QEMU', `${p}/@model`);
            if (boot) unsupported('booting from assigned devices is not supported by mediated devices of model vfio-pci', `${p}/boot`);
            if (h.display === undefined) break;
            if (!has('vfio-pci.display')) unsupported('display property of device vfio-pci is not supported by this version of QEMU', `${p}/@display`);
            if (h.display === 'on' && !(def.devices?.graphics ?? []).length) {
              unsupported("graphics device is needed for attribute value 'display=on' in <hostdev>", `${p}/@display`);
            }
            break;
          case 'vfio-ap': {
            if (!has('vfio-ap')) unsupported('VFIO AP device assignment is not supported by this version of QEMU', `${p}/@model`);
            if (boot) unsupported('booting from assigned devices is not supported by mediated devices of model vfio-ap', `${p}/boot`);
            const aps = (def.devices?.hostdevs ?? []).filter((x) => x.type === 'mdev' && x.model === 'vfio-ap');
            if (aps.length > 1) unsupported('Only one hostdev of model vfio-ap is supported', p);
            break;
          }
          case 'vfio-ccw':
            if (!has('vfio-ccw')) unsupported('VFIO CCW device assignment is not supported by this version of QEMU', `${p}/@model`);
            break;
          default:
            break;
        }
        break;
      default:
        break;
    }
  },
};

// ------------------------------------------------------------ <filesystem>

/** qemuValidateDomainDeviceDefFS. Generic post-parse made an absent accessmode passthrough unless a vhost-user socket is used. */
const filesystem: DV<'filesystem'> = {
  name: 'filesystem',
  kinds: ['filesystem'],
  check(fs, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'filesystem');
    if ((fs.type ?? 'mount') !== 'mount') unsupported('only supports mount filesystem type', `${p}/@type`);
    const multidevs = fs.multidevs !== undefined && fs.multidevs !== 'default';
    if (multidevs && !has('fsdev.multidevs')) unsupported('multidevs is not supported with this QEMU binary', `${p}/@multidevs`);
    const socket = fs.source?.socket !== undefined;
    const access = fs.accessmode ?? (socket ? undefined : 'passthrough');
    const fdmode = (num(fs.fmode) ?? 0) !== 0 || (num(fs.dmode) ?? 0) !== 0;
    if (fdmode && access !== 'mapped') unsupported('fmode and dmode must be used with accessmode=mapped', `${p}/@accessmode`);
    const driver = fs.driver?.type;
    const sandbox = fs.binary?.sandbox?.mode;
    if (driver !== 'virtiofs' && sandbox !== undefined && sandbox !== 'default') unsupported('sandbox can only be used with driver=virtiofs', `${p}/binary/sandbox`);
    switch (driver) {
      case 'handle':
        if (access !== 'passthrough') unsupported('only supports passthrough accessmode', `${p}/@accessmode`);
        break;
      case 'loop':
      case 'nbd':
      case 'ploop':
        unsupported('Filesystem driver type not supported', `${p}/driver/@type`);
      case 'virtiofs':
        if (!socket) {
          if (fs.readonly !== undefined) unsupported('virtiofs does not yet support read-only mode', `${p}/readonly`);
          if (!QEMU_HOST.privileged) unsupported('virtiofs is not yet supported in session mode', `${p}/driver/@type`);
          if (access !== 'passthrough') unsupported('virtiofs only supports passthrough accessmode', `${p}/@accessmode`);
          if (fs.driver?.wrpolicy !== undefined) unsupported('virtiofs does not support wrpolicy', `${p}/driver/@wrpolicy`);
        }
        if (fs.model !== undefined && fs.model !== 'default') unsupported('virtiofs does not support model', `${p}/@model`);
        if (fs.driver?.format !== undefined) unsupported('virtiofs does not support format', `${p}/driver/@format`);
        if (!has('vhost-user-fs')) unsupported('virtiofs is not supported with this QEMU binary', `${p}/driver/@type`);
        if (multidevs) unsupported('virtiofs does not support multidevs', `${p}/@multidevs`);
        if (fdmode) unsupported('virtiofs does not support fmode and dmode', p);
        requireSharedMemory(def, 'virtiofs', `${p}/driver/@type`);
        if (fs.boot?.order !== undefined && !has('vhost-user-fs.bootindex')) {
          unsupported('setting virtiofs boot order is not supported with this QEMU binary', `${p}/boot`);
        }
        break;
      default:
        break;
    }
  },
};

// ------------------------------------------------------------ <tpm>

/**
 * qemuValidateDomainDeviceDefTPM. The emulator and external backends and
 * the TPM versions come from the host's swtpm, which the hosts we assume do
 * not have (QEMU_HOST).
 */
const tpm: DV<'tpm'> = {
  name: 'tpm',
  kinds: ['tpm'],
  check(t, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'tpm');
    const a = arch(def, ctx);
    const model = t.model ?? (isPPC64(a) ? 'tpm-spapr' : 'tpm-tis');
    const backend = t.backend?.type ?? '';
    if (backend === 'emulator') {
      const version = t.backend?.version ?? (model === 'tpm-spapr' || model === 'tpm-crb' || isARMVirt(def) ? '2.0' : '1.2');
      const offered = QEMU_HOST.swtpm && QEMU_HOST.swtpmVersions.includes(version);
      if (!offered) unsupported(`TPM version '${version}' is not supported`, `${p}/backend`);
      if (version === '1.2') {
        if (model === 'tpm-crb') unsupported(`Unsupported interface '${model}' for TPM 1.2`, `${p}/@model`);
        if (model === 'tpm-spapr') unsupported('TPM 1.2 is not supported with the SPAPR device model', `${p}/@model`);
        if (isARMVirt(def)) unsupported('TPM 1.2 is not supported on ARM', `${p}/backend/@version`);
      }
    }
    const backendOffered = backend === 'passthrough' ? has('tpm-passthrough') : backend === 'emulator' || backend === 'external' ? QEMU_HOST.swtpm && has('tpm-emulator') : false;
    if (!backendOffered) unsupported(`The QEMU executable ${emulatorPath(def, ctx)} does not support TPM backend type ${backend}`, `${p}/backend/@type`);
    if (isPPC64(a) && model === 'spapr-tpm-proxy' && backend !== 'passthrough') unsupported(`TPM Proxy model ${model} requires 'Passthrough' backend`, `${p}/backend/@type`);
    const MODEL_CAPS: Record<string, string> = { 'tpm-tis': 'tpm-tis', 'tpm-crb': 'tpm-crb', 'tpm-spapr': 'tpm-spapr', 'spapr-tpm-proxy': 'spapr-tpm-proxy' };
    const flag = MODEL_CAPS[model];
    if (flag === undefined || !has(flag)) unsupported(`The QEMU executable ${emulatorPath(def, ctx)} does not support TPM model ${model}`, `${p}/@model`);
  },
};

// ------------------------------------------------------------ the rest

const memballoon: DV<'memballoon'> = {
  name: 'memballoon',
  kinds: ['memballoon'],
  check(m, _def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'memballoon');
    const model = m.model ?? '';
    if (model === 'none') return;
    if (!VIRTIO_MODELS.includes(model)) unsupported(`Memory balloon device type '${model}' is not supported by this version of qemu`, `${p}/@model`);
    if (m.autodeflate !== undefined && !has('virtio-balloon-pci.deflate-on-oom')) unsupported('deflate-on-oom is not supported by this QEMU binary', `${p}/@autodeflate`);
    if (m.freePageReporting !== undefined && !has('virtio-balloon.free-page-reporting')) {
      unsupported('freePageReporting is not supported by this QEMU binary', `${p}/@freePageReporting`);
    }
  },
};

/** qemuValidateDomainDeviceDefIOMMU. */
const iommu: DV<'iommu'> = {
  name: 'iommu',
  kinds: ['iommu'],
  check(io, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'iommu');
    const model = io.model ?? '';
    const at = `${p}/@model`;
    switch (model) {
      case 'intel':
        if (!isQ35(def)) unsupported(`IOMMU device: '${model}' is only supported with Q35 machines`, at);
        if (!has('intel-iommu')) unsupported(`IOMMU device: '${model}' is not supported with this QEMU binary`, at);
        break;
      case 'smmuv3':
        if (!isARMVirt(def)) unsupported(`IOMMU device: '${model}' is only supported with ARM Virt machines`, at);
        unsupported(`IOMMU device: '${model}' is not supported with this QEMU binary`, at);
      case 'virtio':
        if (!isARMVirt(def) && !isQ35(def)) unsupported(`IOMMU device: '${model}' is only supported with Q35 and ARM Virt machines`, at);
        if (!has('virtio-iommu-pci') || !has('virtio-iommu.boot-bypass')) unsupported(`IOMMU device: '${model}' is not supported with this QEMU binary`, at);
        if (def.features?.acpi === undefined) unsupported(`IOMMU device: '${model}' requires ACPI`, at);
        if (io.address?.type !== undefined && io.address.type !== 'pci') unsupported(`IOMMU device: '${model}' needs a PCI address`, `${p}/address/@type`);
        break;
      default:
        break;
    }
    const d = io.driver;
    if (!d) return;
    const at2 = `${p}/driver`;
    if (d.intremap !== undefined && !has('intel-iommu.intremap')) unsupported('iommu: interrupt remapping is not supported with this QEMU binary', `${at2}/@intremap`);
    if (d.cachingMode !== undefined && !has('intel-iommu.caching-mode')) unsupported('iommu: caching mode is not supported with this QEMU binary', `${at2}/@caching_mode`);
    if (d.eim !== undefined && !has('intel-iommu.eim')) unsupported('iommu: eim is not supported with this QEMU binary', `${at2}/@eim`);
    if (d.iotlb !== undefined && !has('intel-iommu.device-iotlb')) unsupported('iommu: device IOTLB is not supported with this QEMU binary', `${at2}/@iotlb`);
    if ((num(d.awBits) ?? 0) > 0 && !has('intel-iommu.aw-bits')) unsupported('iommu: aw_bits is not supported with this QEMU binary', `${at2}/@aw_bits`);
  },
};

const nvram: DV<'nvram'> = {
  name: 'nvram',
  kinds: ['nvram'],
  check(_n, def, ctx) {
    const p = pathOf(ctx, 'nvram');
    if (!isPSeries(def)) unsupported('nvram device is only supported for PPC64', p);
    unsupported('nvram device is not supported by this QEMU binary', p);
  },
};

const hub: DV<'hub'> = {
  name: 'hub',
  kinds: ['hub'],
  check(h, _def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'hub');
    if ((h.type ?? 'usb') !== 'usb') unsupported(`hub type ${h.type} not supported`, `${p}/@type`);
    if (!has('usb-hub')) unsupported('usb-hub not supported by QEMU binary', p);
  },
};

/**
 * qemuValidateDomainDeviceDefMemory. `sgx-epc` is host-dependent: libvirt
 * only sets it on SGX hosts, which the hosts we assume are not.
 */
const memory: DV<'memory'> = {
  name: 'memory-device',
  kinds: ['memory'],
  check(m, _def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'memory');
    const at = `${p}/@model`;
    switch (m.model) {
      case 'dimm':
        if (!has('pc-dimm')) unsupported("memory hotplug isn't supported by this QEMU binary", at);
        break;
      case 'nvdimm':
        if (!has('nvdimm')) unsupported("nvdimm isn't supported by this QEMU binary", at);
        if (m.target?.readonly !== undefined && !has('nvdimm.unarmed')) unsupported('nvdimm readonly property is not available with this QEMU binary', `${p}/target/readonly`);
        break;
      case 'virtio-pmem':
        if (!has('virtio-pmem-pci')) unsupported("virtio-pmem isn't supported by this QEMU binary", at);
        break;
      case 'virtio-mem':
        if (!has('virtio-mem-pci')) unsupported("virtio-mem isn't supported by this QEMU binary", at);
        break;
      case 'sgx-epc':
        if (!has('sgx-epc')) unsupported("sgx epc isn't supported by this QEMU binary", at);
        unsupported("this QEMU version didn't provide SGX EPC NUMA info", at);
      default:
        break;
    }
  },
};

const shmem: DV<'shmem'> = {
  name: 'shmem',
  kinds: ['shmem'],
  check(s, _def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'shmem');
    const model = s.model?.type ?? 'ivshmem';
    // The legacy ivshmem device left QEMU in 4.0.
    if (model === 'ivshmem' && !has('ivshmem')) unsupported('ivshmem device is not supported with this QEMU binary', `${p}/model`);
    if ((model === 'ivshmem-plain' || model === 'ivshmem-doorbell') && !has(model)) {
      unsupported(`shmem model '${model}' is not supported by this QEMU binary`, `${p}/model/@type`);
    }
  },
};

const vsock: DV<'vsock'> = {
  name: 'vsock',
  kinds: ['vsock'],
  check(_v, _def, ctx) {
    const has = capsOf(ctx);
    if (!has('vhost-vsock')) unsupported('vsock device is not supported with this QEMU binary', pathOf(ctx, 'vsock'));
  },
};

/** The per-kind checks of qemuValidateDomainDeviceDef, after the device-info ones. */

/** The per-kind checks of qemuValidateDomainDeviceDef, after the device-info ones. */
export const qemuDeviceKindChecks: DeviceValidator<QemuData, any>[] = [
  network,
  chardev,
  smartcard,
  rng,
  redirdev,
  watchdog,
  hostdev,
  video,
  vsock,
  tpm,
  graphics,
  input,
  memballoon,
  iommu,
  filesystem,
  nvram,
  hub,
  sound,
  memory,
  shmem,
  audio,
];
