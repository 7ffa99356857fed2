/**
 * Assorted devices: <tpm>, <memballoon>, <rng>, <nvram>, <panic>, <shmem>,
 * <memory> (memory devices), <iommu>, <vsock> and <watchdog>, in libvirt
 * 9.0.0's output order (the matching virDomain*DefFormat functions in
 * src/conf/domain_conf.c).
 *
 * Where an element's attributes or children depend on its type, the list is
 * the union order that keeps every type's own relative order.
 *
 * Device info uses the full `deviceInfo` list: none of these devices is
 * formatted with ALLOW_BOOT/ALLOW_ROM, but libvirt parses and writes back a
 * <master> on any device, which `deviceInfoNoBoot` does not list.
 */
import { el, flag, leaf, many, one, raw, textEl } from '../../codec/spec.ts';
import { deviceInfo } from './common.ts';

/** Attributes written by virDomainVirtioOptionsFormat, in its order. */
const virtioOptions = ['iommu', 'ats', 'packed', 'page_per_vq'] as const;

/** A value with a unit: `<size unit='KiB'>1024</size>`. */
const scaled = textEl(['unit']);

// -------------------------------------------------------------------- <tpm>

/**
 * <backend type version persistent_state>: passthrough writes <device path>;
 * emulator writes <encryption secret> and <active_pcr_banks> (one empty
 * element per bank, in enum order); external writes <source type mode path>.
 */
export const tpmBackendSpec = el(['type', 'version', 'persistent_state'], {
  device: one(el(['path'])),
  encryption: one(el(['secret'])),
  active_pcr_banks: one(
    el([], {
      sha1: one(flag),
      sha256: one(flag),
      sha384: one(flag),
      sha512: one(flag),
    }),
  ),
  source: one(el(['type', 'mode', 'path'])),
});

/** <tpm model>: <backend>, device info, then <privateData> (status XML only). */
export const tpmSpec = el(['model'], {
  backend: one(tpmBackendSpec),
  ...deviceInfo,
  privateData: one(raw),
});

// ------------------------------------------------------------- <memballoon>

/** <memballoon model autodeflate freePageReporting>: <stats period>, device info, <driver>. */
export const memballoonSpec = el(['model', 'autodeflate', 'freePageReporting'], {
  stats: one(el(['period'])),
  ...deviceInfo,
  driver: one(el(virtioOptions)),
});

// -------------------------------------------------------------------- <rng>

/**
 * <source> of a character device (virDomainChrSourceDefFormat), as used by
 * the egd backend. Attribute order per chardev type —
 *   file/dev/pipe/pty: path append; unix: mode path;
 *   tcp: mode host service tls tlsFromConfig; udp: mode host service;
 *   nmdm: master slave; spiceport/dbus: channel.
 * Children: <seclabel> (file-like and unix), <reconnect> (tcp, unix),
 * <clipboard> and <mouse> (qemu-vdagent).
 */
export const rngChardevSourceSpec = el(['mode', 'host', 'service', 'tls', 'tlsFromConfig', 'path', 'append', 'master', 'slave', 'channel'], {
  seclabel: many(el(['model', 'labelskip', 'relabel'], { label: one(leaf) }), 'seclabels'),
  reconnect: one(el(['enabled', 'timeout'])),
  clipboard: one(el(['copypaste'])),
  mouse: one(el(['mode'])),
});

/**
 * <backend model type>: random carries the device path as text; egd carries
 * a character device (type, then <source> elements — two for udp —,
 * <protocol type> for tcp and <log file append>); builtin is empty.
 */
export const rngBackendSpec = el(
  ['model', 'type'],
  {
    source: many(rngChardevSourceSpec, 'sources'),
    protocol: one(el(['type'])),
    log: one(el(['file', 'append'])),
  },
  { text: true },
);

/** <rng model>: <rate bytes period>, <backend>, <driver>, device info. */
export const rngSpec = el(['model'], {
  rate: one(el(['bytes', 'period'])),
  backend: one(rngBackendSpec),
  driver: one(el(virtioOptions)),
  ...deviceInfo,
});

// ------------------------------------------------------------------ <nvram>

/** <nvram>: device info only. */
export const nvramSpec = el([], { ...deviceInfo });

// ------------------------------------------------------------------ <panic>

/** <panic model>: device info. */
export const panicSpec = el(['model'], { ...deviceInfo });

// ------------------------------------------------------------------ <shmem>

/** <shmem name role>: <model type>, <size unit>, <server path>, <msi vectors ioeventfd>, device info. */
export const shmemSpec = el(['name', 'role'], {
  model: one(el(['type'])),
  size: one(scaled),
  server: one(el(['path'])),
  msi: one(el(['vectors', 'ioeventfd'])),
  ...deviceInfo,
});

// --------------------------------------------------------- <memory> device

/**
 * <source> of a memory device (virDomainMemorySourceDefFormat):
 * dimm/virtio-mem write nodemask then pagesize; sgx-epc nodemask;
 * nvdimm writes path alignsize pmem; virtio-pmem path.
 */
export const memorySourceSpec = el([], {
  nodemask: one(leaf),
  pagesize: one(scaled),
  path: one(leaf),
  alignsize: one(scaled),
  pmem: one(flag),
});

/**
 * <target> of a memory device (virDomainMemoryTargetDefFormat): size, node,
 * <label><size/></label>, readonly, then virtio-mem's block, requested and
 * current. <address base> is not written by libvirt 9.0.0 (later releases
 * add it for virtio-mem/virtio-pmem after current); it is listed last so
 * newer documents keep their order.
 */
export const memoryTargetSpec = el([], {
  size: one(scaled),
  node: one(leaf),
  label: one(el([], { size: one(scaled) })),
  readonly: one(flag),
  block: one(scaled),
  requested: one(scaled),
  current: one(scaled),
  address: one(el(['base'])),
});

/** <memory model access discard>: <uuid>, <source>, <target>, device info. */
export const memoryDeviceSpec = el(['model', 'access', 'discard'], {
  uuid: one(leaf),
  source: one(memorySourceSpec),
  target: one(memoryTargetSpec),
  ...deviceInfo,
});

// ------------------------------------------------------------------ <iommu>

/** <iommu model>: <driver intremap caching_mode eim iotlb aw_bits>, device info. */
export const iommuSpec = el(['model'], {
  driver: one(el(['intremap', 'caching_mode', 'eim', 'iotlb', 'aw_bits'])),
  ...deviceInfo,
});

// ------------------------------------------------------------------ <vsock>

/** <vsock model>: <cid auto address>, device info, then <driver> (virtio options). */
export const vsockSpec = el(['model'], {
  cid: one(el(['auto', 'address'])),
  ...deviceInfo,
  driver: one(el(virtioOptions)),
});

// --------------------------------------------------------------- <watchdog>

/** <watchdog model action>: device info. */
export const watchdogSpec = el(['model', 'action'], { ...deviceInfo });
