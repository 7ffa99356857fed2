/** The drivers virtflow carries, and a registry holding them all. */
import { DriverRegistry } from '../postparse/registry.ts';
import { qemuDriver } from './qemu/index.ts';
import { testDriver } from './test/index.ts';

export { qemuDriver, testDriver };

/** A registry with every built-in driver; the test driver answers for any domain type it is asked to take. */
export function defaultRegistry(): DriverRegistry {
  return new DriverRegistry().register(qemuDriver).register(testDriver);
}
