/**
 * The guard writers run before appending: is this event a legal next step for
 * the aggregate as it stands? Reducers fold whatever is in the log; this is
 * what keeps the log sensible. Messages follow libvirt's where it has them
 * ("domain is already running", "domain is not running").
 */
import { VirtError, type ErrorCode } from '../errors.ts';
import type { AnyEvent } from './types.ts';
import { isDomainEvent, type DomainEvent, type DomainRow } from './domain.ts';
import { isHostEvent, type HostEvent, type HostFacts } from './host.ts';

/** A rule's verdict, made into a VirtError only at the edge: an Error's stack costs microseconds, and simulations ask millions of times. */
interface Problem {
  readonly code: ErrorCode;
  readonly detail: string;
  readonly path?: string;
}
const invalid = (detail: string, path?: string): Problem => ({ code: 'OPERATION_INVALID', detail, ...(path ? { path } : {}) });
const internal = (detail: string): Problem => ({ code: 'INTERNAL_ERROR', detail });

function isDomainState(s: DomainRow | HostFacts): s is DomainRow {
  return 'uuid' in s;
}

/**
 * The VirtError('OPERATION_INVALID') an illegal event would be, or undefined
 * when it may be appended. `state` is the aggregate's state before the event
 * (a DomainState or HostState, or a projection's row of one).
 */
export function transitionError(state: DomainRow | HostFacts | undefined, event: AnyEvent): VirtError | undefined {
  const p = problem(state, event);
  return p && new VirtError(p.code, p.detail, p.path);
}

/** Whether `event` may follow `state`: transitionError without building the error. */
export function isLegalTransition(state: DomainRow | HostFacts | undefined, event: AnyEvent): boolean {
  return problem(state, event) === undefined;
}

function problem(state: DomainRow | HostFacts | undefined, event: AnyEvent): Problem | undefined {
  if (isDomainEvent(event)) {
    if (state && !isDomainState(state)) return internal(`a ${event.type} event needs the domain's state, not host '${state.hostId}'`);
    return domainError(state, event);
  }
  if (isHostEvent(event)) {
    if (state && isDomainState(state)) return internal(`a ${event.type} event needs the host's state, not domain '${state.uuid}'`);
    return hostError(state, event);
  }
  return internal(`no transition rule for event type '${(event as { type: string }).type}'`);
}

/** Throws the VirtError('OPERATION_INVALID', ...) an illegal event is; returns when the event may be appended. */
export function checkTransition(state: DomainRow | HostFacts | undefined, event: AnyEvent): void {
  const err = transitionError(state, event);
  if (err) throw err;
}

function versionError(current: number, event: AnyEvent): Problem | undefined {
  if (event.version === current + 1) return undefined;
  return invalid(`${event.type} carries version ${event.version} but the aggregate is at version ${current}: expected ${current + 1}`, '/version');
}

