/**
 * The parse-time checks of the other device kinds, each as its
 * virDomain*DefParseXML reads it: controllers (and the USB controllers'
 * sanity), inputs, sounds, videos, watchdog, memballoon, rngs, smartcards,
 * tpms, panics, shmems, memory devices, iommu and vsock.
 */
import { VirtError } from '../../errors.ts';
import type { DomainDraft } from '../types.ts';
import { checkDeviceInfo, type DeviceInfoLike } from './device-info.ts';
import { attrPath, extraChildren, propEnum, propInt, propOnOff, propUInt, propYesNo, toInt, toULongLong } from './xmlprop.ts';
import { CONTROLLER_TYPES, checkControllerModel } from './controllers.ts';
import { VIDEO_TYPES } from './video.ts';
import { CHR_TYPES } from './chardev-source.ts';
import { VIRTIO_MODELS, checkVirtioOptions, type Item } from './device-parse-shared.ts';
import { unitMultiplier } from '../../util/units.ts';
import { indexedDevicePath } from '../../util/device-path.ts';

const USB2_COMPANIONS = ['ich9-uhci1', 'ich9-uhci2', 'ich9-uhci3'];

/** A `model='none'` USB controller: the domain has USB disabled. */
export function usbDisabled(def: DomainDraft): boolean {
  return (def.devices?.controllers ?? []).some((c) => c.type === 'usb' && c.model === 'none');
}

/** The bus an <input> gets at parse time when none is written (virDomainInputDefParseXML). */
export function inputBus(input: Item<'inputs'>, def: DomainDraft): string | undefined {
  if (input.bus !== undefined) return input.bus;
  const os = def.os?.type?.text;
  const arch = def.os?.type?.arch;
  if (os === 'hvm') {
    if ((input.type === 'mouse' || input.type === 'keyboard') && (arch === undefined || arch === 'i686' || arch === 'x86_64')) return 'ps2';
    if (arch === 's390' || arch === 's390x' || input.type === 'passthrough') return 'virtio';
    if (input.type === 'evdev') return 'none';
    return 'usb';
  }
  if (os === 'xen' || os === 'xenpvh') return 'xen';
  if (def.type === 'vz' || def.type === 'parallels') return 'parallels';
  return 'ps2';
}

/** virDomainControllerPCIModelName. */
const PCI_MODEL_NAMES = ['none', 'pci-bridge', 'i82801b11-bridge', 'ioh3420', 'x3130-upstream', 'xio3130-downstream', 'pxb', 'pxb-pcie', 'pcie-root-port', 'spapr-pci-host-bridge', 'pcie-pci-bridge'] as const;

export function checkController(c: Item<'controllers'>, at: string): void {
  const type = propEnum(c.type, 'type', 'controller', at, CONTROLLER_TYPES) ?? 'ide';
  checkControllerModel(type, c.model, at);
  propInt(c.index, 'index', 'controller', at, { nonnegative: true });
  if (c.driver) {
    const d = `${at}/driver`;
    propUInt(c.driver.queues, 'queues', 'driver', d);
    propUInt(c.driver.cmdPerLun, 'cmd_per_lun', 'driver', d);
    propUInt(c.driver.maxSectors, 'max_sectors', 'driver', d);
    propOnOff(c.driver.ioeventfd, 'ioeventfd', 'driver', d);
    propUInt(c.driver.iothread, 'iothread', 'driver', d);
    checkVirtioOptions(c.driver, d);
  }
  if (extraChildren(c, 'model') > 0) throw new VirtError('XML_ERROR', 'Multiple <model> elements in controller definition not allowed', `${at}/model[2]`);
  if (c.modelName && type === 'pci') propEnum(c.modelName.name, 'name', 'model', `${at}/model`, PCI_MODEL_NAMES);
  if (extraChildren(c, 'target') > 0) throw new VirtError('XML_ERROR', 'Multiple <target> elements in controller definition not allowed', `${at}/target[2]`);
  const t = c.target;
  if (t && c.type === 'pci') {
    const tp = `${at}/target`;
    for (const [k, v] of [['chassisNr', t.chassisNr], ['chassis', t.chassis], ['port', t.port], ['busNr', t.busNr]] as const) propInt(v, k, 'target', tp, { base: 0, nonnegative: true });
    propOnOff(t.hotplug, 'hotplug', 'target', tp);
    propInt(t.index, 'index', 'target', tp, { base: 0, nonnegative: true });
  }
  if (t?.node !== undefined) {
    const n = toInt(t.node, 10);
    if (n === undefined || n < 0) throw new VirtError('XML_ERROR', 'invalid NUMA node in target', `${at}/target/node`);
  }
  // libvirt ignores the info of a USB controller that disables USB.
  if (!(c.type === 'usb' && c.model === 'none')) checkDeviceInfo(c as DeviceInfoLike, at);
  propInt(c.ports, 'ports', 'controller', at, { nonnegative: true });
  if (c.type === 'virtio-serial') propInt(c.vectors, 'vectors', 'controller', at, { nonnegative: true });
}

