/**
 * What a migration is handed and hands back (migrate.ts, migrate-cold.ts,
 * migrate-resume.ts, evacuate.ts and drain.ts share them): the context with
 * the scheduler's inventory and claims, the arguments, the result and the
 * progress it reports. Types alone, in a module of their own so that the
 * modules of the moves import them without importing one another.
 */
import type { Claim, Inventory, PlacementRequest, SchedulerConfig, SchedulerHints } from '@virtflow/model';
import type { Ids, StepContext } from './migrate-steps.ts';

/** What a claim on a host answers: taken, or why the host no longer fits (another scheduler was faster). */
export type ClaimAnswer = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * The scheduler's claims on host aggregates (claims.ts), as far as a
 * migration needs them: take one on the destination, give one back.
 * Releasing a claim that is not held does nothing.
 */
export interface MigrationClaims {
  /** `request`: the placement's request, so every filter that judges one host runs again on the host as the log has it. */
  claim(claim: Claim & { readonly request?: PlacementRequest }, ids: Ids): Promise<ClaimAnswer>;
  release(hostId: string, uuid: string, reason: string, ids: Ids): Promise<unknown>;
}

export type MigrationStage = 'choosing' | 'claimed' | 'recorded' | 'incoming' | 'transfer' | 'stopping' | 'booting' | 'arrived' | 'failed';

export interface MigrationProgress {
  readonly uuid: string;
  readonly stage: MigrationStage;
  readonly fromHost: string;
  readonly toHost?: string;
  readonly message: string;
}

export interface MigrateContext extends StepContext {
  /** The scheduler's current inventory (hosts, free resources, where each domain is). */
  inventory(): Promise<Inventory>;
  readonly claims: MigrationClaims;
  readonly scheduler?: SchedulerConfig;
  /**
   * The TCP port the destination listens on for the domain's state. libvirt
   * takes one from migration_port_min..max (49152–49215) on the destination:
   * the default draws from that range.
   */
  migrationPort?(toHost: string): number | Promise<number>;
  /** Per command and per wait for the log (120 s: a live migration copies all guest memory). */
  readonly timeoutMs?: number;
  /** Cold migration: how long the guest may take to power off before it is destroyed (30 s). */
  readonly shutdownGraceMs?: number;
  /** Hosts tried when a claim loses a race with another scheduler (3). */
  readonly maxAttempts?: number;
  readonly random?: () => number;
  progress?(p: MigrationProgress): void;
}

export interface MigrateArgs {
  readonly uuid: string;
  /** The destination; without it the placement chooses, never the source. */
  readonly toHost?: string;
  readonly live: boolean;
  /** The job's id: every event and command of the migration carries it. */
  readonly correlationId?: string;
  readonly hints?: SchedulerHints;
}

export interface MigrateResult {
  readonly uuid: string;
  readonly fromHost: string;
  readonly toHost: string;
  readonly live: boolean;
  /** The placement's one line about the choice. */
  readonly summary: string;
}

/** Reports a stage of one move (MigrateContext.progress, with its domain and source filled in). */
export type Say = (stage: MigrationStage, message: string, toHost?: string) => void;
