/**
 * QEMU controller validation (qemuValidateDomainDeviceDefController in
 * src/qemu/qemu_validate.c): SCSI model support, virtio-scsi-only driver
 * attributes, then the IDE, SCSI, PCI and SATA rules.
 */
import type { ControllerDef, DomainDef } from '../../domain/types.ts';
import type { Ctx } from '../../postparse/types.ts';
import type { DeviceValidator } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { scsiModel } from './validate-disk.ts';
import { capsOf, hasBuiltinESP, iothreadIds, isI440FX, isPSeries, isQ35, machineName, num, unsupported, type Has } from './validate-util.ts';

const VIRTIO_SCSI = ['virtio-scsi', 'virtio-transitional', 'virtio-non-transitional'];

/** qemuValidateCheckSCSIControllerModel. The ESP models only report a missing flag, without failing. */
function scsiModelSupported(model: string, at: string, has: Has): void {
  const need = (flag: string, what: string) => {
    if (!has(flag)) unsupported(`This QEMU doesn't support ${what}`, at);
  };
  switch (model) {
    case 'lsilogic':
      return need('lsi', 'the LSI 53C895A SCSI controller');
    case 'virtio-scsi':
    case 'virtio-transitional':
    case 'virtio-non-transitional':
      return need('virtio-scsi-pci', 'virtio scsi controller');
    case 'lsisas1068':
      return need('mptsas1068', 'the LSI SAS1068 (MPT Fusion) controller');
    case 'lsisas1078':
      return need('megasas', 'the LSI SAS1078 (MegaRAID) controller');
    case 'vmpvscsi':
      return need('pvscsi', 'the pvscsi (VMware paravirtual SCSI) controller');
    case 'buslogic':
      unsupported(`Unsupported controller model: ${model}`, at);
    default:
      return;
  }
}

/** qemuValidateDomainDeviceDefControllerAttributes: driver attributes only virtio-scsi takes. */
function virtioScsiAttributes(c: ControllerDef, p: string, has: Has): void {
  if (c.type === 'scsi' && VIRTIO_SCSI.includes(scsiModel(c.model, has))) return;
  const drv = c.driver;
  if (!drv) return;
  const at = `${p}/driver`;
  if ((num(drv.queues) ?? 0) > 0) unsupported("'queues' is only supported by virtio-scsi controller", `${at}/@queues`);
  if ((num(drv.cmdPerLun) ?? 0) > 0) unsupported("'cmd_per_lun' is only supported by virtio-scsi controller", `${at}/@cmd_per_lun`);
  if ((num(drv.maxSectors) ?? 0) > 0) unsupported("'max_sectors' is only supported by virtio-scsi controller", `${at}/@max_sectors`);
  if (drv.ioeventfd !== undefined) unsupported("'ioeventfd' is only supported by virtio-scsi controller", `${at}/@ioeventfd`);
  if ((num(drv.iothread) ?? 0) > 0) unsupported("'iothread' is only supported for virtio-scsi controller", `${at}/@iothread`);
}

/** The <model name> each PCI controller model must carry, and the QEMU flag of that device. */
const PCI_MODEL_NAMES: Record<string, { names: readonly string[]; flags: Record<string, string> }> = {
  'pci-root': { names: [], flags: {} },
  'pcie-root': { names: [], flags: {} },
  'pci-bridge': { names: ['pci-bridge'], flags: { 'pci-bridge': 'pci-bridge' } },
  'dmi-to-pci-bridge': { names: ['i82801b11-bridge'], flags: { 'i82801b11-bridge': 'dmi-to-pci-bridge' } },
  'pcie-to-pci-bridge': { names: ['pcie-pci-bridge'], flags: { 'pcie-pci-bridge': 'pcie-pci-bridge' } },
  'pcie-root-port': { names: ['ioh3420', 'pcie-root-port'], flags: { ioh3420: 'ioh3420', 'pcie-root-port': 'pcie-root-port' } },
  'pcie-switch-upstream-port': { names: ['x3130-upstream'], flags: { 'x3130-upstream': 'x3130-upstream' } },
  'pcie-switch-downstream-port': { names: ['xio3130-downstream'], flags: { 'xio3130-downstream': 'xio3130-downstream' } },
  'pci-expander-bus': { names: ['pxb'], flags: { pxb: 'pxb' } },
  'pcie-expander-bus': { names: ['pxb-pcie'], flags: { 'pxb-pcie': 'pxb-pcie' } },
};

/**
 * qemuValidateDomainDeviceDefControllerPCI. Address assignment fills
 * <model name>, chassisNr, chassis, port and busNr where a model needs them,
 * so only the options a user gave on the wrong model (and a wrong index,
 * 64-bit hole or hotplug) can fail here; libvirt's "Required option ... is
 * not set" errors cannot happen after post-parse and are not checked.
 */
