/**
 * The QEMU driver (libvirt's src/qemu): its parser configuration with the
 * callbacks assembled from rule lists, one file per family.
 */
import { deviceRules, deviceValidators, domainRules, domainValidators } from '../../postparse/rules.ts';
import type { DriverConf } from '../../postparse/types.ts';
import { qemuAddressRules } from './addresses.ts';
import { createQemuData, type QemuData } from './data.ts';
import { qemuDeviceRules } from './devices.ts';
import { qemuBasicRules, qemuDomainRulesWithoutCapsCheck } from './domain.ts';
import { qemuDeviceValidators, qemuDomainValidators } from './validate.ts';

export type { QemuData };

const domainPostParse = domainRules(qemuDomainRulesWithoutCapsCheck);

export const qemuDriver: DriverConf<QemuData> = {
  name: 'qemu',
  domainTypes: ['qemu', 'kvm'],
  macPrefix: [0x52, 0x54, 0x00],
  features: ['MEMORY_HOTPLUG', 'OFFLINE_VCPUPIN', 'INDIVIDUAL_VCPUS', 'USER_ALIAS', 'FW_AUTOSELECT', 'NET_MODEL_STRING', 'DISK_FD'],
  createData: createQemuData,
  domainPostParseBasic: domainRules(qemuBasicRules),
  // qemuDomainDefPostParse does nothing without caps for the emulator (qemuDomainRules checks
  // that rule by rule, for a caller composing them; the callback checks it once).
  domainPostParse: (def, ctx) => (ctx.data.guest ? domainPostParse(def, ctx) : def),
  devicePostParse: deviceRules(qemuDeviceRules),
  assignAddresses: domainRules(qemuAddressRules),
  domainValidate: domainValidators(qemuDomainValidators),
  deviceValidate: deviceValidators(qemuDeviceValidators),
};
