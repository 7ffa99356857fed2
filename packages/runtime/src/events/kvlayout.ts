/**
 * How the projections lie in their KV buckets. One generation of projections
 * is two buckets:
 *
 *   <prefix>_DOMAINS_<gen>   uuid.<uuid>             → DomainRow (JSON)
 *                            name.<base64url name>   → uuid
 *                            host.<host>.<uuid>      → ''   (index: domains on a host)
 *                            state.<state>.<uuid>    → ''   (index: domains in a state)
 *   <prefix>_HOSTS_<gen>     host.<host>             → HostView (JSON): facts, domains, used, free
 *                            lifecycle.<uuid>        → DomainLifecycle of a domain occupying a host
 *
 * and <prefix>_PROJECTIONS holds `current` (which generation readers use) and
 * `gen.<n>` (the stream sequence generation n reflects, and whether its last
 * write finished).
 */
import { encodeName, decodeName, type DomainRow, type DomainsProjection, type HostsProjection, type LifecycleState, projectHosts } from '@virtflow/model';

export interface Generation {
  readonly gen: number;
  readonly domains: string;
  readonly hosts: string;
}

export interface GenerationState {
  /** Stream sequence the buckets reflect. */
  readonly seq: number;
  /** False while a write is under way: a crash then leaves buckets that need a rebuild. */
  readonly clean: boolean;
}

export const generation = (prefix: string, gen: number): Generation => ({ gen, domains: `${prefix}_DOMAINS_${gen}`, hosts: `${prefix}_HOSTS_${gen}` });

/** KV keys allow [-/_=.A-Za-z0-9]; a host id or state outside that is base64url-encoded behind '='. */
export function keyToken(s: string): string {
  return /^[-\w]+$/.test(s) ? s : `=${Buffer.from(s, 'utf8').toString('base64url')}`;
}

export function fromKeyToken(t: string): string {
  return t.startsWith('=') ? Buffer.from(t.slice(1), 'base64url').toString('utf8') : t;
}

export const keys = {
  domain: (uuid: string) => `uuid.${uuid}`,
  name: (name: string) => `name.${encodeName(name)}`,
  onHost: (hostId: string, uuid: string) => `host.${keyToken(hostId)}.${uuid}`,
  onHostAll: (hostId: string) => `host.${keyToken(hostId)}.*`,
  inState: (state: LifecycleState, uuid: string) => `state.${keyToken(state)}.${uuid}`,
  inStateAll: (state: LifecycleState) => `state.${keyToken(state)}.*`,
  host: (hostId: string) => `host.${keyToken(hostId)}`,
  lifecycle: (uuid: string) => `lifecycle.${uuid}`,
} as const;

export { decodeName };

/** A set of KV writes: key → value to put, or null to delete. */
export type KvOps = Map<string, string | null>;

function rowKeys(uuid: string, row: DomainRow | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!row) return out;
  out.set(keys.domain(uuid), JSON.stringify(row));
  if (row.hostId !== undefined) out.set(keys.onHost(row.hostId, uuid), '');
  out.set(keys.inState(row.state, uuid), '');
  return out;
}

/** The domain-bucket writes that take `from` to `to`, looking only at the domains in `touched`. */
export function domainOps(from: DomainsProjection, to: DomainsProjection, touched: Iterable<string>, ops: KvOps = new Map()): KvOps {
  const names = new Set<string>();
  for (const uuid of touched) {
    const a = from.domains.get(uuid);
    const b = to.domains.get(uuid);
    if (a === b) continue;
    const before = rowKeys(uuid, a);
    const after = rowKeys(uuid, b);
    for (const k of before.keys()) if (!after.has(k)) ops.set(k, null);
    for (const [k, v] of after) if (k === keys.domain(uuid) || !before.has(k)) ops.set(k, v);
    if (a) names.add(a.name);
    if (b) names.add(b.name);
  }
  for (const n of names) {
    const owner = to.byName.get(n);
    if (owner !== from.byName.get(n)) ops.set(keys.name(n), owner ?? null);
  }
  return ops;
}

/** The host-bucket writes that take `from` to `to`: hosts compared by reference (few), lifecycles for `touched` domains. */
export function hostOps(from: HostsProjection, to: HostsProjection, touched: Iterable<string>, ops: KvOps = new Map()): KvOps {
  for (const [h, facts] of to.hosts) {
    const same = from.hosts.get(h) === facts && from.used.get(h) === to.used.get(h) && from.domains.get(h) === to.domains.get(h) && from.transit.get(h) === to.transit.get(h);
    if (!same) ops.set(keys.host(h), JSON.stringify(projectHosts.view(to, h)));
  }
  for (const uuid of touched) {
    const a = from.lifecycles.get(uuid);
    const b = to.lifecycles.get(uuid);
    if (a !== b) ops.set(keys.lifecycle(uuid), b === undefined ? null : JSON.stringify(b));
  }
  return ops;
}
