/**
 * The hook between the schedule queue and MIGRATE's modules (migrate.ts,
 * evacuate.ts): a `migrate` or `evacuate` job becomes a call with a
 * MigrateContext built from the service's pieces (the live inventory, the
 * claims, the command watcher). The service takes any other handlers in
 * their place (SchedulerOptions.operations); without one an operation fails
 * with OPERATION_UNSUPPORTED.
 */
import { VirtError, type JobPayload } from '@virtflow/model';
import { migrate, type MigrateContext, type MigrationProgress } from './migrate.ts';
import { evacuate } from './evacuate.ts';
import { hintsOf } from './wire.ts';

/** What an operation handler is handed: the job's payload and id, a progress reporter, and the service's context. */
export interface OperationJob {
  readonly id: string;
  readonly payload: JobPayload;
  progress(p: unknown): Promise<void>;
}

export type OperationHandler = (job: OperationJob, ctx: MigrateContext) => Promise<unknown>;

/** Live unless the job says `live: false` (Nova's cold migration). */
export const migrateHandler: OperationHandler = async (job, ctx) => {
  if (job.payload.op !== 'migrate') throw new VirtError('INTERNAL_ERROR', `job ${job.id} is not a migrate job`, '/op');
  const p = job.payload;
  const hints = hintsOf(p);
  const progress = (m: MigrationProgress) => void job.progress(m).catch(() => undefined);
  return migrate({ ...ctx, progress }, { uuid: p.uuid, live: p.live !== false, correlationId: job.id, ...(p.toHost !== undefined ? { toHost: p.toHost } : {}), ...(hints ? { hints } : {}) });
};

export const evacuateHandler: OperationHandler = async (job, ctx) => {
  if (job.payload.op !== 'evacuate') throw new VirtError('INTERNAL_ERROR', `job ${job.id} is not an evacuate job`, '/op');
  const progress = (m: MigrationProgress) => void job.progress(m).catch(() => undefined);
  return evacuate({ ...ctx, progress }, job.payload.hostId, { correlationId: job.id });
};

export const DEFAULT_OPERATIONS: Readonly<Record<'migrate' | 'evacuate', OperationHandler>> = { migrate: migrateHandler, evacuate: evacuateHandler };
