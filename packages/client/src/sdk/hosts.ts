/**
 * Hosts as their agents registered them (HostRegistered, HostDown, ...: the
 * host aggregate in the event store) and whether their heartbeat is fresh.
 */
import { VirtError, subjects, type Capabilities, type HostState } from '@virtflow/model';
import { hostRef, readHeartbeats, type EventStore } from '@virtflow/runtime';

export interface HostInfo {
  readonly hostId: string;
  /** The last HostUp/HostDown said up, and its heartbeat is younger than three periods. */
  readonly up: boolean;
  readonly drained: boolean;
  readonly hypervisor?: string;
  readonly address?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly arch?: string;
  readonly cpus: number;
  readonly memoryKiB: number;
  /** Domains living on it. */
  readonly domains: readonly string[];
  /** Age of its last heartbeat, when it has one. */
  readonly heartbeatAgeMs?: number;
  readonly lastSeen?: string;
}

/** A heartbeat counts while it is younger than this: the agents beat every 5 s by default and a beat lives three periods. */
const FRESH_MS = 15_000;

export class Hosts {
  readonly #store: EventStore;

  constructor(store: EventStore) {
    this.#store = store;
  }

  async #ids(): Promise<string[]> {
    const info = await this.#store.jsm.streams.info(this.#store.stream, { subjects_filter: subjects.allHosts() });
    return [...new Set(Object.keys(info.state.subjects ?? {}).map((s) => s.split('.')[3]!))].sort();
  }

  async #state(hostId: string): Promise<HostState> {
    if (typeof hostId !== 'string' || hostId.trim() === '') throw new VirtError('INVALID_ARG', 'a host id is required', '/host');
    const { state } = await this.#store.load(hostRef(hostId));
    if (!state?.registered) throw new VirtError('INVALID_ARG', `no host '${hostId}' has registered`, `/host/${hostId}`);
    return state;
  }

  async list(): Promise<HostInfo[]> {
    const beats = await readHeartbeats(this.#store.nc);
    const out: HostInfo[] = [];
    for (const id of await this.#ids()) {
      const { state } = await this.#store.load(hostRef(id));
      if (state?.registered) out.push(info(state, beats.get(id)));
    }
    return out;
  }

  async get(hostId: string): Promise<HostInfo> {
    const state = await this.#state(hostId);
    return info(state, (await readHeartbeats(this.#store.nc)).get(hostId));
  }

  /** The capabilities the host's agent reported (libvirt's virConnectGetCapabilities). */
  async capabilities(hostId: string): Promise<Capabilities> {
    const state = await this.#state(hostId);
    if (!state.capabilities) throw new VirtError('OPERATION_INVALID', `host '${hostId}' has not reported its capabilities`, `/host/${hostId}`);
    return state.capabilities;
  }
}

function info(s: HostState, beat: { readonly ageMs: number; readonly hypervisor: string } | undefined): HostInfo {
  const fresh = beat !== undefined && beat.ageMs < FRESH_MS;
  return {
    hostId: s.hostId, up: s.up && fresh, drained: s.drained, labels: s.labels, domains: s.domains,
    cpus: s.resources.cpus, memoryKiB: s.resources.memoryKiB,
    ...(beat ? { hypervisor: beat.hypervisor, heartbeatAgeMs: beat.ageMs } : {}),
    ...(s.address ? { address: s.address } : {}),
    ...(s.capabilities ? { arch: s.capabilities.host.arch } : {}),
    ...(s.lastSeen ? { lastSeen: s.lastSeen } : {}),
  };
}
