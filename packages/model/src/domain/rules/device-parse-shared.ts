/**
 * What the device parsers of device-parse.ts share: the draft's device item
 * types, the enums several devices read (virtio models, sgio, startup policy,
 * storage formats), and the virtio options of a device's <driver>.
 */
import { VirtError } from '../../errors.ts';
import type { DomainDraft } from '../types.ts';
import { propOnOff } from './xmlprop.ts';

export type Devices = NonNullable<DomainDraft['devices']>;
export type Item<K extends keyof Devices> = NonNullable<Devices[K]> extends ReadonlyArray<infer T> ? T : NonNullable<Devices[K]>;

/** The virtio model enums (virDomainDiskModel, virDomainFSModel, virDomainInputModel, virDomainVsockModel, virDomainHostdevSubsysSCSIVHostModel). */
export const VIRTIO_MODELS = ['default', 'virtio', 'virtio-transitional', 'virtio-non-transitional'] as const;
/** virDomainDeviceSGIO. */
export const SGIO = ['default', 'filtered', 'unfiltered'] as const;
/** virDomainStartupPolicy. */
export const STARTUP_POLICIES = ['default', 'mandatory', 'requisite', 'optional'] as const;
/** virStorageFileFormat (src/conf/storage_source_conf.c); `none` is refused where it is read. */
export const STORAGE_FORMATS = ['none', 'raw', 'dir', 'bochs', 'cloop', 'dmg', 'iso', 'vpc', 'vdi', 'fat', 'vhd', 'ploop', 'cow', 'qcow', 'qcow2', 'qed', 'vmdk'] as const;

/** virDomainVirtioOptionsParseXML: the virtio options of a device's <driver>. */
export function checkVirtioOptions(d: { iommu?: string; ats?: string; packed?: string; pagePerVq?: string } | undefined, dp: string): void {
  if (!d) return;
  propOnOff(d.iommu, 'iommu', 'driver', dp);
  propOnOff(d.ats, 'ats', 'driver', dp);
  propOnOff(d.packed, 'packed', 'driver', dp);
  propOnOff(d.pagePerVq, 'page_per_vq', 'driver', dp);
}

/** A format read with virStorageFileFormatTypeFromString(...) <= 0 and "unknown driver format value". */
export function checkDriverFormat(format: string | undefined, path: string): void {
  if (format === undefined) return;
  if (STORAGE_FORMATS.indexOf(format as (typeof STORAGE_FORMATS)[number]) <= 0) {
    throw new VirtError('CONFIG_UNSUPPORTED', `unknown driver format value '${format}'`, path);
  }
}
