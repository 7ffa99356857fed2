/** The agent's Prometheus metrics (prom-client, through @virtflow/runtime). */
import { Counter, Gauge, Histogram, MetricsRegistry } from '@virtflow/runtime';

export class AgentMetrics {
  readonly registry = new MetricsRegistry();
  readonly commands = new Counter({ name: 'virtflow_agent_commands_total', help: 'Commands carried out, by type and outcome (completed, failed, duplicate).', labelNames: ['type', 'outcome'] as const, registers: [this.registry] });
  readonly seconds = new Histogram({ name: 'virtflow_agent_command_seconds', help: 'Time from taking a command to acking it, by type.', labelNames: ['type'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  readonly retries = new Counter({ name: 'virtflow_agent_command_retries_total', help: 'Commands handed back for redelivery after an infrastructure fault.', registers: [this.registry] });
  readonly lifecycle = new Counter({ name: 'virtflow_agent_lifecycle_changes_total', help: 'State changes the hypervisor reported on its own, by event and whether they were recorded.', labelNames: ['event', 'recorded'] as const, registers: [this.registry] });
  readonly inflight = new Gauge({ name: 'virtflow_agent_commands_inflight', help: 'Commands being carried out now.', registers: [this.registry] });
  readonly domains = new Gauge({ name: 'virtflow_agent_domains', help: 'Domains the hypervisor runs, at the last reconcile or heartbeat.', registers: [this.registry] });
  readonly unexpected = new Gauge({ name: 'virtflow_agent_unexpected_domains', help: 'Domains that run here although the event log says they should not (reported, never killed).', registers: [this.registry] });
  readonly diedWhileDown = new Counter({ name: 'virtflow_agent_died_while_down_total', help: 'Domains the log said ran here that were gone at reconcile.', registers: [this.registry] });
  readonly heartbeats = new Counter({ name: 'virtflow_agent_heartbeats_total', help: 'Heartbeats written, by outcome.', labelNames: ['outcome'] as const, registers: [this.registry] });

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
