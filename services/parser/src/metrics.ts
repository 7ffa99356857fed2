/** Counters and timings per queue, written in Prometheus' text format. */
export class Metrics {
  readonly #counts = new Map<string, number>();
  readonly #time = new Map<string, { sum: number; n: number }>();

  count(queue: string, outcome: string): void {
    const k = `${queue}\u0000${outcome}`;
    this.#counts.set(k, (this.#counts.get(k) ?? 0) + 1);
  }

  observe(queue: string, ms: number): void {
    const t = this.#time.get(queue) ?? { sum: 0, n: 0 };
    t.sum += ms / 1000;
    t.n++;
    this.#time.set(queue, t);
  }

  get(queue: string, outcome: string): number {
    return this.#counts.get(`${queue}\u0000${outcome}`) ?? 0;
  }

  text(): string {
    const lines = ['# HELP virtflow_parser_jobs_total Jobs by queue and outcome.', '# TYPE virtflow_parser_jobs_total counter'];
    for (const [k, v] of this.#counts) {
      const [queue, outcome] = k.split('\u0000');
      lines.push(`virtflow_parser_jobs_total{queue="${queue}",outcome="${outcome}"} ${v}`);
    }
    lines.push('# HELP virtflow_parser_job_seconds Time spent in a worker per queue.', '# TYPE virtflow_parser_job_seconds summary');
    for (const [q, t] of this.#time) {
      lines.push(`virtflow_parser_job_seconds_sum{queue="${q}"} ${t.sum}`, `virtflow_parser_job_seconds_count{queue="${q}"} ${t.n}`);
    }
    return lines.join('\n') + '\n';
  }
}
