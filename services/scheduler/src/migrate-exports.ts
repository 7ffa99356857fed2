/** Migration, evacuation and drain (issue 7): what the scheduler service and the CLI call, in one place for index.ts. */
export { migrate } from './migrate.ts';
export { bootOn } from './migrate-cold.ts';
export type { MigrateContext, MigrateArgs, MigrateResult, MigrationClaims, ClaimAnswer, MigrationProgress, MigrationStage } from './migrate-types.ts';
export { evacuate, restartElsewhere, type EvacuateOptions, type EvacuateResult } from './evacuate.ts';
export { drain, undrain, setDrained } from './drain.ts';
export { chooseTarget, type TargetChoice } from './migrate-target.ts';
export { type StepContext } from './migrate-steps.ts';
