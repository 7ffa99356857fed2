/**
 * Host filters, after Nova's filter scheduler: each says why a host cannot
 * take the domain, in words an operator understands, or nothing when it can.
 * A filter reads the host's inventory, the request and the context only.
 */
import { cpuModelOf, guestsOf, offerOf } from './caps-index.ts';
import { fitNuma } from './numa.ts';
import type { CellClaim, FilterName, HostInventory, Inventory, PlacementRequest, SchedulerConfig } from './types.ts';
import { DEFAULT_MAINTENANCE_LABEL } from './inventory.ts';
import { formatKiB, formatRatio, plural } from './units.ts';

export interface FilterContext {
  readonly inventory: Inventory;
  readonly config: SchedulerConfig;
  /** hostId → how many of the request's group members (itself left out) occupy it. */
  readonly groupHosts: ReadonlyMap<string, number>;
  /** Where the NUMA filter found room, by host: the cells a claim there would take. */
  readonly numaFits: Map<string, readonly CellClaim[]>;
  /** The request's memo keys into the capability index (caps-index.ts). */
  readonly keys: { readonly guest: string; readonly offer: string };
}

export interface HostFilter {
  readonly name: FilterName;
  /** Whether the filter can say anything about this request; when it cannot, it is not run on every host. */
  applies?(req: PlacementRequest, config: SchedulerConfig): boolean;
  /** Why the host cannot take the domain, or undefined when it can. */
  check(host: HostInventory, req: PlacementRequest, ctx: FilterContext): string | undefined;
}

