export * from './types.ts';
export * from './subjects.ts';
export { makeEvent, type EventMeta } from './make.ts';
export { decodeEvent, decodeEventOrThrow, checkEvent, encodeEvent, dataError, isEventType, subjectFor, EVENT_SHAPES } from './validate.ts';
export {
  LIFECYCLE_STATES, STARTED_REASON, SUSPENDED_REASON, RESUMED_REASON, STOPPED_REASON, SHUTDOWN_REASON, SHUTOFF,
  reduceLifecycle, occupiedHosts, hostsNamed,
  type LifecycleState, type StateReason, type RunningReason, type PausedReason, type ShutdownReason, type ShutoffReason, type CrashedReason,
  type Resources, type Migration, type DomainLifecycle,
} from './lifecycle.ts';
export { reduceDomain, reduceDomainRow, foldDomain, isDomainEvent, domainOf, toRow, lifecycleOf, type DomainState, type DomainRow, type DefinitionVersion, type DomainEvent } from './domain.ts';
export { reduceHost, reduceHostFacts, foldHost, emptyHost, emptyHostFacts, isHostEvent, type HostState, type HostFacts, type HostTotals, type HostEvent, type HostClaim } from './host.ts';
export { checkTransition, transitionError, isLegalTransition } from './transitions.ts';
export { history, asOf, definitionAt, diffDefinitions, diffVersions, formatDiff, type DefinitionChange } from './history.ts';
export { projectDomains, type DomainsProjection, type DomainsProjectionJSON } from './project-domains.ts';
export { projectHosts, type HostsProjection, type HostsProjectionJSON, type HostView } from './project-hosts.ts';
export type { Sequenced } from './transient.ts';
export { prng, randomUUID as seededUUID, simulateCluster, type SimulationOptions } from './simulate.ts';
