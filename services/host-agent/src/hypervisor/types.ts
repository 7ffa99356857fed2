/**
 * The one interface every hypervisor behind a host agent implements: the real
 * QEMU (driven through QMP) and the simulated `test` hypervisor. The agent owns
 * commands, idempotency and events; a hypervisor only runs domains and says
 * what happened to them, in libvirt's lifecycle vocabulary.
 *
 * Rules every implementation keeps:
 * - Methods act on one domain by UUID and resolve when the action is done as
 *   far as the hypervisor can tell (start: the guest CPUs run; suspend: QMP
 *   says paused). `shutdown` only *asks* the guest (ACPI): its end arrives later
 *   as a `stopped` lifecycle event with detail SHUTDOWN.
 * - A wrong state is refused with libvirt's code and message, as a VirtError
 *   (`OPERATION_INVALID`, 'domain is not running' / 'domain is not paused' /
 *   'domain is already running'); an unknown domain with `NO_DOMAIN`.
 * - Everything that changes a domain's state, whether asked for or not (a guest
 *   powering off, QEMU dying, a QMP STOP on an I/O error), is emitted once as a
 *   LifecycleChange, including the changes the methods themselves cause.
 * - `close()` detaches: running domains keep running, and a new instance finds
 *   them again through `list()` (the reconcile on restart).
 */
import type { Capabilities, DeviceDef, DomainDef, LifecycleState, ResumedDetail, ShutdownDetail, StartedDetail, StoppedDetail, SuspendedDetail } from '@virtflow/model';

export type HypervisorKind = 'qemu' | 'test';

/** One state change, as libvirt's domain lifecycle event names it. */
export type LifecycleChange =
  | { readonly uuid: string; readonly event: 'started'; readonly detail: StartedDetail }
  | { readonly uuid: string; readonly event: 'suspended'; readonly detail: SuspendedDetail }
  | { readonly uuid: string; readonly event: 'resumed'; readonly detail: ResumedDetail }
  | { readonly uuid: string; readonly event: 'shutdown'; readonly detail: ShutdownDetail }
  | { readonly uuid: string; readonly event: 'stopped'; readonly detail: StoppedDetail; readonly message?: string }
  /** The guest was reset (QMP RESET): no state change, reported for the record. */
  | { readonly uuid: string; readonly event: 'reset' };

/** A domain the hypervisor really runs right now, as found by `list()`. */
export interface RunningDomain {
  readonly uuid: string;
  readonly name: string;
  readonly state: Extract<LifecycleState, 'running' | 'paused' | 'shutdown'>;
  /** The process that runs it (qemu), when there is one. */
  readonly pid?: number;
  /**
   * True when the hypervisor knows the domain exists but could not read its
   * state (QEMU: a qemu found after a restart whose monitor did not answer).
   * `state` is then 'paused', never 'running': nobody should take for
   * running a guest whose CPUs may never have been started.
   */
  readonly stateUnknown?: boolean;
  /**
   * True when its CPUs were never started (QEMU: 'prelaunch', launched with
   * -S and never continued: the start that launched it was cut short). Nobody
   * continues such a domain on its own; starting it again finishes that start.
   */
  readonly prelaunch?: boolean;
}

export interface StartOptions {
  /** Start with the guest CPUs stopped (virsh start --paused). */
  readonly paused?: boolean;
  /** Wait for an incoming migration on this loopback/namespace address instead of booting. */
  readonly incoming?: { readonly host: string; readonly port: number };
}

export interface MigrationTarget {
  readonly host: string;
  readonly port: number;
}

export interface Hypervisor {
  readonly kind: HypervisorKind;
  /** What this node can run, as `virsh capabilities` shows it. */
  capabilities(): Promise<Capabilities>;
  /** Every domain that runs now, including ones started before this instance existed. */
  list(): Promise<readonly RunningDomain[]>;
  start(def: DomainDef, options?: StartOptions): Promise<void>;
  /** ACPI power button; the guest decides. */
  shutdown(uuid: string): Promise<void>;
  /** Kill at once (virsh destroy). */
  destroy(uuid: string): Promise<void>;
  /** ACPI reboot request (QEMU: system_reset after guest agreement is out of scope; libvirt's default for qemu is ACPI). */
  reboot(uuid: string): Promise<void>;
  /** Hard reset, like pressing the reset button. */
  reset(uuid: string): Promise<void>;
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;
  /** Hot-plug a device already post-parsed against the domain (it has its alias and address). */
  attachDevice(uuid: string, device: DeviceDef): Promise<void>;
  /** Hot-unplug the device with this alias (`net1`, `virtio-disk2`). */
  detachDevice(uuid: string, alias: string): Promise<void>;
  /** Live-migrate a running domain to a destination started with `incoming`; resolves when the source has handed over. */
  migrateOut(uuid: string, target: MigrationTarget): Promise<void>;
  /** Every state change, in the order it happened. Returns an unsubscribe function. */
  onLifecycle(listener: (change: LifecycleChange) => void): () => void;
  /** Detach from everything; domains keep running. */
  close(): Promise<void>;
}