function pci(c: ControllerDef, def: DomainDef, ctx: Ctx<QemuData>, p: string): void {
  const has = capsOf(ctx);
  const model = c.model;
  const spec = model === undefined ? undefined : PCI_MODEL_NAMES[model];
  if (model === undefined || !spec) return;
  const idx = num(c.index) ?? 0;
  const modelName = c.modelName?.name;
  const t = c.target;
  const shown = modelName ?? 'none';
  const pseries = isPSeries(def);
  const phb = modelName === 'spapr-pci-host-bridge';
  // modelName
  if (modelName !== undefined) {
    if (model === 'pcie-root' || (model === 'pci-root' && !pseries)) optionError('is not valid', idx, model, shown, 'modelName', `${p}/model/@name`);
    const ok = model === 'pci-root' ? phb : spec.names.includes(modelName);
    if (!ok) optionError('has invalid value', idx, model, shown, 'modelName', `${p}/model/@name`);
  }
  // index
  if (model === 'pci-root' || model === 'pcie-root') {
    if (!(model === 'pci-root' && phb) && idx !== 0) unsupported(`Index for '${model}' controllers must be 0`, `${p}/@index`);
  } else if (idx === 0) {
    unsupported(`Index for '${model}' controllers must be > 0`, `${p}/@index`);
  }
  // targetIndex
  if (t?.index !== undefined && !(model === 'pci-root' && phb)) optionError('is not valid', idx, model, shown, 'targetIndex', `${p}/target/@index`);
  // pcihole64
  const hole = c.pcihole64;
  if (hole !== undefined) {
    if (model === 'pci-root' || model === 'pcie-root') {
      const fits = model === 'pci-root' ? isI440FX(def) : isQ35(def);
      if (!fits) unsupported(`Setting the 64-bit PCI hole size is not supported for machine '${machineName(def, ctx)}'`, `${p}/pcihole64`);
    } else {
      optionError('is not valid', idx, model, shown, 'pcihole64', `${p}/pcihole64`);
    }
  }
  // busNr
  if (t?.busNr !== undefined && model !== 'pci-expander-bus' && model !== 'pcie-expander-bus') optionError('is not valid', idx, model, shown, 'busNr', `${p}/target/@busNr`);
  // numaNode
  if (t?.node !== undefined && model !== 'pci-expander-bus' && model !== 'pcie-expander-bus') {
    if (!(model === 'pci-root' && phb && num(t.index) !== 0)) optionError('is not valid', idx, model, shown, 'numaNode', `${p}/target/node`);
  }
  // chassisNr
  if (t?.chassisNr !== undefined && model !== 'pci-bridge') optionError('is not valid', idx, model, shown, 'chassisNr', `${p}/target/@chassisNr`);
  // chassis, port
  if (model !== 'pcie-root-port' && model !== 'pcie-switch-downstream-port') {
    if (t?.chassis !== undefined) optionError('is not valid', idx, model, shown, 'chassis', `${p}/target/@chassis`);
    if (t?.port !== undefined) optionError('is not valid', idx, model, shown, 'port', `${p}/target/@port`);
  }
  // hotplug
  if (t?.hotplug !== undefined) {
    const at = `${p}/target/@hotplug`;
    if (model === 'pci-root') {
      if (!has('piix4.acpi-root-pci-hotplug')) unsupported("setting the 'hotplug' property on a 'pci-root' device is not supported by this QEMU binary", at);
    } else if (model === 'pcie-root-port' || model === 'pcie-switch-downstream-port') {
      if (!has('pcie-root-port.hotplug')) unsupported(`setting the 'hotplug' property on a '${shown}' device is not supported by this QEMU binary`, at);
    } else {
      optionError('is not valid', idx, model, shown, 'hotplug', at);
    }
  }
  // QEMU device availability
  const flag = modelName !== undefined ? spec.flags[modelName] : undefined;
  if (flag !== undefined && !has(flag)) unsupported(`The '${modelName}' device is not supported by this QEMU binary`, `${p}/model/@name`);
}

/** libvirt's "Option '...' is not valid / has invalid value for PCI controller ..." */
function optionError(what: string, idx: number, model: string, shown: string, option: string, at: string): never {
  unsupported(`Option '${option}' ${what} for PCI controller with index '${idx}', model '${model}' and modelName '${shown}'`, at);
}

/** qemuValidateDomainDeviceDefController. */
export const controller: DeviceValidator<QemuData, 'controller'> = {
  name: 'controller',
  kinds: ['controller'],
  check(c, def, ctx) {
    const has = capsOf(ctx);
    const p = ctx.devicePath ?? '/controller';
    const idx = num(c.index) ?? 0;
    if (c.type === 'scsi') scsiModelSupported(scsiModel(c.model, has), `${p}/@model`, has);
    virtioScsiAttributes(c, p, has);
    switch (c.type) {
      case 'ide': {
        // The first IDE controller is built into i440fx; no other machine has one.
        if (idx === 0 && isI440FX(def)) break;
        if (isI440FX(def)) unsupported('Only a single IDE controller is supported for this machine type', `${p}/@index`);
        unsupported('IDE controllers are unsupported for this QEMU binary or machine type', p);
      }
      case 'scsi': {
        const model = scsiModel(c.model, has);
        if (VIRTIO_SCSI.includes(model)) {
          const iothread = num(c.driver?.iothread) ?? 0;
          if (iothread) {
            const addr = c.address?.type;
            if (addr !== undefined && addr !== 'pci' && addr !== 'ccw') {
              unsupported('virtio-scsi IOThreads only available for virtio pci and virtio ccw controllers', `${p}/address/@type`);
            }
            if (!iothreadIds(def).has(iothread)) unsupported(`controller iothread '${iothread}' not defined in iothreadid`, `${p}/driver/@iothread`);
          }
        } else if (model === 'ncr53c90') {
          if (idx !== 0) unsupported('ncr53c90 can only be used as first SCSI controller', `${p}/@index`);
          if (!hasBuiltinESP(def, ctx)) unsupported('ncr53c90 SCSI controller is not a built-in for this machine', `${p}/@model`);
        }
        break;
      }
      case 'pci':
        pci(c, def, ctx, p);
        break;
      case 'sata':
        if (idx === 0 && isQ35(def)) break;
        if (!has('ich9-ahci')) unsupported('SATA is not supported with this QEMU binary', p);
        break;
      default:
        break;
    }
  },
};