function domainError(s: DomainRow | undefined, e: DomainEvent): Problem | undefined {
  if (s && s.uuid !== e.data.uuid) return internal(`${e.type} is for domain ${e.data.uuid}, not ${s.uuid}`);
  const v = versionError(s?.version ?? 0, e);
  if (v) return v;
  if (e.type === 'DomainDefined') {
    return s?.defined ? invalid(`domain '${s.name}' is already defined with uuid ${s.uuid}: redefine it instead`) : undefined;
  }
  // libvirt would say NO_DOMAIN; to a writer it is one more illegal step, and callers test one code.
  if (!s?.defined) return invalid(`domain ${e.data.uuid} is not defined${s?.name ? ` (it was '${s.name}' until undefined)` : ''}`);
  const name = s.name;
  const m = s.migration;
  switch (e.type) {
    case 'DomainRedefined':
      return e.data.name === name ? undefined : invalid(`cannot rename domain '${name}' to '${e.data.name}' by redefining it`);
    case 'DomainDeviceAttached':
    case 'DomainDeviceDetached':
    case 'DomainDeviceUpdated':
      return undefined;
    case 'DomainUndefined':
      if (e.data.name !== name) return invalid(`domain ${s.uuid} is named '${name}', not '${e.data.name}'`);
      if (m) return invalid(`domain '${name}' is being migrated`);
      // libvirt would leave a running domain transient; virtflow keeps no transient domains.
      return s.state === 'shutoff' ? undefined : invalid(`cannot undefine domain '${name}' while it is ${s.state}: stop it first`);
    case 'DomainPlaced':
      if (m) return invalid(`domain '${name}' is being migrated`);
      return s.state === 'shutoff' ? undefined : invalid(`domain '${name}' is ${s.state} on host '${s.hostId ?? '?'}': migrate it to move it`);
    case 'DomainMigrating':
      if (m) return invalid(`domain '${name}' is already being migrated to host '${m.toHost}'`);
      if (s.state !== 'running' && s.state !== 'paused') return invalid(`domain '${name}' is not running`);
      if (s.hostId !== e.data.fromHost) return invalid(`domain '${name}' runs on host '${s.hostId ?? '?'}', not '${e.data.fromHost}'`);
      return e.data.toHost === e.data.fromHost ? invalid(`domain '${name}' cannot be migrated to the host it runs on ('${e.data.toHost}')`) : undefined;
    case 'DomainStarted':
      if (e.data.detail === 'MIGRATED') return arrivalError(s, e.data.hostId);
      if (m) return invalid(`domain '${name}' is being migrated`);
      if (e.data.detail === 'WAKEUP') return s.state === 'pmsuspended' && s.hostId === e.data.hostId ? undefined : invalid(`domain '${name}' is not suspended to memory on host '${e.data.hostId}'`);
      if (s.state !== 'shutoff') return invalid('domain is already running');
      if (s.hostId === undefined) return invalid(`domain '${name}' has no placement: place it before starting it`);
      return s.hostId === e.data.hostId ? undefined : invalid(`domain '${name}' is placed on host '${s.hostId}', not '${e.data.hostId}'`);
    case 'DomainResumed':
      if (e.data.detail === 'MIGRATED' && m) return arrivalError(s, e.data.hostId);
      if (s.state !== 'paused') return invalid('domain is not paused');
      if (m && !m.targetStarted && e.data.hostId === m.toHost) return invalid(`domain '${name}' is arriving on host '${m.toHost}': only a MIGRATED resume completes it`);
      return onItsHost(s, e.data.hostId);
    case 'DomainSuspended':
      if (e.data.detail === 'MIGRATED' && (!m || e.data.hostId !== m.fromHost)) return invalid(`domain '${name}' is not being migrated from host '${e.data.hostId}'`);
      return s.state === 'running' ? onItsHost(s, e.data.hostId) : invalid('domain is not running');
    case 'DomainShutdown':
      return s.state === 'running' || s.state === 'paused' ? onItsHost(s, e.data.hostId) : invalid('domain is not running');
    case 'DomainStopped': {
      const h = e.data.hostId;
      if (m) {
        if (h === m.fromHost && !m.sourceStopped) return undefined;
        if (h === m.toHost) return e.data.detail === 'MIGRATED' ? invalid(`domain '${name}' is being migrated to host '${h}', not from it`) : undefined;
        return invalid(`domain '${name}' is being migrated from '${m.fromHost}' to '${m.toHost}', not on host '${h}'`);
      }
      if (e.data.detail === 'MIGRATED') return invalid(`domain '${name}' is not being migrated`);
      // libvirt's VIR_DOMAIN_SHUTOFF_FAILED, "domain failed to start": a start that failed on
      // every host gives its placement back this way (a placed domain that never ran).
      if (s.state === 'shutoff' && e.data.detail === 'FAILED' && s.hostId !== undefined) return onItsHost(s, h);
      return s.state === 'shutoff' ? invalid('domain is not running') : onItsHost(s, h);
    }
  }
}

function onItsHost(s: DomainRow, hostId: string): Problem | undefined {
  return s.hostId === hostId ? undefined : invalid(`domain '${s.name}' is on host '${s.hostId ?? '(none)'}', not '${hostId}'`);
}

function arrivalError(s: DomainRow, hostId: string): Problem | undefined {
  const m = s.migration;
  if (!m || m.toHost !== hostId) return invalid(`domain '${s.name}' is not being migrated to host '${hostId}'`);
  return m.targetStarted ? invalid(`domain '${s.name}' has already arrived on host '${hostId}'`) : undefined;
}

function hostError(s: HostFacts | undefined, e: HostEvent): Problem | undefined {
  if (s && s.hostId !== e.data.hostId) return internal(`${e.type} is for host '${e.data.hostId}', not '${s.hostId}'`);
  const v = versionError(s?.version ?? 0, e);
  if (v) return v;
  // Registering again (an agent restarting) refreshes address, labels and capabilities.
  if (e.type === 'HostRegistered') return undefined;
  if (!s?.registered) return invalid(`host '${e.data.hostId}' is not registered`);
  switch (e.type) {
    case 'HostCapabilitiesReported':
    case 'DomainCommandFailed':
      return undefined;
    case 'HostDown':
      return s.up ? undefined : invalid(`host '${s.hostId}' is already down`);
    case 'HostUp':
      return s.up ? invalid(`host '${s.hostId}' is already up`) : undefined;
    case 'HostDrained':
      return s.drained === e.data.drained ? invalid(`host '${s.hostId}' is already ${s.drained ? 'drained' : 'undrained'}`) : undefined;
    // Claiming again replaces the claim (a resize, a retried job): the scheduler's check decides whether it fits.
    case 'HostResourcesClaimed':
      return undefined;
    case 'HostResourcesReleased':
      return s.claims && Object.hasOwn(s.claims, e.data.uuid) ? undefined : invalid(`host '${s.hostId}' holds no claim for domain ${e.data.uuid}`);
  }
}