const list = (xs: readonly string[], max = 6): string => (xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')}, … (${xs.length} in all)`);
const unique = (xs: readonly string[]): string[] => [...new Set(xs)];

// ------------------------------------------------------------------- state

const compute: HostFilter = {
  name: 'ComputeFilter',
  check(host, _req, ctx) {
    switch (host.status) {
      case 'up':
        return undefined;
      case 'unregistered':
        return 'host is not registered (known only from domain events)';
      case 'down': {
        const f = host.facts;
        return `host is down${f.lastDownReason ? `: ${f.lastDownReason}` : ''}${f.lastSeen ? ` (last seen ${f.lastSeen})` : ''}`;
      }
      case 'maintenance':
        return `host is in maintenance (label ${ctx.inventory.config.maintenanceLabel ?? DEFAULT_MAINTENANCE_LABEL}=true)`;
      case 'drained':
        return 'host is drained: it takes no new domains';
    }
  },
};

const retry: HostFilter = {
  name: 'RetryFilter',
  applies: (req) => (req.hints.excludeHosts?.length ?? 0) > 0,
  check: (host, req) => (req.hints.excludeHosts?.includes(host.hostId) ? "excluded by the request's excludeHosts (tried before for this job, or the domain's current host)" : undefined),
};

const requestedHost: HostFilter = {
  name: 'RequestedHostFilter',
  applies: (req) => req.hints.requestedHost !== undefined,
  check: (host, req) => (req.hints.requestedHost !== undefined && req.hints.requestedHost !== host.hostId ? `not the requested host '${req.hints.requestedHost}'` : undefined),
};

const labels: HostFilter = {
  name: 'LabelsFilter',
  applies: (req) => req.hints.requiredLabels !== undefined,
  check(host, req) {
    const required = req.hints.requiredLabels;
    if (!required) return undefined;
    for (const [key, want] of Object.entries(required)) {
      const wants = typeof want === 'string' ? [want] : want;
      const has = host.labels[key];
      const shown = wants.length === 1 ? `${key}=${wants[0]}` : `${key} one of ${wants.join(', ')}`;
      if (has === undefined) return `no label ${key} (required ${shown})`;
      if (!wants.includes(has)) return `label ${key}=${has}, required ${shown}`;
    }
    return undefined;
  },
};

// ------------------------------------------------------------ capabilities

const what = (req: PlacementRequest) => `${req.osType}${req.arch ? `/${req.arch}` : ''}`;
const NO_CAPS = 'host has not reported its capabilities';

const arch: HostFilter = {
  name: 'ArchFilter',
  check(host, req, ctx) {
    const caps = host.capabilities;
    if (!caps) return NO_CAPS;
    if (guestsOf(caps, req.osType, req.arch, ctx.keys.guest).length > 0) return undefined;
    const offered = unique(caps.guests.map((g) => `${g.osType}/${g.arch}`));
    return `host runs no ${what(req)} guests (it offers ${offered.length ? list(offered) : 'none'})`;
  },
};

const domainType: HostFilter = {
  name: 'DomainTypeFilter',
  check(host, req, ctx) {
    const caps = host.capabilities;
    if (!caps) return NO_CAPS;
    if (offerOf(caps, req.osType, req.arch, req.domainType, ctx.keys.offer).any) return undefined;
    const offered = unique(guestsOf(caps, req.osType, req.arch).flatMap((g) => g.domains.map((d) => d.type)));
    const kvm = req.domainType === 'kvm' ? ': no /dev/kvm on the host, or KVM cannot run this arch' : '';
    return `host offers no ${req.domainType} domains for ${what(req)} (only ${offered.length ? offered.join(', ') : 'none'})${kvm}`;
  },
};

const emulator: HostFilter = {
  name: 'EmulatorFilter',
  applies: (req) => req.emulator !== undefined,
  check(host, req, ctx) {
    if (req.emulator === undefined || !host.capabilities) return undefined;
    const paths = offerOf(host.capabilities, req.osType, req.arch, req.domainType, ctx.keys.offer).emulators;
    // A host that names no emulator (the test hypervisor) does not constrain it.
    if (paths.length === 0 || paths.includes(req.emulator)) return undefined;
    return `emulator ${req.emulator} is not on the host (it has ${list(paths)})`;
  },
};

const machineType: HostFilter = {
  name: 'MachineTypeFilter',
  applies: (req) => req.machine !== undefined,
  check(host, req, ctx) {
    if (req.machine === undefined || !host.capabilities) return undefined;
    const offer = offerOf(host.capabilities, req.osType, req.arch, req.domainType, ctx.keys.offer);
    // A definition carries the versioned machine after post-parse; an alias (`pc`) is matched too.
    if (offer.machines.size === 0 || offer.machines.has(req.machine)) return undefined;
    return `machine type ${req.machine} is not offered for ${req.domainType} ${what(req)} by the host's emulator (it offers ${list(offer.machineNames)})`;
  },
};

const cpuModel: HostFilter = {
  name: 'CpuModelFilter',
  applies: (req) => req.cpuModel !== undefined,
  check(host, req) {
    const caps = host.capabilities;
    if (req.cpuModel === undefined || !caps || caps.cpuModels.length === 0) return undefined;
    const m = cpuModelOf(caps, req.cpuModel);
    if (!m) return `CPU model ${req.cpuModel} is unknown to the host's emulator`;
    if (m.usable === 'no') return `CPU model ${req.cpuModel} is not usable on the host's CPU (features missing)`;
    return undefined;
  },
};

// --------------------------------------------------------------- resources

const ram: HostFilter = {
  name: 'RamFilter',
  check(host, req) {
    if (host.total.memoryKiB === 0) return 'host reported no memory size in its capabilities';
    if (req.memoryKiB <= host.free.memoryKiB) return undefined;
    const p = host.policy;
    const reserved = p.reservedHostMemoryKiB > 0 ? `, ${formatKiB(p.reservedHostMemoryKiB)} reserved` : '';
    return `free memory ${formatKiB(Math.max(0, host.free.memoryKiB))} < requested ${formatKiB(req.memoryKiB)} (ratio ${formatRatio(p.ramAllocationRatio)}${reserved})`;
  },
};

const core: HostFilter = {
  name: 'CoreFilter',
  check(host, req) {
    if (host.total.cpus === 0) return 'host reported no CPU count in its capabilities';
    if (req.vcpus <= host.free.vcpus) return undefined;
    const p = host.policy;
    const cpus = host.total.cpus - p.reservedHostCpus;
    return `free vCPUs ${Math.max(0, host.free.vcpus)} < requested ${req.vcpus} (${plural(cpus, 'CPU')} × ratio ${formatRatio(p.cpuAllocationRatio)} = ${host.capacity.vcpus}, ${host.used.vcpus} claimed)`;
  },
};

const numDomains: HostFilter = {
  name: 'NumDomainsFilter',
  applies: (_req, config) => config.maxDomainsPerHost !== undefined,
  check(host, _req, ctx) {
    const max = ctx.config.maxDomainsPerHost;
    if (max === undefined) return undefined;
    const n = host.domains.length + host.transit.length;
    return n >= max ? `host has ${plural(n, 'domain')}, the most allowed (maxDomainsPerHost ${max})` : undefined;
  },
};

// ------------------------------------------------------------------ groups

const affinity: HostFilter = {
  name: 'ServerGroupAffinityFilter',
  applies: (req) => req.hints.group?.policy === 'affinity',
  check(host, req, ctx) {
    const g = req.hints.group;
    if (g?.policy !== 'affinity' || ctx.groupHosts.size === 0 || ctx.groupHosts.has(host.hostId)) return undefined;
    return `group '${g.name}' (affinity) has its members on ${list([...ctx.groupHosts.keys()].sort())}`;
  },
};

const antiAffinity: HostFilter = {
  name: 'ServerGroupAntiAffinityFilter',
  applies: (req) => req.hints.group?.policy === 'anti-affinity',
  check(host, req, ctx) {
    const g = req.hints.group;
    if (g?.policy !== 'anti-affinity') return undefined;
    const n = ctx.groupHosts.get(host.hostId) ?? 0;
    const max = g.maxPerHost ?? 1;
    return n >= max ? `group '${g.name}' (anti-affinity) already has ${plural(n, 'member')} here (at most ${max} per host)` : undefined;
  },
};

// -------------------------------------------------------------------- NUMA

const numa: HostFilter = {
  name: 'NUMATopologyFilter',
  applies: (req) => (req.numaCells?.length ?? 0) > 0,
  check(host, req, ctx) {
    const cells = req.numaCells;
    if (!cells || cells.length === 0) return undefined;
    if (!host.numaCells) {
      return ctx.config.numaUnknownHost === 'pass' ? undefined : `guest asks for ${plural(cells.length, 'NUMA cell')}; the host did not report its NUMA topology`;
    }
    const fit = fitNuma(cells, host.numaCells);
    if (!fit.ok) return fit.reason;
    ctx.numaFits.set(host.hostId, fit.cells);
    return undefined;
  },
};

/** Every filter by name. */
export const FILTERS: Readonly<Record<FilterName, HostFilter>> = {
  ComputeFilter: compute,
  RetryFilter: retry,
  RequestedHostFilter: requestedHost,
  LabelsFilter: labels,
  ArchFilter: arch,
  DomainTypeFilter: domainType,
  EmulatorFilter: emulator,
  MachineTypeFilter: machineType,
  CpuModelFilter: cpuModel,
  RamFilter: ram,
  CoreFilter: core,
  NumDomainsFilter: numDomains,
  ServerGroupAffinityFilter: affinity,
  ServerGroupAntiAffinityFilter: antiAffinity,
  NUMATopologyFilter: numa,
};

/** The default order: the cheapest and most selective first, NUMA (a search) last. */
export const DEFAULT_FILTERS: readonly FilterName[] = [
  'ComputeFilter', 'RetryFilter', 'RequestedHostFilter', 'LabelsFilter', 'ArchFilter', 'DomainTypeFilter', 'EmulatorFilter',
  'MachineTypeFilter', 'CpuModelFilter', 'RamFilter', 'CoreFilter', 'NumDomainsFilter', 'ServerGroupAffinityFilter',
  'ServerGroupAntiAffinityFilter', 'NUMATopologyFilter',
];
