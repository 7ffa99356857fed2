/** Migration, evacuation and drain (issue 7): what the scheduler service and the CLI call, in one place for index.ts. */
export { migrate, bootOn, type MigrateContext, type MigrateArgs, type MigrateResult, type MigrationClaims, type ClaimAnswer, type MigrationProgress, type MigrationStage } from './migrate.ts';
export { evacuate, restartElsewhere, type EvacuateOptions, type EvacuateResult } from './evacuate.ts';
export { drain, undrain, setDrained } from './drain.ts';
export { chooseTarget, type TargetChoice } from './migrate-target.ts';
export { type StepContext } from './migrate-steps.ts';
