/** QEMU device-level post-parse (qemuDomainDeviceDefPostParse), one rule list for every device kind. */
import type { DeviceRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';

export const qemuDeviceRules: DeviceRule<QemuData, any>[] = [];
