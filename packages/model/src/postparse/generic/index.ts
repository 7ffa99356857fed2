/**
 * libvirt's generic (driver-independent) post-parse and validation
 * (domain_postparse.c, domain_validate.c), as rules in libvirt's order. The
 * runner interleaves them with the driver's callbacks exactly as
 * virDomainDefPostParse and virDomainDefValidate do.
 */
import type { DeviceRule, DeviceValidator, DomainRule, Validator } from '../rules.ts';

/** Before the driver's domain callback: controller indexes (virDomainAssignControllerIndexes). */
export const genericEarly: DomainRule[] = [];
/** After the driver's domain callback, before the devices (virDomainChrIsaSerialDefPostParse). */
export const genericAfterDomain: DomainRule[] = [];
/** Per device, after the driver's device callback (virDomainDeviceDefPostParseCommon). */
export const genericDevice: DeviceRule<unknown, any>[] = [];
/** After every device (virDomainDefPostParseCommon). */
export const genericCommon: DomainRule[] = [];
/** Per device, before the driver's device validation (virDomainDeviceDefValidateInternal). */
export const genericDeviceValidate: DeviceValidator<unknown, any>[] = [];
/** Last (virDomainDefValidateInternal). */
export const genericDomainValidate: Validator[] = [];
