/**
 * The generic layer alone, as libvirt's own generic parser tests run it: no
 * driver callbacks, the features of libvirt's test driver, the host's arch.
 * parseDomainXML uses it; a define picks the domain's real driver instead.
 */
import type { DriverConf } from '../postparse/types.ts';

export const genericDriver: DriverConf = {
  name: 'generic',
  domainTypes: [],
  // As libvirt's generic xml2xml tests parse: without VIR_DOMAIN_DEF_PARSE_ABI_UPDATE.
  parseFlags: { abiUpdate: false },
  features: ['MEMORY_HOTPLUG', 'OFFLINE_VCPUPIN', 'INDIVIDUAL_VCPUS', 'USER_ALIAS', 'FW_AUTOSELECT', 'NET_MODEL_STRING'],
};
