/** @virtflow/parser — job intake and the post-parse pipeline stages as BullMQ workers. */
export { startParser, stageNames, redisConnection, type ParserOptions, type ParserService, type StageName } from './service.ts';
export { ParserClient, type DeadEntry, type Outcome } from './client.ts';
export { jobError, packProvenance, unpackProvenance, type Enriched, type IntakeData, type PackedProvenance, type StageData, type StageResult } from './wire.ts';
export { Metrics, type CountsByState } from './metrics.ts';
export { PolicyLoader, importStages, type PolicyLoaderOptions } from './policy.ts';
