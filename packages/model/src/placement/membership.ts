/**
 * Host membership and HA, the pure half (the scheduler's membership.ts does
 * the I/O): which hosts went silent, which came back, when a silent host's
 * lease has run out so its domains may run elsewhere, which of them to
 * restart, and how a domain on a silent host looks to a user.
 *
 * Time is the caller's clock in ms, and a heartbeat counts by when *this*
 * observer saw it change, not by the agent's own timestamp: two machines'
 * clocks never have to agree for a host to be judged alive or dead.
 *
 * The HA policy is a domain's own, kept in its metadata beside the other
 * scheduling hints (request.ts):
 *
 * ```xml
 * <vf:scheduling xmlns:vf="https://virtflow.dev/xmlns/scheduling/1.0">
 *   <vf:ha policy="restart"/>     <!-- or "none", the default -->
 * </vf:scheduling>
 * ```
 */
import { VirtError, type VirtErrorJSON } from '../errors.ts';
import type { DomainLifecycle, LifecycleState } from '../events/lifecycle.ts';
import type { HostFacts } from '../events/host.ts';
import { readXml } from '../xml/read.ts';
import type { XmlElement } from '../xml/tree.ts';
import { SCHEDULING_NS } from './request.ts';

export type HaPolicy = 'restart' | 'none';
export const HA_POLICIES: readonly HaPolicy[] = ['restart', 'none'];

export interface MembershipConfig {
  /** A host whose heartbeat has not changed for this long is down (T). */
  readonly downAfterMs: number;
  /**
   * Added to T before a down host's domains may start elsewhere: the time the
   * host gets to notice it is cut off and stop them itself, so a host that is
   * only partitioned is never running a domain its replacement runs too.
   */
  readonly fenceDelayMs: number;
}

/** What one observer knows of a host's heartbeats. */
export interface Sighting {
  /** The agent's `at` of the last heartbeat seen. */
  readonly at: string;
  /** Observer's clock when that `at` was first seen. */
  readonly seenAt: number;
  /** Whether `at` has changed at least once under this observer (a fresh, live beat). */
  readonly changed: boolean;
}

export interface MembershipState {
  /** When the observer started: a host it never saw beat counts as last seen then. */
  readonly since: number;
  readonly sightings: ReadonlyMap<string, Sighting>;
}

export function startMembership(now: number): MembershipState {
  return Object.freeze({ since: now, sightings: new Map() });
}

/**
 * Folds the heartbeats read at `now` (host id → the agent's `at`). A key that
 * vanished (the bucket's max age) keeps its last sighting: silence is what
 * the decision measures.
 */
export function observeHeartbeats(state: MembershipState, beats: Iterable<readonly [string, string]>, now: number): MembershipState {
  let next: Map<string, Sighting> | undefined;
  for (const [hostId, at] of beats) {
    const prior = state.sightings.get(hostId);
    if (prior?.at === at) continue;
    next ??= new Map(state.sightings);
    next.set(hostId, Object.freeze({ at, seenAt: now, changed: prior !== undefined }));
  }
  return next ? Object.freeze({ since: state.since, sightings: next }) : state;
}

/** When the observer last saw the host alive: its last changed beat, else its own start. */
export function lastSeenAt(state: MembershipState, hostId: string): number {
  const s = state.sightings.get(hostId);
  return s ? Math.max(s.seenAt, state.since) : state.since;
}

/** The moment a down host's domains may be started elsewhere. */
export function leaseExpiresAt(state: MembershipState, hostId: string, config: MembershipConfig): number {
  return lastSeenAt(state, hostId) + config.downAfterMs + config.fenceDelayMs;
}

export type MembershipAction =
  | { readonly kind: 'down'; readonly hostId: string; readonly lastSeen: string; readonly reason: string }
  | { readonly kind: 'up'; readonly hostId: string }
  | { readonly kind: 'fence'; readonly hostId: string };

