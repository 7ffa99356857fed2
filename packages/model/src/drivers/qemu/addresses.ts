/** QEMU address assignment (qemuDomainAssignAddresses): virtio-serial, PCI, USB, memory slots. */
import type { DomainRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';

export const qemuAddressRules: DomainRule<QemuData>[] = [];
