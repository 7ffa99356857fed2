/** The drivers virtflow carries, and a registry holding them all. */
import { DriverRegistry } from '../postparse/registry.ts';
import { bhyveDriver, makeBhyveDriver } from './bhyve/index.ts';
import { lxcDriver, lxcLiveRootFilesystem, makeLxcDriver } from './lxc/index.ts';
import { qemuDriver } from './qemu/index.ts';
import { testDriver } from './test/index.ts';
import { makeXenDriver, xenDriver } from './xen/index.ts';

export { qemuDriver, testDriver, lxcDriver, xenDriver, bhyveDriver, makeLxcDriver, makeXenDriver, makeBhyveDriver, lxcLiveRootFilesystem };
export type { LxcData, LxcDriverOptions } from './lxc/index.ts';
export type { XenData, XenDeviceModel, XenDriverOptions } from './xen/index.ts';
export type { BhyveData, BhyveDriverOptions } from './bhyve/index.ts';

/** A registry with every built-in driver; the test driver answers for any domain type it is asked to take. */
export function defaultRegistry(): DriverRegistry {
  return new DriverRegistry().register(qemuDriver).register(testDriver).register(lxcDriver).register(xenDriver).register(bhyveDriver);
}
