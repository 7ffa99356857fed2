/**
 * A domain's life as libvirt tells it: virDomainState, its per-state reasons,
 * and how each lifecycle event's detail moves a domain between them. The same
 * fold serves the domain aggregate, the host aggregate (which domains occupy a
 * host) and the projections, so they can never disagree on where a domain is.
 */
import type { VirtErrorJSON } from '../errors.ts';
import type { AnyEvent, ResumedDetail, ShutdownDetail, StartedDetail, StoppedDetail, SuspendedDetail } from './types.ts';

/** libvirt's virDomainState, without NOSTATE and BLOCKED (no driver of ours reports them). */
export type LifecycleState = 'shutoff' | 'running' | 'paused' | 'shutdown' | 'crashed' | 'pmsuspended';
export const LIFECYCLE_STATES = ['shutoff', 'running', 'paused', 'shutdown', 'crashed', 'pmsuspended'] as const satisfies readonly LifecycleState[];

/** virDomainRunningReason, virDomainPausedReason, ... by their C enum suffixes. */
export type RunningReason = 'UNKNOWN' | 'BOOTED' | 'MIGRATED' | 'RESTORED' | 'FROM_SNAPSHOT' | 'UNPAUSED' | 'MIGRATION_CANCELED' | 'SAVE_CANCELED' | 'WAKEUP' | 'CRASHED' | 'POSTCOPY' | 'POSTCOPY_FAILED';
export type PausedReason = 'UNKNOWN' | 'USER' | 'MIGRATION' | 'SAVE' | 'DUMP' | 'IOERROR' | 'WATCHDOG' | 'FROM_SNAPSHOT' | 'SHUTTING_DOWN' | 'SNAPSHOT' | 'CRASHED' | 'STARTING_UP' | 'POSTCOPY' | 'POSTCOPY_FAILED' | 'API_ERROR';
export type ShutdownReason = 'UNKNOWN' | 'USER';
export type ShutoffReason = 'UNKNOWN' | 'SHUTDOWN' | 'DESTROYED' | 'CRASHED' | 'MIGRATED' | 'SAVED' | 'FAILED' | 'FROM_SNAPSHOT' | 'DAEMON';
export type CrashedReason = 'UNKNOWN' | 'PANICKED';
export type StateReason = RunningReason | PausedReason | ShutdownReason | ShutoffReason | CrashedReason;

/**
 * Event detail → the state reason libvirt records with it (qemu_process.c,
 * qemuDomainPausedReasonToSuspendedEvent read backwards). The records double
 * as the list of details decodeEvent accepts: a detail missing here fails to
 * compile.
 */
export const STARTED_REASON: Readonly<Record<StartedDetail, RunningReason>> = {
  BOOTED: 'BOOTED', MIGRATED: 'MIGRATED', RESTORED: 'RESTORED', FROM_SNAPSHOT: 'FROM_SNAPSHOT', WAKEUP: 'WAKEUP',
};
export const SUSPENDED_REASON: Readonly<Record<SuspendedDetail, PausedReason>> = {
  PAUSED: 'USER', MIGRATED: 'MIGRATION', IOERROR: 'IOERROR', WATCHDOG: 'WATCHDOG', RESTORED: 'USER',
  FROM_SNAPSHOT: 'FROM_SNAPSHOT', API_ERROR: 'API_ERROR', POSTCOPY: 'POSTCOPY', POSTCOPY_FAILED: 'POSTCOPY_FAILED',
};
export const RESUMED_REASON: Readonly<Record<ResumedDetail, RunningReason>> = {
  UNPAUSED: 'UNPAUSED', MIGRATED: 'MIGRATED', FROM_SNAPSHOT: 'FROM_SNAPSHOT', POSTCOPY: 'POSTCOPY',
};
export const STOPPED_REASON: Readonly<Record<StoppedDetail, ShutoffReason>> = {
  SHUTDOWN: 'SHUTDOWN', DESTROYED: 'DESTROYED', CRASHED: 'CRASHED', MIGRATED: 'MIGRATED', SAVED: 'SAVED', FAILED: 'FAILED', FROM_SNAPSHOT: 'FROM_SNAPSHOT',
};
/** qemuProcessHandleShutdown sets SHUTDOWN_UNKNOWN whatever the event's detail (FINISHED, GUEST, HOST). */
export const SHUTDOWN_REASON: Readonly<Record<ShutdownDetail, ShutdownReason>> = { FINISHED: 'UNKNOWN', GUEST: 'UNKNOWN', HOST: 'UNKNOWN' };

