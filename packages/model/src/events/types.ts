/**
 * virtflow's events, in libvirt's lifecycle vocabulary, and their envelope.
 * An event is a fact in the past tense; state is a fold of events.
 */
import type { Capabilities } from '../caps/types.ts';
import type { VirtErrorJSON } from '../errors.ts';
import type { Provenance } from '../postparse/types.ts';

/** The envelope's own schema version: bumped when its shape changes. */
export const ENVELOPE_VERSION = 1;

export interface EventEnvelope<T extends EventType = EventType> {
  /** Unique id of this event (a UUID), also JetStream's Nats-Msg-Id for de-duplication. */
  readonly id: string;
  readonly type: T;
  readonly subject: string;
  /** The aggregate's version after this event: 1 for its first event. */
  readonly version: number;
  /** When it happened, ISO 8601 UTC. */
  readonly at: string;
  /** The job or request that led to it. */
  readonly correlationId: string;
  /** The event or command that directly caused it. */
  readonly causationId: string;
  readonly data: EventData[T];
  /** Envelope schema version. */
  readonly v: typeof ENVELOPE_VERSION;
}

/** libvirt's virDomainEventStartedDetailType and friends. */
export type StartedDetail = 'BOOTED' | 'MIGRATED' | 'RESTORED' | 'FROM_SNAPSHOT' | 'WAKEUP';
export type SuspendedDetail = 'PAUSED' | 'MIGRATED' | 'IOERROR' | 'WATCHDOG' | 'RESTORED' | 'FROM_SNAPSHOT' | 'API_ERROR' | 'POSTCOPY' | 'POSTCOPY_FAILED';
export type ResumedDetail = 'UNPAUSED' | 'MIGRATED' | 'FROM_SNAPSHOT' | 'POSTCOPY';
export type StoppedDetail = 'SHUTDOWN' | 'DESTROYED' | 'CRASHED' | 'MIGRATED' | 'SAVED' | 'FAILED' | 'FROM_SNAPSHOT';
export type ShutdownDetail = 'FINISHED' | 'GUEST' | 'HOST';

export interface DomainDefinedData {
  readonly uuid: string;
  readonly name: string;
  /** The domain type (kvm, qemu, lxc, ...) and the driver that post-parsed it. */
  readonly domainType: string;
  readonly driver: string;
  /** The enriched, canonical inactive XML: the definition itself. */
  readonly xml: string;
  readonly provenance?: readonly Provenance[];
}

export interface EventData {
  DomainDefined: DomainDefinedData;
  DomainRedefined: DomainDefinedData;
  DomainUndefined: { readonly uuid: string; readonly name: string };
  DomainDeviceAttached: { readonly uuid: string; readonly path: string; readonly xml: string; readonly definition: string };
  DomainDeviceDetached: { readonly uuid: string; readonly path: string; readonly xml: string; readonly definition: string };
  DomainDeviceUpdated: { readonly uuid: string; readonly path: string; readonly xml: string; readonly definition: string };
  DomainPlaced: { readonly uuid: string; readonly hostId: string; readonly memoryKiB: number; readonly vcpus: number; readonly reason?: string };
  DomainStarted: { readonly uuid: string; readonly hostId: string; readonly detail: StartedDetail };
  DomainSuspended: { readonly uuid: string; readonly hostId: string; readonly detail: SuspendedDetail };
  DomainResumed: { readonly uuid: string; readonly hostId: string; readonly detail: ResumedDetail };
  DomainShutdown: { readonly uuid: string; readonly hostId: string; readonly detail: ShutdownDetail };
  DomainStopped: { readonly uuid: string; readonly hostId: string; readonly detail: StoppedDetail; readonly error?: VirtErrorJSON };
  DomainMigrating: { readonly uuid: string; readonly fromHost: string; readonly toHost: string };
  HostRegistered: { readonly hostId: string; readonly address?: string; readonly labels?: Readonly<Record<string, string>>; readonly capabilities: Capabilities };
  HostCapabilitiesReported: { readonly hostId: string; readonly capabilities: Capabilities };
  HostDown: { readonly hostId: string; readonly reason: string; readonly lastSeen?: string };
  HostUp: { readonly hostId: string };
  HostDrained: { readonly hostId: string; readonly drained: boolean };
  /**
   * A command sent to the host's agent failed (commands/): on the host's
   * subject, since the domain may not exist (NO_DOMAIN). causationId is the
   * command's id, correlationId its job's. Nothing else changed.
   */
  DomainCommandFailed: { readonly hostId: string; readonly uuid?: string; readonly command: string; readonly error: VirtErrorJSON };
  /**
   * A scheduler took a domain's resources on the host (services/scheduler
   * claims.ts). On the host's stream, appended at the host's version, so two
   * schedulers racing for one host cannot both fit their claim: the second
   * append fails, reloads and checks again. Held until HostResourcesReleased.
   */
  HostResourcesClaimed: HostClaimData;
  /** The claim is given back: the domain stopped, its start failed everywhere, it migrated away. */
  HostResourcesReleased: { readonly hostId: string; readonly uuid: string; readonly reason: string };
}

/** A domain's share of one host NUMA cell, as a claim records it (the placement's CellClaim). */
export interface ClaimedCell {
  readonly guestCell: number;
  readonly hostCell: number;
  readonly memoryKiB: number;
  readonly vcpus: number;
}

export interface HostClaimData {
  readonly hostId: string;
  readonly uuid: string;
  readonly memoryKiB: number;
  readonly vcpus: number;
  readonly numa?: readonly ClaimedCell[];
  /** The scheduling group the domain belongs to, so another scheduler counts it in (anti-)affinity. */
  readonly group?: string;
  /** A migration's target half: the domain runs on this host meanwhile. */
  readonly migrateFrom?: string;
  readonly reason?: string;
}

export type EventType = keyof EventData;
export type AnyEvent = { [T in EventType]: EventEnvelope<T> }[EventType];

export const DOMAIN_EVENT_TYPES = [
  'DomainDefined', 'DomainRedefined', 'DomainUndefined', 'DomainDeviceAttached', 'DomainDeviceDetached', 'DomainDeviceUpdated',
  'DomainPlaced', 'DomainStarted', 'DomainSuspended', 'DomainResumed', 'DomainShutdown', 'DomainStopped', 'DomainMigrating',
] as const satisfies readonly EventType[];
export const HOST_EVENT_TYPES = [
  'HostRegistered', 'HostCapabilitiesReported', 'HostDown', 'HostUp', 'HostDrained', 'DomainCommandFailed', 'HostResourcesClaimed', 'HostResourcesReleased',
] as const satisfies readonly EventType[];
export const EVENT_TYPES: readonly EventType[] = [...DOMAIN_EVENT_TYPES, ...HOST_EVENT_TYPES];
