/**
 * Storage source vocabulary shared by <disk>, its <mirror> and <backingStore>
 * chain, and (in part) <hostdev> SCSI sources: libvirt 9.0.0's
 * virDomainDiskSourceFormat and helpers (src/conf/domain_conf.c,
 * storage_source_conf.c, storage_encryption_conf.c, util/virsecret.c).
 */
import { type AnySpec, el, leaf, lazy, many, one, raw, textEl } from '../../codec/spec.ts';
import { addressSpec } from './common.ts';

/** <secret> (virSecretLookupFormatSecret): type, then uuid or usage. */
export const secretSpec = el(['type', 'uuid', 'usage']);

/** <auth> (virStorageAuthDefFormat). */
export const authSpec = el(['type', 'username'], { secret: one(secretSpec) });

/** <encryption> (virStorageEncryptionFormat): secrets, then LUKS cipher/ivgen. */
export const encryptionSpec = el(['format', 'engine'], {
  secret: many(secretSpec, 'secrets'),
  cipher: one(el(['name', 'size', 'mode', 'hash'])),
  ivgen: one(el(['name', 'hash'])),
});

/** <reconnect> (virDomainChrSourceReconnectDefFormat). */
export const reconnectSpec = el(['enabled', 'timeout']);

/**
 * <reservations> (virStoragePRDefFormat). The schema also admits a
 * <reconnect> in its <source>; libvirt neither parses nor writes it.
 */
export const reservationsSpec = el(['managed'], { source: one(el(['type', 'path', 'mode'], { reconnect: one(reconnectSpec) })) });

/** <seclabel> of a device source (virSecurityDeviceLabelDefFormat). */
export const deviceSeclabelSpec = el(['model', 'labelskip', 'relabel'], { label: one(leaf) });

/** <host> of a network source. */
export const sourceHostSpec = el(['name', 'port', 'transport', 'socket']);

/** <initiator> (virStorageSourceInitiatorFormatXML). */
export const initiatorSpec = el([], { iqn: one(el(['name'])) });

/** <metadata_cache> inside a <driver> or <format>. */
export const metadataCacheSpec = el([], { max_size: one(textEl(['unit'])) });

/**
 * <source> of a disk, mirror or backing store. Attributes per source type, in
 * union order: file (file fdgroup), block (dev), dir (dir), network (protocol
 * name query tls tlsHostname tlsFromConfig), volume (pool volume mode), nvme
 * (type managed namespace), vhostuser (type path); then startupPolicy, index.
 * Children: network ones (host… timeout), nvme <address>, vhostuser
 * <reconnect>, then slices, seclabels, auth, encryption, reservations.
 */
export const diskSourceSpec = el(
  [
    'file',
    'fdgroup',
    'dev',
    'dir',
    'protocol',
    'name',
    'query',
    'tls',
    'tlsHostname',
    'tlsFromConfig',
    'pool',
    'volume',
    'mode',
    'type',
    'managed',
    'namespace',
    'path',
    'startupPolicy',
    'index',
  ],
  {
    host: many(sourceHostSpec, 'hosts'),
    identity: one(el(['user', 'group'])),
    snapshot: one(el(['name'])),
    config: one(el(['file'])),
    initiator: one(initiatorSpec),
    ssl: one(el(['verify'])),
    cookies: one(el([], { cookie: many(textEl(['name']), 'cookies') })),
    readahead: one(el(['size'])),
    timeout: one(el(['seconds'])),
    address: one(addressSpec),
    reconnect: one(reconnectSpec),
    slices: one(el([], { slice: many(el(['type', 'offset', 'size']), 'slices') })),
    seclabel: many(deviceSeclabelSpec, 'seclabels'),
    auth: one(authSpec),
    encryption: one(encryptionSpec),
    reservations: one(reservationsSpec),
    privateData: one(raw),
  },
);

/** <format> of a backing store or mirror. */
export const imageFormatSpec = el(['type'], { metadata_cache: one(metadataCacheSpec) });

/** <backingStore> (virDomainDiskBackingStoreFormat): recursive; may be empty. */
export const backingStoreSpec = el(['type', 'index'], {
  format: one(imageFormatSpec),
  source: one(diskSourceSpec),
  backingStore: one(lazy((): AnySpec => backingStoreSpec)),
});

/**
 * <mirror> (virDomainDiskDefFormatMirror). Block copies to a file also carry
 * the legacy `file`/`format` attributes, so the <format> child is keyed
 * `imageFormat` (the `format` key is the attribute's).
 */
export const mirrorSpec = el(['type', 'file', 'format', 'job', 'ready'], {
  format: one(imageFormatSpec, 'imageFormat'),
  source: one(diskSourceSpec),
  backingStore: one(backingStoreSpec),
});
