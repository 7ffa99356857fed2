/**
 * The scheduler's vocabulary: what a host offers (its inventory), what a
 * domain asks for (the request), what a placement takes (the claim) and the
 * decision with its reasons. Plain data; the functions live beside it.
 */
import type { Capabilities } from '../caps/types.ts';
import type { HostFacts } from '../events/host.ts';
import type { DomainLifecycle, Resources } from '../events/lifecycle.ts';

// --------------------------------------------------------------- inventory

/**
 * How much of a host may be handed out, as Nova's placement computes it:
 * capacity = (total − reserved) × allocation ratio.
 */
export interface AllocationPolicy {
  /** Nova's ram_allocation_ratio: memory overcommit (1.0: none). */
  readonly ramAllocationRatio: number;
  /** Nova's cpu_allocation_ratio: vCPUs per host CPU. */
  readonly cpuAllocationRatio: number;
  /** Nova's reserved_host_memory_mb, in KiB: what the host itself keeps. */
  readonly reservedHostMemoryKiB: number;
  /** Nova's reserved_host_cpus. */
  readonly reservedHostCpus: number;
}

/**
 * A Nova host aggregate: a named set of hosts sharing labels (its metadata)
 * and, optionally, its own allocation ratios (AggregateRamFilter and
 * AggregateCoreFilter).
 */
export interface Aggregate {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly policy?: Partial<AllocationPolicy>;
}

export interface InventoryConfig {
  /** Defaults for every host; unset fields take Nova's initial values (1.0, 4.0, 512 MiB, 0). */
  readonly policy?: Partial<AllocationPolicy>;
  readonly aggregates?: readonly Aggregate[];
  /** Per-host overrides, over the aggregates' and the defaults. */
  readonly hosts?: Readonly<Record<string, Partial<AllocationPolicy>>>;
  /**
   * The label that puts a host in maintenance when its value is `true`
   * (default `virtflow/maintenance`): no event says it yet, so an operator
   * sets it when registering the host, or in an aggregate.
   */
  readonly maintenanceLabel?: string;
}

export type HostStatus = 'up' | 'down' | 'drained' | 'maintenance' | 'unregistered';

/** A domain's share of one host NUMA cell. */
export interface CellClaim {
  /** The guest cell's id (`<cell id>`). */
  readonly guestCell: number;
  /** The host cell's id (`capabilities.host.numaCells[].id`). */
  readonly hostCell: number;
  readonly memoryKiB: number;
  readonly vcpus: number;
}

export interface NumaCellInventory {
  readonly id: number;
  readonly memoryKiB: number;
  readonly cpus: readonly number[];
  /** memoryKiB × ram ratio, cpus × cpu ratio. */
  readonly capacity: { readonly memoryKiB: number; readonly vcpus: number };
  /** What the NUMA claims known to the inventory take from the cell. */
  readonly used: Resources;
}

/** One host as the filters and weighers read it. */
export interface HostInventory {
  readonly hostId: string;
  readonly status: HostStatus;
  readonly facts: HostFacts;
  /** Host labels over the metadata of its aggregates. */
  readonly labels: Readonly<Record<string, string>>;
  readonly aggregates: readonly string[];
  readonly capabilities?: Capabilities;
  readonly policy: AllocationPolicy;
  /** What the host reported: memory and CPUs (0 when it did not say). */
  readonly total: { readonly memoryKiB: number; readonly cpus: number };
  /** (total − reserved) × ratio. */
  readonly capacity: { readonly memoryKiB: number; readonly vcpus: number };
  /** What the domains occupying it claim (both ends of a migration count). */
  readonly used: Resources;
  /** capacity − used; negative when overcommitted beyond the ratio. */
  readonly free: { readonly memoryKiB: number; readonly vcpus: number };
  /** Domains living on the host, sorted. */
  readonly domains: readonly string[];
  /** Domains migrating to or from it while they live on the other end, sorted. */
  readonly transit: readonly string[];
  readonly numaCells?: readonly NumaCellInventory[];
}

/**
 * Every host with its free resources, and where each domain is. Built from
 * the hosts projection (or a host aggregate) and kept exact by folding the
 * same events, plus the claims a scheduler made and has not yet seen come
 * back from the log.
 */
export interface Inventory {
  readonly config: InventoryConfig;
  readonly hosts: ReadonlyMap<string, HostInventory>;
  /** uuid → lifecycle of each domain occupying some host. */
  readonly lifecycles: ReadonlyMap<string, DomainLifecycle>;
  /** hostId → uuids occupying it (living there or in transit). */
  readonly occupants: ReadonlyMap<string, ReadonlySet<string>>;
  /** `uuid@hostId` → the domain's NUMA cells on that host, where known. */
  readonly numa: ReadonlyMap<string, readonly CellClaim[]>;
  readonly facts: ReadonlyMap<string, HostFacts>;
}

// ----------------------------------------------------------------- request

/** Nova's server group policies; the soft ones only weigh. */
export type GroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';
export const GROUP_POLICIES: readonly GroupPolicy[] = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'];

export interface GroupHint {
  readonly name: string;
  readonly policy: GroupPolicy;
  /** anti-affinity: at most this many members per host (Nova's max_server_per_host rule; default 1). */
  readonly maxPerHost?: number;
  /**
   * The group's other members (uuids). The scheduler service fills it from
   * its group registry; the inventory knows where each one is.
   */
  readonly members?: readonly string[];
}

