/**
 * The scheduler's Prometheus metrics (prom-client through @virtflow/runtime),
 * one registry per service so several schedulers in one process (tests)
 * keep their own counts:
 *
 *   virtflow_scheduler_jobs_total{op,outcome}       jobs finished: completed, failed, retried
 *   virtflow_scheduler_job_seconds{op}              histogram: time a job spent in this process
 *   virtflow_scheduler_placements_total{outcome}    placement decisions: placed, no-host
 *   virtflow_scheduler_claims_total{outcome}        claims on hosts: taken, lost (the host no longer fit), released
 *   virtflow_scheduler_start_attempts_total{outcome} start attempts on hosts: started, failed
 *   virtflow_scheduler_inventory_seq                the event stream sequence the inventory has read
 *   virtflow_scheduler_hosts{status}                hosts by status (up, down, drained, maintenance, unregistered)
 *   process_* / nodejs_*                            prom-client's default process metrics
 */
import { Counter, Gauge, Histogram, MetricsRegistry, collectDefaultMetrics } from '@virtflow/runtime';
import type { HostStatus, Inventory } from '@virtflow/model';

const STATUSES: readonly HostStatus[] = ['up', 'down', 'drained', 'maintenance', 'unregistered'];

export class SchedulerMetrics {
  readonly registry = new MetricsRegistry();
  readonly jobs = new Counter({ name: 'virtflow_scheduler_jobs_total', help: 'Schedule jobs finished by this process, by operation and outcome.', labelNames: ['op', 'outcome'] as const, registers: [this.registry] });
  readonly seconds = new Histogram({
    name: 'virtflow_scheduler_job_seconds', help: 'Time a schedule job spent in this process, by operation.', labelNames: ['op'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry],
  });
  readonly placements = new Counter({ name: 'virtflow_scheduler_placements_total', help: 'Placement decisions, by outcome.', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly claims = new Counter({ name: 'virtflow_scheduler_claims_total', help: 'Claims on hosts, by outcome.', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly starts = new Counter({ name: 'virtflow_scheduler_start_attempts_total', help: 'Start attempts on hosts, by outcome.', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly #sources: { inventory?: () => Inventory; seq?: () => number } = {};

  constructor(opts: { readonly defaultMetrics?: boolean } = {}) {
    const sources = this.#sources;
    new Gauge({
      name: 'virtflow_scheduler_inventory_seq', help: 'The event stream sequence the inventory has read.', registers: [this.registry],
      collect() {
        if (sources.seq) this.set(sources.seq());
      },
    });
    new Gauge({
      name: 'virtflow_scheduler_hosts', help: 'Hosts by status, as the inventory sees them.', labelNames: ['status'] as const, registers: [this.registry],
      collect() {
        if (!sources.inventory) return;
        const counts = new Map<string, number>(STATUSES.map((s) => [s, 0]));
        for (const h of sources.inventory().hosts.values()) counts.set(h.status, (counts.get(h.status) ?? 0) + 1);
        for (const [status, n] of counts) this.set({ status }, n);
      },
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Where the gauges read from at scrape time. */
  watch(inventory: () => Inventory, seq: () => number): void {
    this.#sources.inventory = inventory;
    this.#sources.seq = seq;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
