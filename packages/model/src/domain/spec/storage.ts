/** Placeholder: kept verbatim until the family's spec is written. */
import { raw } from '../../codec/spec.ts';
export const controllerSpec = raw;
export const diskSpec = raw;
export const filesystemSpec = raw;
export const hostdevSpec = raw;
export const hubSpec = raw;
export const leaseSpec = raw;
export const redirdevSpec = raw;
export const redirfilterSpec = raw;
