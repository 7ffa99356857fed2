/**
 * QEMU post-parse of disks, controllers and host devices
 * (qemuDomainDeviceDiskDefPostParse, qemuDomainControllerDefPostParse,
 * qemuDomainHostdevDefPostParse). The generic per-device pass (bus from the
 * target name, drive addresses, cdrom readonly, SCSI hostdev addresses) runs
 * after these and is not repeated here.
 */
import { VirtError } from '../../errors.ts';
import { deviceRule, type DeviceRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { archOf, hasBuiltinESP, hasQemuCap, haveQemuCaps, isI440fx, isPPC64, isPSeries, isQ35, isARMVirt, isS390, virtTypeOf } from './devices-common.ts';

// ------------------------------------------------------------------ <disk>

const diskDriverName = deviceRule<QemuData, 'disk'>(['disk'], 'disk-driver-name', "QEMU opens every disk image itself, so a disk without <driver name> gets name='qemu'", (disk) => {
  const driver = (disk.driver ??= {});
  driver.name ??= 'qemu';
});

const diskFormatRaw = deviceRule<QemuData, 'disk'>(
  ['disk'],
  'disk-format-raw',
  "QEMU never probes an image's format, so a disk without <driver type> is opened as raw (a volume disk's format comes from its pool when the domain starts)",
  (disk) => {
    if (disk.type === 'volume') return;
    const driver = (disk.driver ??= {});
    driver.type ??= 'raw';
  },
);

interface Encrypted {
  engine?: string;
}

function fill(enc: Encrypted | undefined): void {
  if (enc && (enc.engine === undefined || enc.engine === 'default')) enc.engine = 'qemu';
}

const diskEncryptionEngine = deviceRule<QemuData, 'disk'>(
  ['disk'],
  'disk-encryption-engine',
  "QEMU decrypts the images itself, so an <encryption> without an engine gets engine='qemu' on every layer of the chain",
  (disk) => {
    // The top image: <encryption> is read either as a disk child or inside <source>.
    fill(disk.encryption);
    fill(disk.source?.encryption);
    // Then each backing layer that has a type (libvirt's virStorageSourceIsBacking).
    let layer = disk.backingStore;
    while (layer && layer.type !== undefined) {
      fill(layer.source?.encryption);
      layer = layer.backingStore as typeof layer | undefined;
    }
  },
);

// ------------------------------------------------------------ <controller>

/** libvirt's QEMU_USB_XHCI_MAXPORTS. */
const XHCI_MAX_PORTS = 15;

const scsiControllerModel = deviceRule<QemuData, 'controller'>(
  ['controller'],
  'scsi-controller-model',
  'a SCSI controller without a model gets the machine\'s usual one: ibmvscsi on pSeries, virtio-scsi on s390, else lsilogic when QEMU has it',
  (cont, def, ctx) => {
    if (cont.type !== 'scsi') return;
    if (cont.model !== undefined && cont.model !== 'auto') return;
    let model: string | undefined;
    if (isPSeries(def)) model = 'ibmvscsi';
    else if (isS390(archOf(def, ctx))) model = 'virtio-scsi';
    else if (hasQemuCap(ctx, 'lsi')) model = 'lsilogic';
    else if (hasQemuCap(ctx, 'virtio-scsi-pci')) model = 'virtio-scsi';
    else if (hasBuiltinESP(def)) model = 'ncr53c90';
    if (model === undefined) {
      throw new VirtError('INTERNAL_ERROR', `Unable to determine model for SCSI controller idx=${cont.index ?? -1}`, `${ctx.devicePath}/@model`);
    }
    cont.model = model;
  },
);

const usbControllerModel = deviceRule<QemuData, 'controller'>(
  ['controller'],
  'usb-controller-model',
  'a USB controller without a model gets piix3-uhci when QEMU has it; xHCI on aarch64 and (for new definitions) ppc64, none on s390 without an address',
  (cont, def, ctx) => {
    if (cont.type !== 'usb' || cont.model !== undefined || !haveQemuCaps(ctx)) return;
    const arch = archOf(def, ctx);
    let model: string | undefined;
    if (hasQemuCap(ctx, 'piix3-usb-uhci')) model = 'piix3-uhci';
    if (isS390(arch)) {
      if (cont.address?.type === undefined) model = 'none';
    } else if (isPPC64(arch)) {
      const abiUpdate = ctx.flags.abiUpdate;
      if (abiUpdate && hasQemuCap(ctx, 'qemu-xhci')) model = 'qemu-xhci';
      else if (abiUpdate && hasQemuCap(ctx, 'nec-usb-xhci')) model = 'nec-xhci';
      else if (hasQemuCap(ctx, 'pci-ohci')) model = 'pci-ohci';
      else model = undefined;
    } else if (arch === 'aarch64') {
      if (hasQemuCap(ctx, 'qemu-xhci')) model = 'qemu-xhci';
      else if (hasQemuCap(ctx, 'nec-usb-xhci')) model = 'nec-xhci';
    }
    if (model !== undefined) cont.model = model;
  },
);

const usbControllerCheck = deviceRule<QemuData, 'controller'>(['controller'], 'usb-controller-check', 'QEMU has no qusb controllers, and its xHCI controllers have at most 15 ports', (cont, def, ctx) => {
  if (cont.type !== 'usb') return;
  if (cont.model === 'qusb1' || cont.model === 'qusb2') {
    throw new VirtError('CONFIG_UNSUPPORTED', `USB controller model type 'qusb1' or 'qusb2' is not supported in ${virtTypeOf(def)}`, `${ctx.devicePath}/@model`);
  }
  const ports = cont.ports === undefined ? -1 : Number(cont.ports);
  if ((cont.model === 'nec-xhci' || cont.model === 'qemu-xhci') && ports > XHCI_MAX_PORTS) {
    throw new VirtError('CONFIG_UNSUPPORTED', `'${cont.model}' controller only supports up to '${XHCI_MAX_PORTS}' ports`, `${ctx.devicePath}/@ports`);
  }
});

const pciControllerCheck = deviceRule<QemuData, 'controller'>(
  ['controller'],
  'pci-controller-check',
  "QEMU's PCI topology rules: one root bus at index 0, expander buses only on machines that have them, NUMA nodes that exist",
  (cont, def, ctx) => {
    if (cont.type !== 'pci') return;
    const index = cont.index === undefined ? -1 : Number(cont.index);
    if (!isPSeries(def) && (cont.model === 'pci-root' || cont.model === 'pcie-root') && index !== 0) {
      throw new VirtError('XML_ERROR', 'pci-root and pcie-root controllers should have index 0', `${ctx.devicePath}/@index`);
    }
    if (cont.model === 'pci-expander-bus' && !isI440fx(def)) {
      throw new VirtError('CONFIG_UNSUPPORTED', 'pci-expander-bus controllers are only supported on 440fx-based machinetypes', `${ctx.devicePath}/@model`);
    }
    if (cont.model === 'pcie-expander-bus' && !(isQ35(def) || isARMVirt(def))) {
      throw new VirtError('CONFIG_UNSUPPORTED', 'pcie-expander-bus controllers are not supported with this machine type', `${ctx.devicePath}/@model`);
    }
    const node = cont.target?.node === undefined ? -1 : Number(cont.target.node);
    const cells = def.cpu?.numa?.cells?.length ?? 0;
    if (node >= 0 && node >= cells) {
      throw new VirtError(
        'XML_ERROR',
        `${cont.model ?? '(null)'} with index ${index} is configured for a NUMA node (${node}) not present in the domain's <cpu><numa> array (${cells})`,
        `${ctx.devicePath}/target/node`,
      );
    }
  },
);

// --------------------------------------------------------------- <hostdev>

const mdevDisplayOff = deviceRule<QemuData, 'hostdev'>(
  ['hostdev'],
  'mdev-display-off',
  "a vfio-pci mediated device gets display='off' so a later QEMU's default cannot turn a display on",
  (hostdev, def, ctx) => {
    if ((hostdev.mode ?? 'subsystem') !== 'subsystem' || hostdev.type !== 'mdev') return;
    if (hostdev.model !== 'vfio-pci' || hostdev.display !== undefined) return;
    if (hasQemuCap(ctx, 'vfio-pci.display')) hostdev.display = 'off';
  },
);

export const qemuDiskRules: DeviceRule<QemuData, any>[] = [diskDriverName, diskFormatRaw, diskEncryptionEngine];
export const qemuControllerRules: DeviceRule<QemuData, any>[] = [scsiControllerModel, usbControllerModel, usbControllerCheck, pciControllerCheck];
export const qemuHostdevRules: DeviceRule<QemuData, any>[] = [mdevDisplayOff];
