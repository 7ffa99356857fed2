/** Placeholder: kept verbatim until the family's spec is written. */
import { raw } from '../../codec/spec.ts';
export const blkiotuneSpec = raw;
export const clockSpec = raw;
export const cputuneSpec = raw;
export const featuresSpec = raw;
export const idmapSpec = raw;
export const iothreadidsSpec = raw;
export const keywrapSpec = raw;
export const launchSecuritySpec = raw;
export const memoryBackingSpec = raw;
export const memtuneSpec = raw;
export const numatuneSpec = raw;
export const perfSpec = raw;
export const pmSpec = raw;
export const resourceSpec = raw;
export const seclabelSpec = raw;
export const sysinfoSpec = raw;
export const vcpusSpec = raw;
