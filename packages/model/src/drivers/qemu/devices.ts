/**
 * QEMU device-level post-parse (qemuDomainDeviceDefPostParse), one rule list
 * for every device kind; each rule names the kinds it applies to. The rules
 * live in one file per family:
 *   devices-storage.ts  disk, controller, hostdev
 *   devices-chr.ts      serial, channel
 *   devices-misc.ts     interface, video, tpm, shmem, panic, vsock, memory
 *   devices-common.ts   machine predicates and QEMU capability flags
 * Kinds with no QEMU device step (input, sound, audio, memballoon, rng,
 * filesystem, watchdog, graphics, ...) get only the generic pass.
 */
import type { DeviceRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { qemuChrRules } from './devices-chr.ts';
import { qemuMiscRules, qemuNetRules, qemuVideoRules } from './devices-misc.ts';
import { qemuControllerRules, qemuDiskRules, qemuHostdevRules } from './devices-storage.ts';

export { qemuChrRules } from './devices-chr.ts';
export { qemuMiscRules, qemuNetRules, qemuVideoRules } from './devices-misc.ts';
export { qemuControllerRules, qemuDiskRules, qemuHostdevRules } from './devices-storage.ts';

export const qemuDeviceRules: DeviceRule<QemuData, any>[] = [
  ...qemuDiskRules,
  ...qemuNetRules,
  ...qemuVideoRules,
  ...qemuControllerRules,
  ...qemuChrRules,
  ...qemuHostdevRules,
  ...qemuMiscRules,
];