export interface Resources {
  readonly memoryKiB: number;
  readonly vcpus: number;
}

/**
 * A migration in flight. libvirt reports it from both ends: the target's
 * STARTED/RESUMED MIGRATED and the source's STOPPED MIGRATED, in either order;
 * it is over when both have been seen.
 */
export interface Migration {
  readonly fromHost: string;
  readonly toHost: string;
  readonly since: string;
  readonly sourceStopped: boolean;
  readonly targetStarted: boolean;
}

/** The live half of a domain (libvirt's virDomainObj state), apart from its definition. */
export interface DomainLifecycle {
  readonly state: LifecycleState;
  /** libvirt's reason for the state (`virsh domstate --reason`), e.g. BOOTED, USER, DESTROYED. */
  readonly reason: StateReason;
  /** The detail of the lifecycle event that set the state, e.g. GUEST for a guest-initiated shutdown. */
  readonly detail?: string;
  readonly migrating: boolean;
  readonly migration?: Migration;
  /** The host it is placed on or runs on; none while shut off. */
  readonly hostId?: string;
  /** What its placement claims on that host. */
  readonly resources?: Resources;
  readonly lastError?: VirtErrorJSON;
}

/** A domain libvirt has just defined: shut off, reason unknown. */
export const SHUTOFF: DomainLifecycle = Object.freeze({ state: 'shutoff', reason: 'UNKNOWN', migrating: false });

interface Parts {
  state: LifecycleState;
  reason: StateReason;
  detail?: string | undefined;
  migration?: Migration | undefined;
  hostId?: string | undefined;
  resources?: Resources | undefined;
  lastError?: VirtErrorJSON | undefined;
}

/** Builds a lifecycle without undefined-valued keys, so folds compare equal after a JSON round trip. */
export function lifecycle(p: Parts): DomainLifecycle {
  const out: { -readonly [K in keyof DomainLifecycle]: DomainLifecycle[K] } = { state: p.state, reason: p.reason, migrating: p.migration !== undefined };
  if (p.detail !== undefined) out.detail = p.detail;
  if (p.migration !== undefined) out.migration = p.migration;
  if (p.hostId !== undefined) out.hostId = p.hostId;
  if (p.resources !== undefined) out.resources = p.resources;
  if (p.lastError !== undefined) out.lastError = p.lastError;
  return Object.freeze(out);
}

function parts(lc: DomainLifecycle): Parts {
  return { state: lc.state, reason: lc.reason, detail: lc.detail, migration: lc.migration, hostId: lc.hostId, resources: lc.resources, lastError: lc.lastError };
}

/** The target has the domain running: it lives there now. */
function arrive(lc: DomainLifecycle, m: Migration, hostId: string, detail: string): DomainLifecycle {
  const done = m.sourceStopped;
  return lifecycle({ ...parts(lc), state: 'running', reason: 'MIGRATED', detail, hostId, migration: done ? undefined : { ...m, targetStarted: true } });
}

/** A stopped domain lives nowhere and claims nothing. */
function stopped(lc: DomainLifecycle, detail: StoppedDetail, error: VirtErrorJSON | undefined): DomainLifecycle {
  return lifecycle({ state: 'shutoff', reason: STOPPED_REASON[detail] ?? 'UNKNOWN', detail, lastError: error ?? lc.lastError });
}

function reduceStopped(lc: DomainLifecycle, hostId: string, detail: StoppedDetail, error: VirtErrorJSON | undefined): DomainLifecycle {
  const m = lc.migration;
  const lastError = error ?? lc.lastError;
  if (m && hostId === m.fromHost && !m.sourceStopped) {
    // The source let go. Done if the target already runs it; gone if the source failed first.
    if (m.targetStarted) return lifecycle({ ...parts(lc), migration: undefined, lastError });
    if (detail === 'MIGRATED') {
      // In flight: libvirt holds the incoming domain paused for migration on the target.
      return lifecycle({ ...parts(lc), state: 'paused', reason: 'MIGRATION', detail, hostId: m.toHost, migration: { ...m, sourceStopped: true }, lastError });
    }
    return stopped(lc, detail, error);
  }
  if (m && hostId === m.toHost) {
    // The target stopped: the domain itself if it had arrived, else only the incoming copy.
    if (m.targetStarted || m.sourceStopped) return stopped(lc, detail, error);
    return lifecycle({ ...parts(lc), migration: undefined, lastError });
  }
  // A stop reported by a host the domain does not live on is about a stale copy
  // (the host came back after a failover): the domain itself is unaffected.
  if (lc.hostId !== undefined && hostId !== lc.hostId) return lc;
  return stopped(lc, detail, error);
}

