/**
 * The guest <cpu> in libvirt 9.0.0's output order: virCPUDefFormatBufFull and
 * virCPUDefFormatBuf (src/conf/cpu_conf.c), with the guest NUMA topology from
 * virDomainNumaDefFormatXML, virNumaDistanceFormat, virNumaCacheFormat and
 * virNumaInterconnectFormat (src/conf/numa_conf.c).
 *
 * Host-only parts (<arch>, <microcode>, <signature>, <counter>) belong to
 * capabilities XML and are not part of a domain's <cpu>.
 */
import { el, leaf, many, one, textEl } from '../../codec/spec.ts';

/** <model fallback vendor_id>name</model>. */
export const cpuModelSpec = textEl(['fallback', 'vendor_id']);

/** <topology sockets dies cores threads/>. */
export const cpuTopologySpec = el(['sockets', 'dies', 'cores', 'threads']);

/** <feature policy name/>. */
export const cpuFeatureSpec = el(['policy', 'name']);

/** <cache level associativity policy> of a NUMA cell, with <size> and <line>. */
export const numaCellCacheSpec = el(['level', 'associativity', 'policy'], {
  size: one(el(['value', 'unit'])),
  line: one(el(['value', 'unit'])),
});

/** <cell id cpus memory unit memAccess discard>. */
export const numaCellSpec = el(['id', 'cpus', 'memory', 'unit', 'memAccess', 'discard'], {
  distances: one(el([], { sibling: many(el(['id', 'value']), 'siblings') })),
  cache: many(numaCellCacheSpec, 'caches'),
});

/**
 * <interconnects>. libvirt keeps <latency> and <bandwidth> in one list in the
 * order given; this spec writes all latencies before all bandwidths.
 */
export const numaInterconnectsSpec = el([], {
  latency: many(el(['initiator', 'target', 'cache', 'type', 'value']), 'latencies'),
  bandwidth: many(el(['initiator', 'target', 'cache', 'type', 'value', 'unit']), 'bandwidths'),
});

/** <numa> inside <cpu>. */
export const cpuNumaSpec = el([], {
  cell: many(numaCellSpec, 'cells'),
  interconnects: one(numaInterconnectsSpec),
});

export const cpuSpec = el(['mode', 'match', 'check', 'migratable'], {
  model: one(cpuModelSpec),
  vendor: one(leaf),
  topology: one(cpuTopologySpec),
  cache: one(el(['level', 'mode'])),
  maxphysaddr: one(el(['mode', 'bits'])),
  feature: many(cpuFeatureSpec, 'features'),
  numa: one(cpuNumaSpec),
});
