/**
 * <sysinfo> in libvirt 9.0.0's output order (virSysinfoFormat in
 * src/util/virsysinfo.c). type='smbios' writes bios, system, baseBoard…,
 * chassis, processor…, memory_device…, oemStrings; type='fwcfg' writes
 * <entry name file>value</entry> directly.
 *
 * Within a block libvirt writes the <entry name=…> items in a fixed order of
 * names; the entries are kept as an array in the order given.
 */
import { el, leaf, many, one, textEl } from '../../codec/spec.ts';

/** <entry name='vendor'>…</entry> of an SMBIOS block. */
export const sysinfoEntrySpec = textEl(['name']);

/** An SMBIOS block: <bios>, <system>, <baseBoard>, <chassis>, <processor>, <memory_device>. */
export const sysinfoBlockSpec = el([], { entry: many(sysinfoEntrySpec, 'entries') });

/** <entry name file>value</entry> of type='fwcfg'. */
export const sysinfoFwcfgEntrySpec = el(['name', 'file'], {}, { text: true });

export const sysinfoSpec = el(['type'], {
  bios: one(sysinfoBlockSpec),
  system: one(sysinfoBlockSpec),
  baseBoard: many(sysinfoBlockSpec, 'baseBoards'),
  chassis: one(sysinfoBlockSpec),
  processor: many(sysinfoBlockSpec, 'processors'),
  memory_device: many(sysinfoBlockSpec, 'memoryDevices'),
  oemStrings: one(el([], { entry: many(leaf, 'entries') })),
  entry: many(sysinfoFwcfgEntrySpec, 'entries'),
});
