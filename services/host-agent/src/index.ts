/**
 * @virtflow/host-agent — one per hypervisor node: commands in over NATS
 * (`virt.cmd.<hostId>`), a hypervisor (qemu | test), events out.
 */
export { Agent, type AgentOptions, type AgentStatus } from './agent.ts';
export { AgentMetrics } from './metrics.ts';
export { jsonLogger, silentLogger, type Logger, type LogLevel } from './log.ts';
export { resourcesOf } from './execute.ts';
export type { ReconcileReport } from './reconcile.ts';
export { TestHypervisor, createTestHypervisor, syntheticCapabilities, type TestHypervisorOptions, type TestOperation } from './hypervisor/test/index.ts';
export type { Hypervisor, HypervisorKind, LifecycleChange, RunningDomain, StartOptions, MigrationTarget } from './hypervisor/types.ts';
