/**
 * The form libvirt writes addresses in. libvirt keeps an address as numbers
 * and formats them one way whatever the XML said: a PCI address as
 * domain='0x0000' bus='0x00' slot='0x01' function='0x0' (nothing but the
 * type when it is still empty), virtio-serial and USB numbers in decimal
 * with the bus always written, a DIMM slot in decimal and its base in hex.
 * Addresses libvirt assigned are already in that form; this rewrites the
 * ones the XML gave.
 */
import { domainRule, type DomainRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { num, walkDevices, type Address, type DomainDraft } from './addresses-common.ts';
import { canonicalisePci } from './addresses-pci.ts';
import { portPath, portString, portValid } from './addresses-usb.ts';

function setIfChanged(a: Address, key: keyof Address & string, value: string | undefined): void {
  if (a[key] === value) return;
  if (value === undefined) delete a[key];
  else (a as Record<string, unknown>)[key] = value;
}

const decimal = (s: string | undefined) => String(num(s) ?? 0);

export function formatAddresses(def: DomainDraft): void {
  for (const ref of walkDevices(def)) {
    const a = ref.dev.address;
    switch (a?.type) {
      case 'pci':
        canonicalisePci(ref.dev);
        break;
      case 'virtio-serial':
        setIfChanged(a, 'controller', decimal(a.controller));
        setIfChanged(a, 'bus', decimal(a.bus));
        setIfChanged(a, 'port', decimal(a.port));
        break;
      case 'usb':
        setIfChanged(a, 'bus', decimal(a.bus));
        if (a.port !== undefined) setIfChanged(a, 'port', portValid(a) ? portString(portPath(a.port)) : undefined);
        break;
      case 'dimm': {
        setIfChanged(a, 'slot', decimal(a.slot));
        const m = a.base === undefined ? null : /^\s*\+?(?:0[xX])?([0-9a-fA-F]+)$/.exec(a.base);
        if (m) setIfChanged(a, 'base', `0x${BigInt(`0x${m[1]}`).toString(16)}`);
        break;
      }
    }
  }
}

export const formatRules: DomainRule<QemuData>[] = [
  domainRule(
    'address-format',
    "libvirt writes addresses in one form: PCI numbers in hex (domain='0x0000' bus='0x00' slot='0x01' function='0x0'), virtio-serial, USB and DIMM slot numbers in decimal",
    (def) => formatAddresses(def),
  ),
];
