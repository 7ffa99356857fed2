/** Lookups over Capabilities that drivers need, as libvirt's virCapabilitiesDomainDataLookup does. */
import type { Capabilities, GuestCaps, MachineType } from './types.ts';

export type * from './types.ts';
export { buildQemuCaps, type QemuProbe } from './build.ts';
export { parseCpuHelp, parseMachineHelp, parseQemuVersion } from './qemu-help.ts';
export {
  parseQemuCapsXml,
  qemuCapsToCapabilities,
  qemuVersionString,
  readQemuCapsXml,
  stripMachineAliases,
  type QemuAccel,
  type QemuCapsAccelInfo,
  type QemuCapsCpu,
  type QemuCapsGIC,
  type QemuCapsMachine,
  type QemuCapsReadOptions,
  type QemuCapsToCapabilitiesOptions,
  type QemuCapsXml,
  type ReadQemuCapsOptions,
} from './qemu-caps-xml.ts';
export {
  bhyveCaps,
  capsLookupDetail,
  hasDomainType,
  lookupDomainData,
  lxcAlt32bitArch,
  lxcCaps,
  xenCaps,
  LXC_EMULATOR_DEBIAN,
  LXC_EMULATOR_FEDORA,
  XEN_CAPS_AARCH64,
  XEN_CAPS_X86_64,
  type BhyveCapsOptions,
  type LxcCapsOptions,
  type XenCapsOptions,
} from './other.ts';

/** The guest entry for an OS type and arch that offers the domain type, if any. */
export function findGuest(caps: Capabilities, osType: string, arch: string, domainType?: string): GuestCaps | undefined {
  return caps.guests.find((g) => g.osType === osType && g.arch === arch && (!domainType || g.domains.some((d) => d.type === domainType)));
}

export function defaultMachine(guest: GuestCaps): MachineType | undefined {
  return guest.machines.find((m) => m.isDefault) ?? guest.machines[0];
}

/** `pc` → `pc-i440fx-7.2`; a versioned name stays as it is; an unknown name is undefined. */
export function canonicalMachine(guest: GuestCaps, name: string): string | undefined {
  const m = guest.machines.find((x) => x.name === name);
  return m ? (m.canonical ?? m.name) : undefined;
}

export function machineInfo(guest: GuestCaps, name: string): MachineType | undefined {
  return guest.machines.find((x) => x.name === name);
}

import bookworm from './data/qemu-7.2-x86_64.json' with { type: 'json' };
/** Debian bookworm's QEMU 7.2 (x86_64 and i686), for hosts where QEMU is not installed. */
export const bookwormQemuCaps: Capabilities = bookworm as Capabilities;
