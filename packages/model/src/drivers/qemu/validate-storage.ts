/**
 * qemuDomainValidateStorageSource (src/qemu/qemu_domain.c): what QEMU can
 * open, applied to each source of a disk's backing chain as written and to
 * the loader's NVRAM.
 */
import { num, unsupported, type Has } from './validate-util.ts';

/** The decoded <source> fields these rules read (a disk, backing store or NVRAM source). */
interface SourceFields {
  readonly protocol?: string;
  readonly query?: string;
  readonly tlsHostname?: string;
  readonly hosts?: ReadonlyArray<{ readonly port?: string; readonly transport?: string }>;
  readonly ssl?: { readonly verify?: string };
  readonly cookies?: { readonly cookies?: readonly unknown[] };
  readonly readahead?: { readonly size?: string };
  readonly timeout?: { readonly seconds?: string };
  readonly reservations?: unknown;
  readonly encryption?: EncryptionFields;
}

interface EncryptionFields {
  readonly format?: string;
  readonly engine?: string;
}

export interface StorageSource {
  /** The storage type (`file`, `block`, `dir`, `network`, `volume`, `nvme`, `vhostuser`). */
  readonly type: string;
  /** The image format after post-parse (absent only for volumes without one). */
  readonly format: string | undefined;
  readonly source: SourceFields | undefined;
  readonly readonly: boolean;
  /** <encryption> given as a child of the disk rather than of <source>. */
  readonly encryption?: EncryptionFields | undefined;
  /** <driver><metadata_cache><max_size> (or the backing store's <format>), in any unit; > 0 when set. */
  readonly metadataCacheMaxSize?: number | undefined;
}

const HTTP = ['http', 'https'];
const HTTP_FTP = ['http', 'https', 'ftp', 'ftps'];

/** Where the nodes these rules blame are: the <source>, and the elements holding the format, the metadata cache and the encryption. */
export interface StoragePaths {
  readonly source: string;
  readonly format: string;
  readonly metadataCache: string;
  /** Of an <encryption> given outside <source>. */
  readonly encryption: string;
}

/** Throws the first rule the source breaks. */
export function validateStorageSource(src: StorageSource, paths: StoragePaths, has: Has): void {
  const at = paths.source;
  const { type, format } = src;
  const s = src.source;
  // A volume's actual type is only known once its pool is looked up at start.
  const network = type === 'network';
  const proto = s?.protocol ?? '';
  const formatAt = paths.format;
  if (format === 'cow') unsupported("'cow' storage format is not supported", formatAt);
  if (format === 'dir') unsupported("'directory' storage format is not directly supported by QEMU, use 'dir' disk type instead", formatAt);
  if (format === 'iso') unsupported("storage format 'iso' is not directly supported by QEMU, use 'raw' instead", formatAt);
  if (format === 'fat' && type !== 'volume' && type !== 'dir') unsupported("storage format 'fat' is supported only with 'dir' storage type", formatAt);
  if (type === 'dir') {
    if (format !== undefined && format !== 'none' && format !== 'fat') unsupported("storage type 'dir' requires use of storage format 'fat'", formatAt);
    if (!src.readonly) unsupported("virtual FAT storage can't be accessed in read-write mode", at);
  }
  if (s?.reservations !== undefined && !has('pr-manager-helper')) unsupported('reservations not supported with this QEMU binary', `${at}/reservations`);
  if (s?.ssl?.verify !== undefined && !(network && (proto === 'https' || proto === 'ftps'))) {
    unsupported('ssl verification is supported only with HTTPS/FTPS protocol', `${at}/ssl`);
  }
  if ((s?.cookies?.cookies ?? []).length > 0 && !(network && HTTP.includes(proto))) {
    unsupported('http cookies are supported only with HTTP(S) protocol', `${at}/cookies`);
  }
  if ((num(s?.readahead?.size) ?? 0) > 0 && !(network && HTTP_FTP.includes(proto))) {
    unsupported('readahead is supported only with HTTP(S)/FTP(s) protocols', `${at}/readahead`);
  }
  if ((num(s?.timeout?.seconds) ?? 0) > 0 && !(network && HTTP_FTP.includes(proto))) {
    unsupported('timeout is supported only with HTTP(S)/FTP(s) protocols', `${at}/timeout`);
  }
  if (s?.query !== undefined && !(network && HTTP.includes(proto))) unsupported('query is supported only with HTTP(S) protocols', `${at}/@query`);
  if (network && proto === 'tftp') unsupported("'tftp' protocol is not supported with this QEMU binary", `${at}/@protocol`);
  if (network && proto === 'nfs') {
    const hosts = s?.hosts ?? [];
    if (hosts.length !== 1) unsupported("'nfs' protocol requires the usage of exactly one host", at);
    if ((hosts[0]!.transport ?? 'tcp') !== 'tcp') unsupported("'nfs' host must use TCP protocol", `${at}/host/@transport`);
    if ((num(hosts[0]!.port) ?? 0) !== 0) unsupported("port cannot be specified in 'nfs' protocol host", `${at}/host/@port`);
  }
  if ((src.metadataCacheMaxSize ?? 0) > 0 && format !== 'qcow2') {
    unsupported('metadata cache max size control is supported only with qcow2 images', paths.metadataCache);
  }
  const enc = s?.encryption ?? src.encryption;
  if (enc) {
    const encAt = s?.encryption ? `${at}/encryption` : paths.encryption;
    const encFormat = enc.format ?? 'default';
    if (encFormat === 'default' || encFormat === 'qcow') unsupported('old qcow/qcow2 encryption is not supported', `${encAt}/@format`);
    // Post-parse turned the default engine into qemu.
    const engine = enc.engine ?? 'qemu';
    if (engine === 'qemu') {
      if (encFormat === 'luks' && format !== 'qcow2' && format !== 'raw') {
        unsupported("encryption is supported only with 'raw' and 'qcow2' image format", encAt);
      }
      if (encFormat === 'luks2') unsupported('luks2 is currently not supported by the qemu encryption engine', `${encAt}/@format`);
    } else if (engine === 'librbd') {
      if (!has('rbd-encryption')) unsupported('librbd encryption is not supported by this QEMU binary', `${encAt}/@engine`);
      // (sic) libvirt tests the type and the protocol with &&.
      if (!network && proto !== 'rbd') unsupported('librbd encryption is supported only with RBD backed disks', `${encAt}/@engine`);
    }
  }
  if (s?.tlsHostname !== undefined) {
    if (!(network && proto === 'nbd')) unsupported("'tlsHostname' field is supported only with NBD disks", `${at}/@tlsHostname`);
    if (!has('blockdev.nbd.tls-hostname')) unsupported("'tlsHostname' field is not supported by this QEMU", `${at}/@tlsHostname`);
  }
}
