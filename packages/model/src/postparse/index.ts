export type { Ctx, DriverConf, DriverFeature, ParseFlags, PolicyStage, Provenance } from './types.ts';
export { DriverRegistry } from './registry.ts';
export { defineDevice, defineDomain, postParseDomain, type PostParseOptions, type PostParseResult } from './runner.ts';
export { deviceRule, deviceRules, domainRule, domainRules, deviceValidators, domainValidators, type DeviceRule, type DomainRule, type Validator, type DeviceValidator } from './rules.ts';
export { DEVICE_VISIT_ORDER, listDevices, getDevice, setDevice, type DeviceRef } from './devices.ts';
