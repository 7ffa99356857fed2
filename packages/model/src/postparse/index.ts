export type { Ctx, DriverConf, DriverFeature, ParseFlags, PolicyStage, Provenance } from './types.ts';
export { DriverRegistry } from './registry.ts';
export { attachDevice, defineDevice, defineDomain, postParseDomain, type Attached, type PostParseOptions, type PostParseResult } from './runner.ts';
export { deviceRule, deviceRules, domainRule, domainRules, deviceValidators, domainValidators, type DeviceRule, type DomainRule, type Validator, type DeviceValidator } from './rules.ts';
export { DEVICE_VISIT_ORDER, deviceKey, listDevices, getDevice, setDevice, type DeviceRef } from './devices.ts';
