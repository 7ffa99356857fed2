/**
 * QEMU validation (qemuValidateDomainDef, qemuValidateDomainDeviceDef in
 * src/qemu/qemu_validate.c), split by family:
 *   validate-domain.ts      the whole-domain checks, in libvirt's order
 *   validate-disk.ts        device info (every device), disks
 *   validate-storage.ts     storage sources (disks and the loader's NVRAM)
 *   validate-controller.ts  controllers
 *   validate-net.ts         interfaces
 *   validate-chardev.ts     serial/parallel/channel/console, smartcards, RNGs, redirdevs
 *   validate-display.ts     video, graphics, audio, sound, input
 *   validate-devices.ts     the other kinds, and the list of every per-kind check
 *   validate-util.ts        the emulator's capability flags and host facts assumed, machine predicates
 * They throw libvirt's first error and never change the definition.
 */
import type { DeviceValidator, Validator } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { controller } from './validate-controller.ts';
import { qemuDeviceKindChecks } from './validate-devices.ts';
import { deviceInfo, disk } from './validate-disk.ts';
import { qemuDomainChecks } from './validate-domain.ts';

export const qemuDomainValidators: Validator<QemuData>[] = [...qemuDomainChecks];
/** qemuValidateDomainDeviceInfo first, then the device's own checks. */
export const qemuDeviceValidators: DeviceValidator<QemuData, any>[] = [deviceInfo, disk, controller, ...qemuDeviceKindChecks];
