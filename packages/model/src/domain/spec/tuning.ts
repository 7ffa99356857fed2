/**
 * Domain-level tuning and resource blocks in libvirt 9.0.0's output order
 * (src/conf/domain_conf.c unless noted): <blkiotune>
 * (virDomainDefFormatBlkiotune), <memtune> (virDomainMemtuneFormat),
 * <memoryBacking> (virDomainMemorybackingFormat), <vcpus>
 * (virDomainCpuDefFormat), <iothreadids>/<defaultiothread>
 * (virDomainDefIOThreadsFormat), <cputune> (virDomainCputuneDefFormat),
 * <numatune> (virDomainNumatuneFormatXML in numa_conf.c), <resource>
 * (virDomainResourceDefFormat), <idmap>, <clock> (virDomainClockDefFormat),
 * <pm>, <perf> (virDomainPerfDefFormat), <seclabel>
 * (virSecurityLabelDefFormat), <keywrap> (virDomainKeyWrapDefFormat) and
 * <launchSecurity> (virDomainSecDefFormat). <features> lives in features.ts,
 * <sysinfo> in tuning-sysinfo.ts.
 */
import { el, flag, leaf, many, one, textEl } from '../../codec/spec.ts';

export { featuresSpec } from './features.ts';
export { sysinfoSpec } from './tuning-sysinfo.ts';

/** A size with a unit: `<hard_limit unit='KiB'>1024</hard_limit>`. */
const sizeSpec = textEl(['unit']);

// ---------------------------------------------------------------- <blkiotune>

export const blkiotuneDeviceSpec = el([], {
  path: one(leaf),
  weight: one(leaf),
  read_iops_sec: one(leaf),
  write_iops_sec: one(leaf),
  read_bytes_sec: one(leaf),
  write_bytes_sec: one(leaf),
});

export const blkiotuneSpec = el([], {
  weight: one(leaf),
  device: many(blkiotuneDeviceSpec, 'devices'),
});

// ---------------------------------------------------------------- <memtune>, <memoryBacking>

export const memtuneSpec = el([], {
  hard_limit: one(sizeSpec),
  soft_limit: one(sizeSpec),
  min_guarantee: one(sizeSpec),
  swap_hard_limit: one(sizeSpec),
});

/** <hugepages> with <page size unit nodeset/>…; empty means default-size pages. */
export const hugepagesSpec = el([], {
  page: many(el(['size', 'unit', 'nodeset']), 'pages'),
});

export const memoryBackingSpec = el([], {
  hugepages: one(hugepagesSpec),
  nosharepages: one(flag),
  locked: one(flag),
  source: one(el(['type'])),
  access: one(el(['mode'])),
  allocation: one(el(['mode', 'threads'])),
  discard: one(flag),
});

// ---------------------------------------------------------------- <vcpus>, <iothreadids>

/** <vcpus><vcpu id enabled hotpluggable order/>…</vcpus>. */
export const vcpusSpec = el([], {
  vcpu: many(el(['id', 'enabled', 'hotpluggable', 'order']), 'vcpus'),
});

/** <iothread id thread_pool_min thread_pool_max> (<poll> since libvirt 9.4). */
export const iothreadIdSpec = el(['id', 'thread_pool_min', 'thread_pool_max'], {
  poll: one(el(['max', 'grow', 'shrink'])),
});

export const iothreadidsSpec = el([], {
  iothread: many(iothreadIdSpec, 'iothreads'),
});

/** <defaultiothread thread_pool_min thread_pool_max/>, written right after <iothreadids>. */
export const defaultiothreadSpec = el(['thread_pool_min', 'thread_pool_max']);

// ---------------------------------------------------------------- <cputune>

/** <cachetune vcpus id>: <cache id level type size unit/>…, then <monitor level vcpus/>…. */
export const cachetuneSpec = el(['vcpus', 'id'], {
  cache: many(el(['id', 'level', 'type', 'size', 'unit']), 'caches'),
  monitor: many(el(['level', 'vcpus']), 'monitors'),
});

/** <memorytune vcpus id>: <node id bandwidth/>…, then <monitor vcpus/>…. */
export const memorytuneSpec = el(['vcpus', 'id'], {
  node: many(el(['id', 'bandwidth']), 'nodes'),
  monitor: many(el(['vcpus']), 'monitors'),
});

export const cputuneSpec = el([], {
  shares: one(leaf),
  period: one(leaf),
  quota: one(leaf),
  global_period: one(leaf),
  global_quota: one(leaf),
  emulator_period: one(leaf),
  emulator_quota: one(leaf),
  iothread_period: one(leaf),
  iothread_quota: one(leaf),
  vcpupin: many(el(['vcpu', 'cpuset']), 'vcpupins'),
  emulatorpin: one(el(['cpuset'])),
  iothreadpin: many(el(['iothread', 'cpuset']), 'iothreadpins'),
  emulatorsched: one(el(['scheduler', 'priority'])),
  vcpusched: many(el(['vcpus', 'scheduler', 'priority']), 'vcpuscheds'),
  iothreadsched: many(el(['iothreads', 'scheduler', 'priority']), 'iothreadscheds'),
  cachetune: many(cachetuneSpec, 'cachetunes'),
  memorytune: many(memorytuneSpec, 'memorytunes'),
});

// ---------------------------------------------------------------- <numatune>, <resource>, <idmap>

/** <memory mode nodeset|placement/>, then <memnode cellid mode nodeset/>…. */
export const numatuneSpec = el([], {
  memory: one(el(['mode', 'nodeset', 'placement'])),
  memnode: many(el(['cellid', 'mode', 'nodeset']), 'memnodes'),
});

export const resourceSpec = el([], {
  partition: one(leaf),
  fibrechannel: one(el(['appid'])),
});

const idRangeSpec = el(['start', 'target', 'count']);
export const idmapSpec = el([], {
  uid: many(idRangeSpec, 'uids'),
  gid: many(idRangeSpec, 'gids'),
});

// ---------------------------------------------------------------- <clock>

/** <timer name present tickpolicy track frequency mode> with <catchup threshold slew limit/>. */
export const timerSpec = el(['name', 'present', 'tickpolicy', 'track', 'frequency', 'mode'], {
  catchup: one(el(['threshold', 'slew', 'limit'])),
});

/**
 * <clock offset …>: utc/localtime (adjustment='reset'), variable (adjustment
 * basis adjustment0), timezone (timezone), absolute (start).
 */
export const clockSpec = el(['offset', 'adjustment', 'basis', 'adjustment0', 'timezone', 'start'], {
  timer: many(timerSpec, 'timers'),
});

// ---------------------------------------------------------------- <pm>, <perf>

export const pmSpec = el([], {
  'suspend-to-mem': one(el(['enabled'])),
  'suspend-to-disk': one(el(['enabled'])),
});

export const perfSpec = el([], {
  event: many(el(['name', 'enabled']), 'events'),
});

// ---------------------------------------------------------------- security

/** Domain-level <seclabel type model relabel> with <label>, <imagelabel>, <baselabel>. */
export const seclabelSpec = el(['type', 'model', 'relabel'], {
  label: one(leaf),
  imagelabel: one(leaf),
  baselabel: one(leaf),
});

export const keywrapSpec = el([], {
  cipher: many(el(['name', 'state']), 'ciphers'),
});

/** <launchSecurity type='sev' kernelHashes> with its children; type='s390-pv' is empty. */
export const launchSecuritySpec = el(['type', 'kernelHashes'], {
  cbitpos: one(leaf),
  reducedPhysBits: one(leaf),
  policy: one(leaf),
  dhCert: one(leaf),
  session: one(leaf),
});
