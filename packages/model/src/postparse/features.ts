/**
 * libvirt's feature checks (virDomainDeviceDefPostParseCheckFeatures and
 * virDomainDefPostParseCheckFeatures): what the driver does not support is
 * refused, with libvirt's messages.
 */
import { produce } from 'immer';
import { VirtError } from '../errors.ts';
import type { DeviceDef, DomainDef } from '../domain/types.ts';
import type { DriverConf, DriverFeature } from './types.ts';

const NET_MODELS = new Set([
  'virtio', 'virtio-transitional', 'virtio-non-transitional', 'e1000', 'e1000e', 'igb', 'rtl8139', 'netfront', 'usb-net',
  'spapr-vlan', 'lan9118', 'scm91c111', 'vlance', 'vmxnet', 'vmxnet2', 'vmxnet3', 'am79c970a', 'am79c973', '82540em', '82545em', '82543gc',
]);

/** Each driver's features as a set, made once (the checks ask for every device). */
const featureSets = new WeakMap<DriverConf<any>, ReadonlySet<DriverFeature>>();

function has(driver: DriverConf<any>, f: DriverFeature): boolean {
  let set = featureSets.get(driver);
  if (!set) featureSets.set(driver, (set = new Set(driver.features ?? [])));
  return set.has(f);
}

export function checkDeviceFeatures(dev: DeviceDef, driver: DriverConf<any>, path: string): void {
  if (dev.kind === 'memory' && !has(driver, 'MEMORY_HOTPLUG')) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'memory devices are not supported by this driver', path);
  }
  if (dev.kind === 'interface' && !has(driver, 'NET_MODEL_STRING')) {
    const model = (dev.def as { model?: { type?: string } }).model?.type;
    if (model !== undefined && !NET_MODELS.has(model.toLowerCase())) {
      throw new VirtError('CONFIG_UNSUPPORTED', `driver does not support net model '${model}'`, `${path}/model/@type`);
    }
  }
  if (dev.kind === 'disk' && !has(driver, 'DISK_FD')) {
    const d = dev.def as { source?: { fdgroup?: string }; target?: { dev?: string } };
    if (d.source?.fdgroup !== undefined) {
      throw new VirtError('CONFIG_UNSUPPORTED', `driver does not support FD passing for disk '${d.target?.dev ?? ''}'`, `${path}/source/@fdgroup`);
    }
  }
}

export function checkDomainFeatures(def: DomainDef, driver: DriverConf<any>): DomainDef {
  if (!has(driver, 'MEMORY_HOTPLUG') && def.maxMemory !== undefined && (Number(def.maxMemory.slots ?? 0) > 0 || Number(def.maxMemory.text ?? 0) > 0)) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'memory hotplug tunables <maxMemory> are not supported by this hypervisor driver', '/domain/maxMemory');
  }
  // NAME_SLASH: no driver virtflow carries supports '/' in names (only vbox, openvz and
  // vmx do in libvirt), so the parse-time name rule refuses it for every driver.
  if (!has(driver, 'INDIVIDUAL_VCPUS') && def.vcpus !== undefined) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'individual CPU state configuration is not supported', '/domain/vcpus');
  }
  if (!has(driver, 'OFFLINE_VCPUPIN')) {
    // Pins of offline vCPUs are dropped silently, as libvirt does (it only logs a warning).
    const current = Number(def.vcpu?.current ?? def.vcpu?.text ?? 1);
    const pins = (def.cputune as { vcpupins?: Array<{ vcpu?: string }> } | undefined)?.vcpupins;
    if (pins?.some((p) => Number(p.vcpu) >= current)) {
      return produce(def, (d) => {
        const t = d.cputune as { vcpupins?: Array<{ vcpu?: string }> };
        t.vcpupins = t.vcpupins!.filter((p) => Number(p.vcpu) < current);
        if (t.vcpupins.length === 0) delete t.vcpupins;
      });
    }
  }
  return def;
}
