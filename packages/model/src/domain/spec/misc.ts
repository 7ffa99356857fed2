/** Placeholder: kept verbatim until the family's spec is written. */
import { raw } from '../../codec/spec.ts';
export const iommuSpec = raw;
export const memballoonSpec = raw;
export const memoryDeviceSpec = raw;
export const nvramSpec = raw;
export const panicSpec = raw;
export const rngSpec = raw;
export const shmemSpec = raw;
export const tpmSpec = raw;
export const vsockSpec = raw;
export const watchdogSpec = raw;
