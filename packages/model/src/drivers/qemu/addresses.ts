/**
 * QEMU address assignment (qemuDomainAssignAddresses), run once every
 * device has its defaults and the generic implicit devices exist, before
 * validation. In libvirt's phase order: virtio-serial ports, PCI slots (with
 * the controllers they need), USB ports (with the hubs they need), memory
 * slots. spapr-vio registers are given on every machine (libvirt forces a few
 * device models onto that bus); the CCW and virtio-mmio phases only concern
 * s390 and ARM/RISC-V guests and are not implemented. Last, every address
 * the XML gave is rewritten in the form libvirt writes it.
 */
import { VirtError } from '../../errors.ts';
import { domainRule, type DomainRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { devicePath, devs, num, type DomainDraft } from './addresses-common.ts';
import { pciRules } from './addresses-pci.ts';
import { spaprVioRules } from './addresses-spapr.ts';
import { formatRules } from './addresses-format.ts';
import { usbRules } from './addresses-usb.ts';
import { virtioSerialRules } from './addresses-virtio-serial.ts';

/** qemuDomainAssignMemorySlots: DIMMs without a slot take the lowest free one. */
export function assignMemorySlots(def: DomainDraft): void {
  const slots = num(def.maxMemory?.slots) ?? 0;
  const max = num(def.maxMemory?.text) ?? 0;
  if (slots <= 0 && max <= 0) return;
  const used = new Array<boolean>(slots).fill(false);
  const mems = devs(def, 'memoryDevices');
  for (const m of mems) {
    if (m.address?.type !== 'dimm') continue;
    const s = num(m.address.slot) ?? 0;
    if (s < slots) used[s] = true;
  }
  mems.forEach((m, i) => {
    if (m.model !== 'dimm' && m.model !== 'nvdimm') return;
    if (m.address?.type === 'dimm') return;
    const free = used.indexOf(false);
    if (free < 0) throw new VirtError('INTERNAL_ERROR', 'failed to find an empty memory slot', devicePath('memory', i));
    used[free] = true;
    m.address = { type: 'dimm', slot: String(free) };
  });
}

const memoryRules: DomainRule<QemuData>[] = [
  domainRule('memory-slots', 'a hotpluggable memory DIMM needs a slot: libvirt takes the lowest one no other DIMM uses', (def) => assignMemorySlots(def)),
];

export const qemuAddressRules: DomainRule<QemuData>[] = [...virtioSerialRules, ...spaprVioRules, ...pciRules, ...usbRules, ...memoryRules, ...formatRules];
