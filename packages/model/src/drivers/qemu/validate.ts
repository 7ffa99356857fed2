/** QEMU validation (qemuValidateDomainDef, qemuValidateDomainDeviceDef). */
import type { DeviceValidator, Validator } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';

export const qemuDomainValidators: Validator<QemuData>[] = [];
export const qemuDeviceValidators: DeviceValidator<QemuData, any>[] = [];
