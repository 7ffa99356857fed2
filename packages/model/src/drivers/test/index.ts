/**
 * libvirt's test driver (src/test/test_driver.c): defArch i686, its XML
 * namespace (read, never written), one device rule (the default video
 * model) and, at define, generated interface names.
 * Everything else is the generic layer.
 */
import { VirtError } from '../../errors.ts';
import { deviceRule, deviceRules, domainRule, domainRules } from '../../postparse/rules.ts';
import type { DriverConf } from '../../postparse/types.ts';
import { dropNamespaces } from '../shared/namespace.ts';

const defaultVideo = deviceRule(['video'], 'video-model-default', "the test driver's default video model: xen for Xen guests, vga on ppc64, else cirrus", (video, def) => {
  const model = (video.model ??= {});
  if (model.type !== undefined && model.type !== 'default') return;
  const os = def.os?.type?.text;
  const arch = def.os?.type?.arch;
  model.type = os === 'xen' || os === 'linux' ? 'xen' : arch === 'ppc64' || arch === 'ppc64le' ? 'vga' : 'cirrus';
});

const MAX_IFACES = 1024;

const interfaceNames = domainRule('iface-names', 'the test driver names every interface without a target testnetN, the lowest N not in use', (def) => {
  const nets = def.devices?.interfaces;
  if (!nets) return;
  const used = new Set(nets.map((n) => n.target?.dev).filter((d): d is string => d !== undefined));
  for (const net of nets) {
    if (net.target?.dev !== undefined) continue;
    let n = 0;
    while (used.has(`testnet${n}`)) n++;
    if (n >= MAX_IFACES) throw new VirtError('INTERNAL_ERROR', `Exceeded max iface limit ${MAX_IFACES}`, '/domain/devices/interface');
    used.add(`testnet${n}`);
    (net.target ??= {}).dev = `testnet${n}`;
  }
});

const namespaces = domainRule(
  'namespaces',
  "the test driver reads its own namespace's elements (test:runstate and the like) but writes none back: elements of any XML namespace and their declarations are not kept",
  (def) => dropNamespaces(def),
);

export const testDriver: DriverConf = {
  name: 'test',
  domainTypes: ['test'],
  defArch: 'i686',
  // testDomainDefineXMLFlags parses with VIR_DOMAIN_DEF_PARSE_INACTIVE only.
  parseFlags: { abiUpdate: false },
  features: ['MEMORY_HOTPLUG', 'OFFLINE_VCPUPIN', 'INDIVIDUAL_VCPUS', 'USER_ALIAS', 'FW_AUTOSELECT', 'NET_MODEL_STRING'],
  domainPostParse: domainRules([namespaces]),
  devicePostParse: deviceRules([defaultVideo]),
  define: domainRules([interfaceNames]),
};
