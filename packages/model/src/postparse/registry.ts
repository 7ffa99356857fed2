/**
 * Picks the driver by domain type (`qemu`/`kvm` → qemu, `lxc`, `xen`,
 * `bhyve`, `test`) and holds the operator's policy stages.
 */
import { VirtError } from '../errors.ts';
import type { DriverConf, PolicyStage } from './types.ts';

export class DriverRegistry {
  readonly #drivers = new Map<string, DriverConf<any>>();
  readonly #stages: PolicyStage[] = [];

  register(driver: DriverConf<any>): this {
    for (const t of driver.domainTypes) this.#drivers.set(t, driver);
    return this;
  }

  /** The driver for a domain type; libvirt's "no connection driver available" otherwise. */
  forType(domainType: string | undefined): DriverConf<any> {
    const d = domainType === undefined ? undefined : this.#drivers.get(domainType);
    if (!d) throw new VirtError('NO_SUPPORT', `no driver for domain type '${domainType}' (known: ${[...this.#drivers.keys()].join(', ')})`, '/domain/@type');
    return d;
  }

  has(domainType: string): boolean {
    return this.#drivers.has(domainType);
  }

  /** Adds an operator stage; it runs after the driver's, for every later parse. */
  addStage(stage: PolicyStage): this {
    if (this.#stages.some((s) => s.name === stage.name)) throw new VirtError('INVALID_ARG', `a stage named '${stage.name}' is already registered`);
    this.#stages.push(stage);
    return this;
  }

  removeStage(name: string): boolean {
    const i = this.#stages.findIndex((s) => s.name === name);
    if (i >= 0) this.#stages.splice(i, 1);
    return i >= 0;
  }

  get stages(): readonly PolicyStage[] {
    return [...this.#stages];
  }

  get drivers(): readonly DriverConf<any>[] {
    return [...new Set(this.#drivers.values())];
  }
}
