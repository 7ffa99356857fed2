/**
 * Reading domains straight from the event store: a domain's state is the fold
 * of its events, so what a client reads right after its job finished already
 * includes that job (no projection lag). Names resolve through the
 * cluster-wide name claims, as libvirt's virDomainLookupByName.
 */
import { VirtError, subjects, type DefinitionChange, type DefinitionVersion, type DomainState, type LifecycleState } from '@virtflow/model';
import { domainRef, type EventStore } from '@virtflow/runtime';

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** A domain as `list` and `get` return it. */
export interface DomainInfo {
  readonly uuid: string;
  readonly name: string;
  readonly state: LifecycleState;
  readonly reason: string;
  readonly hostId?: string;
  readonly defined: boolean;
  readonly domainType?: string;
  readonly driver?: string;
  readonly memoryKiB?: number;
  readonly vcpus?: number;
  readonly migrating: boolean;
  /** The aggregate's version and the version that wrote the current definition. */
  readonly version: number;
  readonly definitionVersion: number;
  readonly updatedAt: string;
  readonly lastError?: { readonly code: string; readonly message: string; readonly path?: string };
}

export interface ListFilter {
  /** Only domains in this state; 'active' = running, paused or shutting down (virsh list without --all). */
  readonly state?: LifecycleState | 'active' | 'all';
  readonly host?: string;
}

const ACTIVE: ReadonlySet<LifecycleState> = new Set(['running', 'paused', 'shutdown', 'pmsuspended']);

export function noDomain(ref: string): VirtError {
  // libvirt's own words for a lookup that found nothing.
  return new VirtError('NO_DOMAIN', `no domain with matching ${UUID_RE.test(ref) ? 'uuid' : 'name'} '${ref}'`, `/domain/${ref}`);
}

export function toInfo(s: DomainState): DomainInfo {
  const memory = /<memory[^>]*>(\d+)<\/memory>/.exec(s.xml)?.[1];
  const vcpu = /<vcpu[^>]*>(\d+)<\/vcpu>/.exec(s.xml)?.[1];
  return {
    uuid: s.uuid, name: s.name, state: s.state, reason: s.reason, defined: s.defined, migrating: s.migrating,
    version: s.version, definitionVersion: s.definitionVersion, updatedAt: s.updatedAt,
    ...(s.hostId ? { hostId: s.hostId } : {}),
    ...(s.domainType ? { domainType: s.domainType } : {}),
    ...(s.driver ? { driver: s.driver } : {}),
    ...(s.resources ? { memoryKiB: s.resources.memoryKiB, vcpus: s.resources.vcpus } : { ...(memory ? { memoryKiB: Number(memory) } : {}), ...(vcpu ? { vcpus: Number(vcpu) } : { vcpus: 1 }) }),
    ...(s.lastError ? { lastError: s.lastError } : {}),
  };
}

export class Domains {
  readonly #store: EventStore;

  constructor(store: EventStore) {
    this.#store = store;
  }

  /** The uuid of a domain given by name or uuid; NO_DOMAIN when neither finds a defined domain. */
  async resolve(ref: string): Promise<string> {
    if (typeof ref !== 'string' || ref.trim() === '') throw new VirtError('INVALID_ARG', 'a domain name or uuid is required', '/domain');
    const owner = await this.#store.nameOwner(ref);
    if (owner) return owner;
    if (UUID_RE.test(ref)) {
      const uuid = ref.toLowerCase();
      const { state } = await this.#store.load(domainRef(uuid));
      if (state) return state.uuid;
    }
    throw noDomain(ref);
  }

  /** The folded state (definition history included) of a domain by name or uuid. */
  async state(ref: string): Promise<DomainState> {
    const uuid = await this.resolve(ref);
    const { state } = await this.#store.load(domainRef(uuid));
    if (!state || (!state.defined && state.state === 'shutoff')) throw noDomain(ref);
    return state;
  }

  async get(ref: string): Promise<DomainInfo> {
    return toInfo(await this.state(ref));
  }

  /**
   * Every domain that exists (defined, or still running after an undefine),
   * sorted by name. The uuids come from the stream's subject index of
   * DomainDefined, each domain is loaded from its events: exact, and linear
   * in the number of domains.
   */
  async list(filter: ListFilter = {}): Promise<DomainInfo[]> {
    const info = await this.#store.jsm.streams.info(this.#store.stream, { subjects_filter: subjects.allDomainsOfType('DomainDefined') });
    const uuids = Object.keys(info.state.subjects ?? {}).map((s) => s.split('.')[3]!);
    const states: DomainState[] = [];
    // A few at a time: each load is a handful of requests to the server.
    for (let i = 0; i < uuids.length; i += 16) {
      const loaded = await Promise.all(uuids.slice(i, i + 16).map((u) => this.#store.load(domainRef(u))));
      for (const l of loaded) if (l.state && (l.state.defined || l.state.state !== 'shutoff')) states.push(l.state);
    }
    const want = filter.state ?? 'all';
    return states
      .filter((s) => want === 'all' || (want === 'active' ? ACTIVE.has(s.state) : s.state === want))
      .filter((s) => filter.host === undefined || s.hostId === filter.host)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(toInfo);
  }

  /**
   * The domain's XML. Inactive: the current definition. Otherwise, for a
   * domain that is running, the definition it was started with (a change
   * made since applies at its next start, as libvirt's --config edits do).
   */
  async dumpXML(ref: string, opts: { readonly inactive?: boolean } = {}): Promise<string> {
    const s = await this.state(ref);
    if (opts.inactive || !ACTIVE.has(s.state)) return s.xml;
    const events = await this.#store.events(domainRef(s.uuid));
    const started = [...events].reverse().find((e) => e.event.type === 'DomainStarted' || (e.event.type === 'DomainResumed' && e.event.data.detail === 'MIGRATED'));
    if (!started) return s.xml;
    const live = [...s.history].reverse().find((v) => v.version < started.event.version);
    return live?.xml ?? s.xml;
  }

  async history(ref: string): Promise<readonly DefinitionVersion[]> {
    return (await this.state(ref)).history;
  }

  async diff(ref: string, versionA: number, versionB: number): Promise<DefinitionChange[]> {
    const s = await this.state(ref);
    for (const [v, p] of [[versionA, '/v1'], [versionB, '/v2']] as const) {
      if (!Number.isInteger(v) || !s.history.some((h) => h.version === v)) {
        throw new VirtError('INVALID_ARG', `domain '${s.name}' has no definition version ${v} (versions: ${s.history.map((h) => h.version).join(', ')})`, p);
      }
    }
    return this.#store.diff(s.uuid, versionA, versionB);
  }
}