/**
 * What to append for each registered host: HostDown for an up host silent
 * for `downAfterMs`; HostUp for a down host beating again (a beat that
 * changed after the observer started, seen within `downAfterMs`); `fence` for
 * a down host whose lease has run out (its HA domains may move). Writers
 * append with the host's expected version, so racing observers agree.
 */
export function decideMembership(state: MembershipState, hosts: Iterable<HostFacts>, now: number, config: MembershipConfig): MembershipAction[] {
  checkConfig(config);
  const out: MembershipAction[] = [];
  for (const h of hosts) {
    if (!h.registered) continue;
    const seen = lastSeenAt(state, h.hostId);
    const silentMs = now - seen;
    if (h.up) {
      if (silentMs > config.downAfterMs) {
        out.push({ kind: 'down', hostId: h.hostId, lastSeen: new Date(seen).toISOString(), reason: `no heartbeat for ${formatMs(silentMs)} (limit ${formatMs(config.downAfterMs)})` });
      }
      continue;
    }
    const s = state.sightings.get(h.hostId);
    if (s?.changed && silentMs <= config.downAfterMs) out.push({ kind: 'up', hostId: h.hostId });
    else if (now >= leaseExpiresAt(state, h.hostId, config)) out.push({ kind: 'fence', hostId: h.hostId });
  }
  return out;
}

function checkConfig(c: MembershipConfig): void {
  if (!Number.isFinite(c.downAfterMs) || c.downAfterMs <= 0) throw new VirtError('INVALID_ARG', `downAfterMs must be a positive number of ms, not ${c.downAfterMs}`, '/membership/downAfterMs');
  if (!Number.isFinite(c.fenceDelayMs) || c.fenceDelayMs < 0) throw new VirtError('INVALID_ARG', `fenceDelayMs must be ≥ 0 ms, not ${c.fenceDelayMs}`, '/membership/fenceDelayMs');
}

