/**
 * What the non-QEMU drivers (lxc, xen, bhyve) share about capabilities:
 * which host description a parse uses, and libvirt's domain-support check.
 */
import { capsLookupDetail, hasDomainType, lookupDomainData } from '../../caps/other.ts';
import type { Capabilities } from '../../caps/types.ts';
import type { DomainDef } from '../../domain/types.ts';
import { VirtError } from '../../errors.ts';

/**
 * The capabilities a driver checks against: the given ones when they
 * describe a guest of the driver's domain type, else the driver's own
 * builder's for the host arch. A host whose capabilities were probed from
 * QEMU (the usual case for virtflow's host agents and for the comparison
 * corpora) has no lxc, xen or bhyve guest at all; without this fallback
 * every such domain would fail with "could not find capabilities".
 */
export function capsFor(given: Capabilities, domainType: string, build: (hostArch: string) => Capabilities): Capabilities {
  return hasDomainType(given, domainType) ? given : build(given.host.arch);
}

/**
 * virCapabilitiesDomainSupported(caps, os.type, os.arch, virtType):
 * VIR_ERR_INVALID_ARG `could not find capabilities for ...` when no guest
 * offers the domain's OS type, arch and domain type.
 */
export function checkDomainSupported(caps: Capabilities, def: DomainDef): void {
  const osType = def.os?.type?.text ?? 'hvm';
  const arch = def.os?.type?.arch;
  if (!lookupDomainData(caps, osType, arch, def.type ?? 'none')) {
    throw new VirtError('INVALID_ARG', capsLookupDetail(osType, arch, def.type), '/domain/os/type');
  }
}