type UsbControllerLike = { readonly type?: string | undefined; readonly model?: string | undefined; readonly master?: unknown };

/**
 * virDomainDefControllersParse's USB sanity, one controller at a time as it
 * reads them: `model='none'` must be the only USB controller (checked as each
 * is read), and someone must be the master (checked by `end`, once all are).
 */
export function usbControllerSanity(): { add(c: UsbControllerLike, path: string): void; end(): void } {
  let none = false;
  let other = false;
  let master = false;
  return {
    add(c, path) {
      if (c.type !== 'usb') return;
      if (none || (c.model === 'none' && other)) {
        throw new VirtError('XML_DETAIL', "Can't add another USB controller: USB is disabled for this domain", path);
      }
      if (c.model === 'none') none = true;
      else other = true;
      if (!c.master && !USB2_COMPANIONS.includes(c.model ?? '')) master = true;
    },
    end() {
      if (other && !master) throw new VirtError('XML_DETAIL', 'No master USB controller specified', '/domain/devices');
    },
  };
}

/**
 * The USB sanity over a whole list of controllers. Run by attach-device on
 * the controllers with the new one among them (no context: paths are the domain's).
 */
export function checkUsbControllers(list: readonly UsbControllerLike[], pathOf: (index: number) => string = (i) => indexedDevicePath('controller', i)): void {
  const usb = usbControllerSanity();
  list.forEach((c, i) => usb.add(c, pathOf(i)));
  usb.end();
}

const INPUT_TYPES = ['mouse', 'tablet', 'keyboard', 'passthrough', 'evdev'];
const INPUT_BUSES = ['ps2', 'usb', 'xen', 'parallels', 'virtio', 'none'];
const INPUT_MODELS: readonly string[] = VIRTIO_MODELS;
/** virDomainInputSourceGrab, virDomainInputSourceGrabToggle. */
const INPUT_GRABS = ['default', 'all'] as const;
const INPUT_GRAB_TOGGLES = ['default', 'ctrl-ctrl', 'alt-alt', 'shift-shift', 'meta-meta', 'scrolllock', 'ctrl-scrolllock'] as const;

/** virDomainInputDefParseXML. */
export function checkInput(input: Item<'inputs'>, def: DomainDraft, at: string): void {
  if (input.type === undefined) throw new VirtError('INTERNAL_ERROR', 'missing input device type', attrPath(at, 'type'));
  if (!INPUT_TYPES.includes(input.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown input device type '${input.type}'`, attrPath(at, 'type'));
  if (input.model !== undefined && (!INPUT_MODELS.includes(input.model) || input.model === 'default')) {
    throw new VirtError('CONFIG_UNSUPPORTED', `unknown input model '${input.model}'`, attrPath(at, 'model'));
  }
  if (input.bus !== undefined && !INPUT_BUSES.includes(input.bus)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown input bus type '${input.bus}'`, attrPath(at, 'bus'));
  checkDeviceInfo(input as DeviceInfoLike, at);
  const addr = input.address?.type;
  if (inputBus(input, def) === 'usb' && addr !== undefined && addr !== 'usb') throw new VirtError('XML_ERROR', 'Invalid address for a USB device', `${at}/address/@type`);
  const src = input.source;
  if (src && (input.type === 'passthrough' || input.type === 'evdev')) {
    const path = input.type === 'passthrough' ? src.evdev : src.dev;
    if (!path) throw new VirtError('XML_ERROR', 'Missing evdev path for input device', `${at}/source`);
  }
  if (src && input.type === 'evdev') {
    const sp = `${at}/source`;
    propEnum(src.grab, 'grab', 'source', sp, INPUT_GRABS, { nonzero: true });
    propEnum(src.grabToggle, 'grabToggle', 'source', sp, INPUT_GRAB_TOGGLES, { nonzero: true });
    propOnOff(src.repeat, 'repeat', 'source', sp);
  }
  checkVirtioOptions(input.driver, `${at}/driver`);
}

/** 1 MiB: the smallest shared memory QEMU maps, and libvirt's unit for writing the size. */
const SHMEM_MIN_BYTES = 1n << 20n;

const SOUND_CODECS = ['duplex', 'micro', 'output'];
/** virDomainSoundModel. */
const SOUND_MODELS = ['sb16', 'es1370', 'pcspk', 'ac97', 'ich6', 'ich9', 'usb', 'ich7'] as const;

/**
 * virDomainSoundDefParseXML: the model (required), then
 * virDomainSoundCodecDefParseXML for the models whose <codec>s libvirt reads
 * (ich6, ich9): a codec type it does not know, or none, is refused at parse
 * time, before the QEMU validation that names the codec's device.
 */
export function checkSoundCodecs(s: Item<'sounds'>, at: string): void {
  propEnum(s.model, 'model', 'sound', at, SOUND_MODELS, { required: true });
  if (s.model !== 'ich6' && s.model !== 'ich9') return;
  (s.codecs ?? []).forEach((c, i) => {
    if (c.type === undefined || !SOUND_CODECS.includes(c.type)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `unknown codec type '${c.type ?? '(null)'}'`, attrPath(`${at}/codec[${i + 1}]`, 'type'));
    }
  });
}

