/**
 * What the capability filters ask of a host's capabilities, indexed once per
 * Capabilities object (they are shared, frozen, and change only when a host
 * reports again), so a decision over 1,000 hosts does not walk every guest
 * list four times per host. A memo of pure functions: no state leaks out.
 */
import type { Capabilities, CpuModel, GuestCaps } from '../caps/types.ts';

export interface Offer {
  /** Emulator paths the host names for the (OS type, arch, domain type). */
  readonly emulators: readonly string[];
  /** Machine names and the canonical names of aliases. */
  readonly machines: ReadonlySet<string>;
  /** Versioned machine names, for messages. */
  readonly machineNames: readonly string[];
  readonly any: boolean;
}

interface CapsIndex {
  readonly guests: Map<string, GuestCaps[]>;
  readonly offers: Map<string, Offer>;
  readonly cpuModels: ReadonlyMap<string, CpuModel>;
}

const INDEX = new WeakMap<Capabilities, CapsIndex>();

function indexOf(caps: Capabilities): CapsIndex {
  let ix = INDEX.get(caps);
  if (!ix) {
    ix = { guests: new Map(), offers: new Map(), cpuModels: new Map(caps.cpuModels.map((c) => [c.name, c])) };
    INDEX.set(caps, ix);
  }
  return ix;
}

/** The memo keys of a request: build them once per decision, not once per host. */
export function guestKey(osType: string, arch: string | undefined): string {
  return `${osType}\0${arch ?? '*'}`;
}
export function offerKey(osType: string, arch: string | undefined, domainType: string): string {
  return `${osType}\0${arch ?? '*'}\0${domainType}`;
}

/** The guests for an OS type and arch (any arch when undefined). */
export function guestsOf(caps: Capabilities, osType: string, arch: string | undefined, key = guestKey(osType, arch)): readonly GuestCaps[] {
  const ix = indexOf(caps);
  let g = ix.guests.get(key);
  if (!g) {
    g = caps.guests.filter((x) => x.osType === osType && (arch === undefined || x.arch === arch));
    ix.guests.set(key, g);
  }
  return g;
}

/** What the host offers for an (OS type, arch, domain type). */
export function offerOf(caps: Capabilities, osType: string, arch: string | undefined, domainType: string, key = offerKey(osType, arch, domainType)): Offer {
  const ix = indexOf(caps);
  let o = ix.offers.get(key);
  if (!o) {
    const pairs = guestsOf(caps, osType, arch).flatMap((g) => g.domains.filter((d) => d.type === domainType).map((d) => ({ g, d })));
    const machines = pairs.flatMap(({ g, d }) => d.machines ?? g.machines);
    o = {
      any: pairs.length > 0,
      emulators: [...new Set(pairs.map(({ g, d }) => d.emulator ?? g.emulator).filter((p): p is string => p !== undefined))],
      machines: new Set(machines.flatMap((m) => (m.canonical !== undefined ? [m.name, m.canonical] : [m.name]))),
      machineNames: [...new Set(machines.filter((m) => m.canonical === undefined && m.name !== 'none').map((m) => m.name))],
    };
    ix.offers.set(key, o);
  }
  return o;
}

export function cpuModelOf(caps: Capabilities, name: string): CpuModel | undefined {
  return indexOf(caps).cpuModels.get(name);
}
