/**
 * @virtflow/scheduler — inventory, placement, claims, host failure handling
 * and migration (issue 7). The service wires the model's placement to the
 * event store, the agents' commands and the `virtflow.schedule` queue.
 */
export {
  claim, release, heldClaims, claimsContext, claimsPort,
  type ClaimsContext, type ClaimsOptions, type ClaimDomain, type ClaimResult, type ReleaseResult, type ReleaseOptions, type CachedHost, type Ids,
} from './claims.ts';
export { LiveInventory, type LiveInventoryOptions, type StopSeen } from './inventory.ts';
export { startDomain, noHostFits, type StartContext, type StartArgs, type StartResult, type StartAttempt, type AttemptOutcome } from './start.ts';
export { routeOperation, isRoutedOp, ROUTED_OPS, type RoutedOp, type RoutedResult, type RouteContext } from './lifecycle.ts';
export { SchedulerMetrics } from './metrics.ts';
export { DEFAULT_OPERATIONS, migrateHandler, evacuateHandler, type OperationHandler, type OperationJob } from './moves.ts';
export { startScheduler, DEFAULT_SCHEDULER_CONFIG, type SchedulerOptions, type SchedulerService, type Logger, type LogLevel } from './service.ts';
export { userFailure } from './wire.ts';
export { Membership, serviceRestart, type MembershipOptions, type MembershipRecord, type RestartFn, type RestartRequest } from './membership.ts';
export { ClusterView } from './membership-view.ts';
export { loadMembershipConfig, type MembershipSettings } from './membership-config.ts';
export * from './migrate-exports.ts';