export function checkShmem(s: Item<'shmems'>, at: string): void {
  const model = s.model ? propEnum(s.model.type, 'type', 'model', `${at}/model`, SHMEM_MODELS) : undefined;
  if (s.name === undefined) throw new VirtError('XML_ERROR', "shmem element must contain 'name' attribute", at);
  if ((model ?? 'ivshmem') !== 'ivshmem') propEnum(s.role, 'role', 'shmem', at, SHMEM_ROLES, { nonzero: true });
  // libvirt reads any size but writes it in whole MiB (size >> 20): a size below 1 MiB
  // would be written as 0, which reads back as no size at all. QEMU refuses such a
  // size when the guest starts (qemuBuildShmemCommandLine, with this message); it is
  // refused here, when it is defined, so that what is saved reads back the same.
  const size = s.size as { text?: string; unit?: string } | undefined;
  const n = size?.text === undefined ? undefined : toULongLong(size.text.trim(), 10);
  const mult = unitMultiplier(size?.unit, 1n);
  if (n !== undefined && mult !== undefined && n !== 0n && n * mult < SHMEM_MIN_BYTES) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'shmem size must be at least 1 MiB (1024 KiB)', `${at}/size`);
  }
  if (s.msi) propUInt(s.msi.vectors, 'vectors', 'msi', `${at}/msi`, { base: 0 });
  if (s.msi) propOnOff(s.msi.ioeventfd, 'ioeventfd', 'msi', `${at}/msi`);
  if (s.msi && !s.server) throw new VirtError('XML_ERROR', 'msi option is only supported with a server', `${at}/msi`);
  checkDeviceInfo(s as DeviceInfoLike, at);
}

/** virDomainVideoBackend, virDomainVideoVGAConf. */
const VIDEO_BACKENDS = ['default', 'qemu', 'vhostuser'] as const;
const VIDEO_VGACONFS = ['io', 'on', 'off'] as const;