const formatMs = (ms: number) => (ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`);

// ------------------------------------------------------------ HA policy

const local = (name: string) => name.slice(name.indexOf(':') + 1);
const elements = (el: XmlElement) => el.children.filter((c): c is XmlElement => typeof c !== 'string');

function schedulingOf(metadata: XmlElement): XmlElement | undefined {
  return elements(metadata).find((c) => {
    if (local(c.name) !== 'scheduling') return false;
    const i = c.name.indexOf(':');
    const attr = i < 0 ? 'xmlns' : `xmlns:${c.name.slice(0, i)}`;
    return (c.attrs[attr] ?? metadata.attrs[attr]) === SCHEDULING_NS;
  });
}

/** The HA policy in a definition's `<metadata>` ('none' without one); a policy that is neither throws INVALID_ARG with its path. */
export function haPolicy(metadata: XmlElement | undefined): HaPolicy {
  const sched = metadata && schedulingOf(metadata);
  const ha = sched && elements(sched).find((c) => local(c.name) === 'ha');
  if (!ha) return 'none';
  const p = ha.attrs.policy;
  if (p === undefined || !(HA_POLICIES as readonly string[]).includes(p)) {
    throw new VirtError('INVALID_ARG', `HA policy must be one of ${HA_POLICIES.join(', ')}, not '${p ?? ''}'`, '/domain/metadata/scheduling/ha/@policy');
  }
  return p as HaPolicy;
}

/** The `<metadata>` element of a domain's XML, if any. */
export function metadataOf(xml: string): XmlElement | undefined {
  return elements(readXml(xml)).find((c) => c.name === 'metadata');
}

/** haPolicy of a definition's XML: what the scheduler reads off a projection row. */
export function haPolicyOfXml(xml: string): HaPolicy {
  return xml === '' ? 'none' : haPolicy(metadataOf(xml));
}

// --------------------------------------------------- domains of a down host

/** The slice of a domain row the HA decisions read. */
export interface DomainOnHost extends DomainLifecycle {
  readonly uuid: string;
  readonly defined?: boolean;
}

const ACTIVE: ReadonlySet<LifecycleState> = new Set(['running', 'paused', 'shutdown', 'pmsuspended']);

/**
 * The domains to restart elsewhere once `hostId`'s lease has run out: active
 * there (running, paused, shutting down), not in a migration (the migration
 * owns the domain until it completes or fails), and with HA policy restart.
 */
export function haCandidates(hostId: string, domains: Iterable<DomainOnHost>, policyOf: (uuid: string) => HaPolicy): string[] {
  const out: string[] = [];
  for (const d of domains) {
    if (d.defined === false || d.hostId !== hostId || d.migration !== undefined || !ACTIVE.has(d.state)) continue;
    if (policyOf(d.uuid) === 'restart') out.push(d.uuid);
  }
  return out.sort();
}

/**
 * Domains fenced on `hostId` that nothing has started since: shut off by the
 * fence itself (its FAILED stop is the last stop, its error names the host)
 * with HA policy restart. A scheduler that died between fencing a domain and
 * handing it to the restart path left such a domain behind; the next round of
 * any scheduler finds it here.
 */
export function fencedAwaitingRestart(hostId: string, domains: Iterable<DomainOnHost>, policyOf: (uuid: string) => HaPolicy): string[] {
  const out: string[] = [];
  for (const d of domains) if (stillFenced(d, hostId) && policyOf(d.uuid) === 'restart') out.push(d.uuid);
  return out.sort();
}

/** Shut off by a fence on `hostId` and by nothing since: the fence's FAILED stop is its last stop, and nothing placed it again. */
export function stillFenced(d: Omit<DomainOnHost, 'uuid'>, hostId: string): boolean {
  return d.defined !== false && d.hostId === undefined && d.migration === undefined && d.state === 'shutoff' && d.detail === 'FAILED' && d.lastError?.path === fencedPath(hostId);
}

/** The error a fenced domain's DomainStopped carries: its path names the host, which is how the host's agent recognises it. */
export function fencedError(hostId: string, name: string, lastSeen: string): VirtErrorJSON {
  return new VirtError('OPERATION_FAILED', `host '${hostId}' is down (last heartbeat ${lastSeen}): domain '${name}' was fenced there after its lease expired`, fencedPath(hostId)).toJSON();
}

export const fencedPath = (hostId: string) => `/hosts/${hostId}/fenced`;

/** What a user sees of a domain: its lifecycle state, or 'unknown' while the host it lives on is down (Nova's host_status UNKNOWN). */
export type PresentedState = LifecycleState | 'unknown';

export function presentedState(d: DomainLifecycle, hostOf: (hostId: string) => Pick<HostFacts, 'up' | 'registered'> | undefined): PresentedState {
  if (d.hostId === undefined || d.state === 'shutoff') return d.state;
  const h = hostOf(d.hostId);
  return h && h.registered && !h.up ? 'unknown' : d.state;
}

/**
 * Whether a copy of a domain running on `hostId` is stale by the log, so the
 * host's agent must destroy it instead of keeping or restarting it: the
 * domain lives on another host now, or it was fenced on this one and has not
 * been started anywhere since. A domain the log does not know, or one in a
 * migration that involves this host, is never stale (that is someone's
 * data, or the migration's to finish).
 */
export function staleCopy(d: DomainOnHost | undefined, hostId: string): { readonly movedTo?: string; readonly why: string } | undefined {
  if (!d || d.defined === false) return undefined;
  const m = d.migration;
  if (m && (m.fromHost === hostId || m.toHost === hostId)) return undefined;
  if (d.hostId !== undefined && d.hostId !== hostId) return { movedTo: d.hostId, why: `it lives on host '${d.hostId}' now` };
  // The scheduler's evacuate of a down host names the host alone (services/scheduler evacuate.ts).
  const fenced = d.lastError?.path === fencedPath(hostId) || d.lastError?.path === `/hosts/${hostId}`;
  if (d.hostId === undefined && d.state === 'shutoff' && fenced) return { why: 'it was fenced on this host and is not running anywhere' };
  return undefined;
}
