/**
 * The parser's Prometheus metrics (prom-client, through @virtflow/runtime),
 * one registry per service so several parsers in one process (tests) keep
 * their own counts:
 *
 *   virtflow_parser_jobs_total{queue,outcome}   jobs finished by this process: completed, failed, retried, error, progress-lost
 *   virtflow_parser_job_seconds{queue}          histogram: time a job spent in this process's worker, per stage queue
 *   virtflow_parser_queue_jobs{queue,state}     jobs in each BullMQ state, read from Redis when scraped
 *   virtflow_parser_events_appended_total{type} events this process appended to the event store
 *   process_* / nodejs_*                        prom-client's default process metrics
 */
import { Counter, Gauge, Histogram, MetricsRegistry, collectDefaultMetrics } from '@virtflow/runtime';

/** Something that counts a queue's jobs by state (a BullMQ Queue). */
export interface CountsByState {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

const STATES = ['waiting', 'active', 'delayed', 'waiting-children', 'prioritized', 'completed', 'failed', 'paused'] as const;

export class Metrics {
  readonly registry = new MetricsRegistry();
  readonly jobs = new Counter({ name: 'virtflow_parser_jobs_total', help: 'Jobs finished by this process, by queue and outcome.', labelNames: ['queue', 'outcome'] as const, registers: [this.registry] });
  readonly seconds = new Histogram({
    name: 'virtflow_parser_job_seconds', help: "Time a job spent in this process's worker, by stage queue.", labelNames: ['queue'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly appended = new Counter({ name: 'virtflow_parser_events_appended_total', help: 'Events this process appended to the event store, by type.', labelNames: ['type'] as const, registers: [this.registry] });
  readonly #queues: CountsByState[] = [];
  // A plain object, not a Map: the counts are read back by tests through get().
  readonly #counts: Record<string, number> = {};

  constructor(opts: { readonly defaultMetrics?: boolean } = {}) {
    const queues = this.#queues;
    new Gauge({
      name: 'virtflow_parser_queue_jobs', help: 'Jobs in each BullMQ state, by queue (read from Redis at scrape time).', labelNames: ['queue', 'state'] as const, registers: [this.registry],
      async collect() {
        this.reset();
        await Promise.all(queues.map(async (q) => {
          const counts = await q.getJobCounts(...STATES).catch(() => undefined);
          for (const s of STATES) if (counts) this.set({ queue: q.name, state: s }, counts[s] ?? 0);
        }));
      },
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Queues whose jobs by state the scrape reports. */
  watch(...queues: CountsByState[]): void {
    for (const q of queues) if (!this.#queues.some((w) => w.name === q.name)) this.#queues.push(q);
  }

  count(queue: string, outcome: string): void {
    this.jobs.inc({ queue, outcome });
    const k = `${queue}\u0000${outcome}`;
    this.#counts[k] = (this.#counts[k] ?? 0) + 1;
  }

  observe(queue: string, ms: number): void {
    this.seconds.observe({ queue }, ms / 1000);
  }

  eventAppended(type: string, n = 1): void {
    this.appended.inc({ type }, n);
  }

  get(queue: string, outcome: string): number {
    return this.#counts[`${queue}\u0000${outcome}`] ?? 0;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