/** virDomainVideoDefParseXML: <acceleration>, the <driver>'s backend and virtio options, the model type, the device info, then vgaconf. */
export function checkVideo(v: Item<'videos'>, at: string): void {
  const accel = v.model?.acceleration;
  if (accel) {
    const ap = `${at}/model/acceleration`;
    propYesNo(accel.accel3d, 'accel3d', 'acceleration', ap);
    propYesNo(accel.accel2d, 'accel2d', 'acceleration', ap);
  }
  const d = v.driver;
  if (d) {
    propEnum(d.name, 'name', 'driver', `${at}/driver`, VIDEO_BACKENDS, { nonzero: true });
    checkVirtioOptions(d, `${at}/driver`);
  }
  const type = v.model?.type;
  if (type !== undefined && !VIDEO_TYPES.includes(type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown video model '${type}'`, `${at}/model/@type`);
  checkDeviceInfo(v as DeviceInfoLike, at);
  // virDomainVideoDriverDefParseXML's error is ignored by its caller: an unknown
  // vgaconf is no error, and libvirt keeps no vgaconf to write back.
  if (d?.vgaconf !== undefined && !(VIDEO_VGACONFS as readonly string[]).includes(d.vgaconf)) delete d.vgaconf;
}

/** virDomainWatchdogModel, virDomainWatchdogAction. */
const WATCHDOG_MODELS = ['i6300esb', 'ib700', 'diag288'];
const WATCHDOG_ACTIONS = ['reset', 'shutdown', 'poweroff', 'pause', 'dump', 'none', 'inject-nmi'];

/** virDomainWatchdogDefParseXML. */
export function checkWatchdog(w: Item<'watchdog'>, at: string): void {
  if (w.model === undefined) throw new VirtError('INTERNAL_ERROR', 'watchdog must contain model name', attrPath(at, 'model'));
  if (!WATCHDOG_MODELS.includes(w.model)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown watchdog model '${w.model}'`, attrPath(at, 'model'));
  if (w.action !== undefined && !WATCHDOG_ACTIONS.includes(w.action)) {
    throw new VirtError('CONFIG_UNSUPPORTED', `unknown watchdog action '${w.action}'`, attrPath(at, 'action'));
  }
  checkDeviceInfo(w as DeviceInfoLike, at);
}

/** virDomainMemballoonModel. */
const MEMBALLOON_MODELS = ['virtio', 'xen', 'none', 'virtio-transitional', 'virtio-non-transitional'] as const;

/** virDomainMemballoonDefParseXML. */
export function checkMemballoon(m: Item<'memballoon'>, at: string): void {
  const model = propEnum(m.model, 'model', 'memballoon', at, MEMBALLOON_MODELS, { required: true });
  propOnOff(m.autodeflate, 'autodeflate', 'memballoon', at);
  propOnOff(m.freePageReporting, 'freePageReporting', 'memballoon', at);
  if (model !== 'none') checkDeviceInfo(m as DeviceInfoLike, at);
  checkVirtioOptions(m.driver, `${at}/driver`);
}

/** virDomainRNGModel, virDomainRNGBackend. */
const RNG_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'];
const RNG_BACKENDS = ['random', 'egd', 'builtin'];

/** virDomainRNGDefParseXML: model, the one backend's model, an egd backend's chardev source (`egdSource`, chardev-other-sources.ts's), the device info. */
export function checkRng(r: Item<'rngs'>, at: string, egdSource: (backend: NonNullable<Item<'rngs'>['backend']>, path: string) => void): void {
  if (r.model === undefined) throw new VirtError('XML_ERROR', 'missing RNG device model', attrPath(at, 'model'));
  if (!RNG_MODELS.includes(r.model)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown RNG model '${r.model}'`, attrPath(at, 'model'));
  const b = r.backend;
  if (!b || Array.isArray(b) || extraChildren(r, 'backend') > 0) throw new VirtError('XML_ERROR', 'only one RNG backend is supported', `${at}/backend`);
  if (b.model === undefined) throw new VirtError('XML_ERROR', 'missing RNG device backend model', attrPath(`${at}/backend`, 'model'));
  if (!RNG_BACKENDS.includes(b.model)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown RNG backend model '${b.model}'`, attrPath(`${at}/backend`, 'model'));
  if (b.model === 'egd') egdSource(b, `${at}/backend`);
  checkDeviceInfo(r as DeviceInfoLike, at);
  checkVirtioOptions(r.driver, `${at}/driver`);
}

/** virDomainSmartcard. */
export const SMARTCARD_MODES = ['host', 'host-certificates', 'passthrough'] as const;
/** virDomainPanicModel. */
const PANIC_MODELS = ['default', 'isa', 'pseries', 'hyperv', 's390'];
/** virDomainShmemModel, virDomainShmemRole. */
const SHMEM_MODELS = ['ivshmem', 'ivshmem-plain', 'ivshmem-doorbell'] as const;
const SHMEM_ROLES = ['default', 'master', 'peer'] as const;
/** virDomainMemoryModel, virDomainMemoryAccess (numa_conf.c). */
const MEMORY_MODELS = ['', 'dimm', 'nvdimm', 'virtio-pmem', 'virtio-mem', 'sgx-epc'] as const;
const MEMORY_ACCESS = ['default', 'shared', 'private'] as const;
/** virDomainIOMMUModel. */
const IOMMU_MODELS = ['intel', 'smmuv3', 'virtio'] as const;

/** virDomainPanicDefParseXML: the device info first, then the model. */
export function checkPanic(p: Item<'panics'>, at: string): void {
  checkDeviceInfo(p as DeviceInfoLike, at);
  if (p.model !== undefined && !PANIC_MODELS.includes(p.model)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown panic model '${p.model}'`, attrPath(at, 'model'));
}

/** virDomainMemoryDefParseXML: model (required, not ''), access, discard. */
export function checkMemoryDevice(m: Item<'memoryDevices'>, at: string): void {
  propEnum(m.model, 'model', 'memory', at, MEMORY_MODELS, { required: true, nonzero: true });
  propEnum(m.access, 'access', 'memory', at, MEMORY_ACCESS, { nonzero: true });
  propYesNo(m.discard, 'discard', 'memory', at);
  checkDeviceInfo(m as DeviceInfoLike, at);
}

/** virDomainIOMMUDefParseXML. */
export function checkIommu(m: Item<'iommu'>, at: string): void {
  propEnum(m.model, 'model', 'iommu', at, IOMMU_MODELS, { required: true });
  const d = m.driver;
  if (d) {
    const dp = `${at}/driver`;
    propOnOff(d.intremap, 'intremap', 'driver', dp);
    propOnOff(d.cachingMode, 'caching_mode', 'driver', dp);
    propOnOff(d.iotlb, 'iotlb', 'driver', dp);
    propOnOff(d.eim, 'eim', 'driver', dp);
    propUInt(d.awBits, 'aw_bits', 'driver', dp);
  }
  checkDeviceInfo(m as DeviceInfoLike, at);
}

/** virDomainVsockDefParseXML. */
export function checkVsock(v: Item<'vsock'>, at: string): void {
  propEnum(v.model, 'model', 'vsock', at, VIRTIO_MODELS);
  if (v.cid) {
    propUInt(v.cid.address, 'address', 'cid', `${at}/cid`, { nonzero: true });
    propYesNo(v.cid.auto, 'auto', 'cid', `${at}/cid`);
  }
  checkDeviceInfo(v as DeviceInfoLike, at);
  checkVirtioOptions(v.driver, `${at}/driver`);
}

/** virDomainTPMModel, virDomainTPMBackend, virDomainTPMVersion. */
const TPM_MODELS = ['default', 'tpm-tis', 'tpm-crb', 'tpm-spapr', 'spapr-tpm-proxy'] as const;
const TPM_BACKENDS = ['passthrough', 'emulator', 'external'] as const;
const TPM_VERSIONS = ['default', '1.2', '2.0'] as const;

export function checkTpm(tpm: Item<'tpms'>, at: string): void {
  propEnum(tpm.model, 'model', 'tpm', at, TPM_MODELS, { nonzero: true });
  if (extraChildren(tpm, 'backend') > 0) throw new VirtError('XML_ERROR', 'only one TPM backend is supported', `${at}/backend[2]`);
  if (!tpm.backend) throw new VirtError('XML_ERROR', 'missing TPM device backend', `${at}/backend`);
  const bp = `${at}/backend`;
  const type = propEnum(tpm.backend.type, 'type', 'backend', bp, TPM_BACKENDS, { required: true });
  if (type === 'emulator') {
    propEnum(tpm.backend.version, 'version', 'backend', bp, TPM_VERSIONS, { nonzero: true });
    const ps = tpm.backend.persistentState;
    if (ps !== undefined && ps !== 'yes' && ps !== 'no') {
      throw new VirtError('INTERNAL_ERROR', "Invalid persistent_state value, either 'yes' or 'no'", attrPath(bp, 'persistent_state'));
    }
    // virDomainTPMPcrBank: the model keeps the banks it knows; another element is an unknown bank.
    const other = tpm.backend.activePcrBanks?.$unknown?.children?.[0];
    if (other) throw new VirtError('CONFIG_UNSUPPORTED', `Unsupported PCR banks '${other.node.name}'`, `${bp}/active_pcr_banks/${other.node.name}`);
  }
  if (type === 'external') {
    const st = tpm.backend.source?.type;
    if (!st) throw new VirtError('XML_ERROR', 'missing external TPM backend type', `${bp}/source`);
    if (!CHR_TYPES.includes(st)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown backend type '${st}' for external TPM`, `${bp}/source/@type`);
  }
  checkDeviceInfo(tpm as DeviceInfoLike, at);
}
