/**
 * The HTTP side every service process has: /healthz (200 when healthy, 503
 * otherwise, with the service's JSON detail) and /metrics (Prometheus text).
 */
import { createServer } from 'node:http';

export interface HealthReport {
  readonly ok: boolean;
  readonly [detail: string]: unknown;
}

export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

export interface ServiceHttp {
  /** `http://host:port`, with the port the system chose when asked for 0. */
  readonly url: string;
  close(): void;
}

export async function serveHealthAndMetrics(host: string, port: number, health: () => HealthReport, metrics: MetricsSource): Promise<ServiceHttp> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      const report = health();
      res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(report));
    } else if (req.url === '/metrics') {
      metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e)),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return { url: `http://${host}:${bound}`, close: () => server.close() };
}
