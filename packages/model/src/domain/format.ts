/** formatDomainXML / formatDeviceXML: frozen definition → libvirt's canonical XML. */
import { encode } from '../codec/codec.ts';
import type { AnySpec } from '../codec/spec.ts';
import { writeXml } from '../xml/write.ts';
import { devicesSpec } from './spec/devices.ts';
import { domainSpec } from './spec/domain.ts';
import type { DeviceDef, DomainDef } from './types.ts';

export function formatDomainXML(def: DomainDef): string {
  return writeXml(encode('domain', def, domainSpec));
}

export function formatDeviceXML(dev: DeviceDef): string {
  const child = (devicesSpec.children as Record<string, { spec: AnySpec }>)[dev.kind]!;
  return writeXml(encode(dev.kind, dev.def, child.spec));
}
