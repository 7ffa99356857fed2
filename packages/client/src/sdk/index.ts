/** The virtflow SDK: `connect()` and what its client returns. */
export { connect, VirtflowClient, type ConnectOptions, type OpResult } from './client.ts';
export type { NatsUserOption, SecurityOptions } from './security.ts';
export { JobQueues, jobError, type DeadJob, type Progress, type RunOptions, type JobSummary } from './jobs.ts';
export { Domains, type DomainInfo, type ListFilter } from './domains.ts';
export { Hosts, type HostInfo } from './hosts.ts';
export { Subscription, type SubscribeOptions, type ClientEvent } from './events.ts';
