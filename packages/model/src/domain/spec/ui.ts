/** Placeholder: kept verbatim until the family's spec is written. */
import { raw } from '../../codec/spec.ts';
export const audioSpec = raw;
export const graphicsSpec = raw;
export const inputSpec = raw;
export const soundSpec = raw;
export const videoSpec = raw;
