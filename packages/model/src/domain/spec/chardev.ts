/** Placeholder: kept verbatim until the family's spec is written. */
import { raw } from '../../codec/spec.ts';
export const channelSpec = raw;
export const consoleSpec = raw;
export const parallelSpec = raw;
export const serialSpec = raw;
export const smartcardSpec = raw;