/**
 * How a user steers a placement: with the start (or migrate) job as
 * `schedulerHints`, or in the definition's `<metadata>` as a
 * `<vf:scheduling>` element; the job's fields win.
 */
export interface SchedulerHints {
  readonly group?: GroupHint;
  /** Every key must be present with the value (or one of the values) given. */
  readonly requiredLabels?: Readonly<Record<string, string | readonly string[]>>;
  /** Chosen when it passes every filter, whatever the weights say. */
  readonly preferredHost?: string;
  /** Only this host may be chosen (a migrate job's toHost); the filters still run. */
  readonly requestedHost?: string;
  /** Hosts not to use: earlier attempts of this job, a migration's source. Job only. */
  readonly excludeHosts?: readonly string[];
}

export interface GuestNumaCell {
  readonly id: number;
  readonly memoryKiB: number;
  readonly vcpus: number;
}

/** What a domain needs from a host, read off its enriched definition. */
export interface PlacementRequest {
  readonly uuid: string;
  readonly name?: string;
  readonly memoryKiB: number;
  readonly vcpus: number;
  readonly domainType: string;
  readonly osType: string;
  readonly arch?: string;
  readonly machine?: string;
  readonly emulator?: string;
  /** `<cpu mode>`, when given. */
  readonly cpuMode?: string;
  /** The named CPU model of a custom-mode `<cpu>`. */
  readonly cpuModel?: string;
  readonly numaCells?: readonly GuestNumaCell[];
  readonly hints: SchedulerHints;
}

// ---------------------------------------------------------------- decision

export type FilterName =
  | 'ComputeFilter'
  | 'RetryFilter'
  | 'RequestedHostFilter'
  | 'ArchFilter'
  | 'DomainTypeFilter'
  | 'EmulatorFilter'
  | 'MachineTypeFilter'
  | 'CpuModelFilter'
  | 'RamFilter'
  | 'CoreFilter'
  | 'NumDomainsFilter'
  | 'LabelsFilter'
  | 'ServerGroupAffinityFilter'
  | 'ServerGroupAntiAffinityFilter'
  | 'NUMATopologyFilter';

export type WeigherName = 'ram' | 'cpu' | 'domains' | 'softAffinity';

export interface SchedulerConfig {
  /** The filters to run, in order (default: all, cheapest first). */
  readonly filters?: readonly FilterName[];
  /**
   * Multipliers (Nova's *_weight_multiplier). The raw value is free memory,
   * free vCPUs, domain count and group members on the host; a positive
   * multiplier favours a larger value: ram/cpu > 0 spread, < 0 pack;
   * domains > 0 packs, < 0 spreads. Defaults: ram 1, cpu 1, domains 0, softAffinity 1.
   */
  readonly weights?: Partial<Record<WeigherName, number>>;
  /** NumDomainsFilter: at most this many domains on a host (Nova's max_instances_per_host). */
  readonly maxDomainsPerHost?: number;
  /** A host that did not report NUMA cells: 'reject' a guest with NUMA cells (Nova's way, default) or 'pass' it. */
  readonly numaUnknownHost?: 'reject' | 'pass';
  /** Record every filter a left-out host fails, not only the first (slower). */
  readonly explainAll?: boolean;
  /** Keep only the best N candidates in `ranked` (default all; the service may want 20 of 1,000). */
  readonly rankLimit?: number;
  /**
   * Nova's host_subset_size: choose at random among the best N, so
   * schedulers running side by side rarely race for one host. Needs `random`.
   */
  readonly hostSubsetSize?: number;
}

export interface Rejection {
  readonly hostId: string;
  /** The first filter that removed the host. */
  readonly filter: FilterName;
  /** Why, in an operator's words. */
  readonly reason: string;
  /** With explainAll: every filter that fails, in order. */
  readonly all?: ReadonlyArray<{ readonly filter: FilterName; readonly reason: string }>;
}

export interface WeighedHost {
  readonly hostId: string;
  /** Σ multiplier × normalised value. */
  readonly weight: number;
  readonly weights: Readonly<Partial<Record<WeigherName, { readonly raw: number; readonly normalized: number; readonly weighted: number }>>>;
  readonly preferred: boolean;
  /** The NUMA cells the domain would take on this host, when it asks for NUMA cells. */
  readonly numa?: readonly CellClaim[];
}

/** What a placement takes on its host: the data of DomainPlaced, plus the NUMA cells. */
export interface Claim {
  readonly uuid: string;
  readonly hostId: string;
  readonly memoryKiB: number;
  readonly vcpus: number;
  readonly numa?: readonly CellClaim[];
  /** A migration's source: the claim is the target's half of a DomainMigrating. */
  readonly migrateFrom?: string;
}

export interface Placement {
  /** The chosen host, or undefined when no host fits. */
  readonly chosen?: WeighedHost;
  readonly claim?: Claim;
  /** Hosts that passed every filter, best first. */
  readonly ranked: readonly WeighedHost[];
  /** Every host left out, in host order, with the filter and the reason. */
  readonly explain: readonly Rejection[];
  /** One line: the choice, or "no host fits" and how many hosts each filter removed. */
  readonly summary: string;
}
