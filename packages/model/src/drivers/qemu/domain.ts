/** QEMU domain-level post-parse (qemuDomainDefPostParseBasic, qemuDomainDefPostParse). */
import type { DomainRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';

/** qemuDomainDefPostParseBasic: runs before the opaque data exists. */
export const qemuBasicRules: DomainRule<QemuData>[] = [];
/** qemuDomainDefPostParse, in libvirt's order. */
export const qemuDomainRules: DomainRule<QemuData>[] = [];
