/**
 * <os> in libvirt 9.0.0's output order (the <os> block of
 * virDomainDefFormatInternalSetRootName, virDomainLoaderDefFormat and
 * virDomainLoaderDefFormatNvram in src/conf/domain_conf.c).
 *
 * One spec covers the three schema variants (hvm, xen, exe): each variant
 * writes a subset of these children in this relative order.
 */
import { el, leaf, many, one, textEl } from '../../codec/spec.ts';
import { diskSourceSpec } from './storage-source.ts';

/** <type arch machine>hvm</type>. */
export const osTypeSpec = textEl(['arch', 'machine']);

/**
 * <firmware><feature enabled name/>…</firmware> (enrolled-keys, secure-boot).
 * Decoded under `firmwareFeatures`, since `firmware` is the <os> attribute.
 */
export const osFirmwareSpec = el([], {
  feature: many(el(['enabled', 'name']), 'features'),
});

/** <loader readonly secure type stateless>/path</loader>. */
export const loaderSpec = textEl(['readonly', 'secure', 'type', 'stateless']);

/**
 * <nvram>: either the old form (path as text, optional template) or the new
 * form with a type and a disk-style <source> (file, block or network).
 */
export const osNvramSpec = el(['template', 'type'], { source: one(diskSourceSpec) }, { text: true });

/** <acpi><table type='slic'>/path</table></acpi>. */
export const osAcpiSpec = el([], {
  table: many(textEl(['type']), 'tables'),
});

export const osSpec = el(['firmware'], {
  type: one(osTypeSpec),
  firmware: one(osFirmwareSpec, 'firmwareFeatures'),
  init: one(leaf),
  initarg: many(leaf, 'initargs'),
  initenv: many(textEl(['name']), 'initenvs'),
  initdir: one(leaf),
  inituser: one(leaf),
  initgroup: one(leaf),
  loader: one(loaderSpec),
  nvram: one(osNvramSpec),
  kernel: one(leaf),
  initrd: one(leaf),
  cmdline: one(leaf),
  dtb: one(leaf),
  root: one(leaf),
  acpi: one(osAcpiSpec),
  boot: many(el(['dev']), 'boots'),
  bootmenu: one(el(['enable', 'timeout'])),
  bios: one(el(['useserial', 'rebootTimeout'])),
  smbios: one(el(['mode'])),
});