/** While the target runs it, reports from the source are about the old copy. */
function fromOldSource(lc: DomainLifecycle, hostId: string): boolean {
  return lc.migration !== undefined && lc.migration.targetStarted && hostId === lc.migration.fromHost && hostId !== lc.hostId;
}

/**
 * Folds one event into a domain's lifecycle. Never throws: the log holds what
 * happened, and checkTransition is what keeps illegal events out of it.
 */
export function reduceLifecycle(lc: DomainLifecycle, event: AnyEvent): DomainLifecycle {
  switch (event.type) {
    case 'DomainUndefined':
      return SHUTOFF;
    case 'DomainPlaced': {
      const d = event.data;
      return lifecycle({ ...parts(lc), hostId: d.hostId, resources: { memoryKiB: d.memoryKiB, vcpus: d.vcpus } });
    }
    case 'DomainStarted': {
      const d = event.data;
      const m = lc.migration;
      if (d.detail === 'MIGRATED' && m && d.hostId === m.toHost) return arrive(lc, m, d.hostId, d.detail);
      if (fromOldSource(lc, d.hostId)) return lc;
      return lifecycle({ ...parts(lc), state: 'running', reason: STARTED_REASON[d.detail] ?? 'UNKNOWN', detail: d.detail, hostId: d.hostId });
    }
    case 'DomainResumed': {
      const d = event.data;
      const m = lc.migration;
      if (d.detail === 'MIGRATED' && m && d.hostId === m.toHost) return arrive(lc, m, d.hostId, d.detail);
      if (fromOldSource(lc, d.hostId)) return lc;
      return lifecycle({ ...parts(lc), state: 'running', reason: RESUMED_REASON[d.detail] ?? 'UNKNOWN', detail: d.detail, hostId: d.hostId });
    }
    case 'DomainSuspended': {
      const d = event.data;
      if (fromOldSource(lc, d.hostId)) return lc;
      return lifecycle({ ...parts(lc), state: 'paused', reason: SUSPENDED_REASON[d.detail] ?? 'UNKNOWN', detail: d.detail, hostId: d.hostId });
    }
    case 'DomainShutdown': {
      const d = event.data;
      if (fromOldSource(lc, d.hostId)) return lc;
      return lifecycle({ ...parts(lc), state: 'shutdown', reason: SHUTDOWN_REASON[d.detail] ?? 'UNKNOWN', detail: d.detail, hostId: d.hostId });
    }
    case 'DomainStopped':
      return reduceStopped(lc, event.data.hostId, event.data.detail, event.data.error);
    case 'DomainMigrating': {
      const d = event.data;
      const migration: Migration = { fromHost: d.fromHost, toHost: d.toHost, since: event.at, sourceStopped: false, targetStarted: false };
      return lifecycle({ ...parts(lc), hostId: lc.hostId ?? d.fromHost, migration });
    }
    default:
      // Definition events and host events leave the lifecycle as it is.
      return lc;
  }
}

/**
 * The hosts a domain takes resources on: where it lives, and during a
 * migration both ends (the target reserves before it runs the domain, the
 * source holds until it has stopped its copy), as Nova's migration context does.
 */
export function occupiedHosts(lc: DomainLifecycle): string[] {
  const out: string[] = [];
  if (lc.hostId !== undefined) out.push(lc.hostId);
  const m = lc.migration;
  if (m) {
    if (!out.includes(m.toHost)) out.push(m.toHost);
    if (!m.sourceStopped && !out.includes(m.fromHost)) out.push(m.fromHost);
  }
  return out;
}

/** The hosts a domain event names, so a host's fold knows the event concerns it. */
export function hostsNamed(event: AnyEvent): string[] {
  switch (event.type) {
    case 'DomainPlaced':
    case 'DomainStarted':
    case 'DomainResumed':
    case 'DomainSuspended':
    case 'DomainShutdown':
    case 'DomainStopped':
      return [event.data.hostId];
    case 'DomainMigrating':
      return [event.data.fromHost, event.data.toHost];
    default:
      return [];
  }
}
