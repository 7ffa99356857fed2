/**
 * Commands: what the scheduler (or an operator) asks one host's agent to do to
 * one domain, on JetStream subject `virt.cmd.<hostId>` (subjects.hostCommands).
 *
 * A command is a request, not a fact: it is named in the imperative (libvirt's
 * virsh verbs) and its outcome is recorded as events with the command's
 * correlationId and causationId = command id — the lifecycle events on success
 * (DomainStarted, DomainStopped DESTROYED, ...), DomainCommandFailed on the
 * host's subject on failure.
 */
import type { VirtErrorJSON } from '../errors.ts';
import type { LifecycleState, Resources, StateReason } from '../events/lifecycle.ts';

export const COMMAND_TYPES = [
  'define', 'start', 'shutdown', 'destroy', 'reboot', 'reset', 'suspend', 'resume',
  'attach-device', 'detach-device', 'migrate-out', 'migrate-in', 'undefine',
] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

/** The schema version of the command envelope. */
export const COMMAND_VERSION = 1;

export interface CommandArgs {
  /** Define (or redefine) from XML, post-parsed with this host's capabilities; the XML's uuid must be the command's. */
  define: { readonly xml: string };
  /**
   * Start; `paused` as `virsh start --paused`. `known`: the domain as the
   * scheduler wrote it when it placed it here, so the agent can start it
   * without reading it again (see StartKnown).
   */
  start: { readonly paused?: boolean; readonly known?: StartKnown };
  shutdown: Record<string, never>;
  destroy: Record<string, never>;
  reboot: Record<string, never>;
  reset: Record<string, never>;
  suspend: Record<string, never>;
  resume: Record<string, never>;
  /** Hot-plug a device (its XML) into the running domain. */
  'attach-device': { readonly xml: string };
  /** Hot-unplug the device with this alias (`net1`, `virtio-disk2`). */
  'detach-device': { readonly alias: string };
  /** Send the running domain to `toHost`, whose agent listens on host:port (after its migrate-in). */
  'migrate-out': { readonly toHost: string; readonly host: string; readonly port: number };
  /** Start the domain waiting for an incoming migration from `fromHost` on host:port. */
  'migrate-in': { readonly fromHost: string; readonly host: string; readonly port: number };
  undefine: Record<string, never>;
}

export interface Command<T extends CommandType = CommandType> {
  /** Unique id (a UUID): the idempotency key, JetStream's Nats-Msg-Id, and the causationId of its events. */
  readonly id: string;
  readonly type: T;
  /** The host whose agent carries it out (the subject's last token). */
  readonly hostId: string;
  /** The domain it acts on. */
  readonly uuid: string;
  /** The job or request it belongs to: every event it leads to carries it. */
  readonly correlationId: string;
  /** When it was issued, ISO 8601 UTC. */
  readonly at: string;
  readonly args: CommandArgs[T];
  readonly v: typeof COMMAND_VERSION;
}

export type AnyCommand = { [T in CommandType]: Command<T> }[CommandType];

/**
 * What became of a command, as the agent records it (KV `VIRT_COMMAND_RESULTS`,
 * key `<hostId>.<commandId>`) once its events are stored and before it acks.
 */
export interface CommandOutcome {
  readonly id: string;
  readonly type: string;
  readonly hostId: string;
  readonly uuid?: string;
  readonly correlationId: string;
  /** pending: taken and being carried out (an agent that finds it so after a restart resumes it). */
  readonly status: 'pending' | 'completed' | 'failed';
  /** When the status was set. */
  readonly at: string;
  /** The events it appended: ids, types and stream sequences. */
  readonly events?: ReadonlyArray<{ readonly id: string; readonly type: string; readonly seq: number }>;
  /** The failure, as it crosses the wire. */
  readonly error?: VirtErrorJSON;
}

/**
 * What the event store knew of a domain's head when the scheduler had written
 * it (the runtime's ObservationSnapshot): its version, the stream sequence of
 * its last message and of each of its subjects (by event type), when that was
 * read (epoch ms), the id of the event at the head, and whether `typeSeqs`
 * covers every subject.
 */
export interface KnownObservation {
  readonly version: number;
  readonly seq: number;
  readonly typeSeqs: Readonly<Record<string, number>>;
  readonly at: number;
  readonly headId?: string;
  readonly complete: boolean;
}

/**
 * A start's `known`: the domain as the scheduler wrote it with its
 * DomainPlaced (its row without the definition history, which a start does
 * not read) and the store's observation of it right after that append. The
 * agent seeds its store with the observation and decides on the row: an append
 * at `version` is still checked by the server, and a write by anyone since
 * sends the agent round a reload (execute.ts).
 */
export interface StartKnown {
  readonly name: string;
  readonly defined: boolean;
  readonly xml: string;
  readonly domainType?: string;
  readonly driver?: string;
  readonly definitionVersion: number;
  /** The aggregate version (that of the DomainPlaced). */
  readonly version: number;
  readonly updatedAt?: string;
  readonly state: LifecycleState;
  readonly reason?: StateReason;
  readonly hostId: string;
  readonly resources?: Resources;
  readonly observation: KnownObservation;
}
