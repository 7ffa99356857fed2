/**
 * The SDK's entry point:
 *
 *   const vf = await connect({ redis: 'redis://127.0.0.1:6379', nats: 'nats://127.0.0.1:4222' });
 *   const { uuid } = await vf.define(xml);
 *   await vf.start('web', { onProgress: (p) => console.log(p.progress) });
 *   for await (const { event } of vf.events.subscribe({ domain: 'web', name: 'my-app' })) ...
 *   await vf.close();
 *
 * Writes are jobs (jobs.ts): each resolves with the job's result or rejects
 * with its VirtError. Reads come from the event store (domains.ts, hosts.ts).
 */
import { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import { VirtError, type JobResult, type SchedulerHints } from '@virtflow/model';
import { EventStore, connectNats, loadConfig, type NatsOptions } from '@virtflow/runtime';
import { Domains } from './domains.ts';
import { Hosts } from './hosts.ts';
import { JobQueues, type RunOptions } from './jobs.ts';
import { subscribe, type SubscribeOptions, type Subscription } from './events.ts';
import { connectFailure, connectionSecurity, redactUrl, withSecurityOptions, type ConnectionSecurity, type SecurityOptions } from './security.ts';

/**
 * Where the cluster is and who the client is there. Security settings are the
 * services' (packages/runtime/src/security/README.md), read from `env` like
 * the URLs; `natsUser`, `natsTls` and `redisTls` given here replace the
 * variables they stand for, and a bad one is reported naming that variable.
 */
export interface ConnectOptions extends SecurityOptions {
  /** Redis URL (default VIRTFLOW_REDIS_URL, then redis://127.0.0.1:6379); `rediss://user:password@host:port` for TLS and an ACL user. */
  readonly redis?: string;
  /** NATS URL or URLs (default VIRTFLOW_NATS_URL, then nats://127.0.0.1:4222). */
  readonly nats?: string | readonly string[];
  /** BullMQ key prefix (default VIRTFLOW_QUEUE_PREFIX, then bull). */
  readonly prefix?: string;
  /** How long a job may take before its call rejects with OPERATION_TIMEOUT (120 s). */
  readonly timeoutMs?: number;
  /** How long to try reaching each server before giving up (10 s). */
  readonly connectTimeoutMs?: number;
  /** The environment the defaults are read from (process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A lifecycle or device job's result, as its service returns it. */
export type OpResult = Readonly<Record<string, unknown>>;

async function redisUp(url: string, timeoutMs: number, sec: ConnectionSecurity): Promise<Redis[]> {
  let lastError: Error | undefined;
  let up = false;
  const make = () => {
    const c = new Redis(url, {
      ...sec.redis, maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: timeoutMs,
      // No reconnecting until the first connect worked: a refused one (a wrong CA, say) is reported, and a reconnect
      // still in its TLS handshake when we give up would raise the server's alert on a socket nobody listens to.
      retryStrategy: (times) => (up ? Math.min(times * 50, 2_000) : null),
    });
    // ioredis prints an unhandled 'error' event to stderr; the first failure is reported once, below, instead.
    c.on('error', (e: Error) => (lastError ??= e));
    return c;
  };
  const conns = [make(), make(), make()];
  try {
    await Promise.race([
      Promise.all(conns.map((c) => c.connect())),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    up = true;
    return conns;
  } catch (e) {
    for (const c of conns) {
      // A socket given up on may still hear from the server (a TLS alert): heard, not thrown.
      (c as unknown as { stream?: NodeJS.EventEmitter }).stream?.on('error', () => undefined);
      c.disconnect();
    }
    throw connectFailure('Redis', redactUrl(url), lastError ?? (e as Error), sec.config);
  }
}

async function natsUp(urls: string[], timeoutMs: number, sec: ConnectionSecurity, replicas: number): Promise<NatsConnection> {
  try {
    // The first connect fails after `timeout` (reconnecting forever applies once connected): a wrong URL must fail, not hang.
    const opts: NatsOptions = { ...sec.nats, timeout: timeoutMs, replicas };
    return await connectNats(urls, opts);
  } catch (e) {
    throw connectFailure('NATS', urls.join(','), e as Error, sec.config);
  }
}

export async function connect(opts: ConnectOptions = {}): Promise<VirtflowClient> {
  const env = withSecurityOptions({ ...(opts.env ?? process.env) }, opts);
  if (opts.redis !== undefined) env.VIRTFLOW_REDIS_URL = opts.redis;
  if (opts.nats !== undefined) env.VIRTFLOW_NATS_URL = typeof opts.nats === 'string' ? opts.nats : opts.nats.join(',');
  if (opts.prefix !== undefined) env.VIRTFLOW_QUEUE_PREFIX = opts.prefix;
  let config;
  try {
    config = loadConfig(env);
  } catch (e) {
    throw new VirtError('INVALID_ARG', (e as Error).message, (e as { variable?: string }).variable);
  }
  const sec = connectionSecurity(env);
  const connectMs = opts.connectTimeoutMs ?? 10_000;
  const [r, n] = await Promise.allSettled([redisUp(config.redisUrl, connectMs, sec), natsUp([...config.natsUrl], connectMs, sec, config.natsReplicas)]);
  if (r.status === 'rejected' || n.status === 'rejected') {
    // Whichever side did connect is closed again: an open connection would keep the process alive.
    if (r.status === 'fulfilled') for (const c of r.value) c.disconnect();
    if (n.status === 'fulfilled') await n.value.close().catch(() => undefined);
    throw r.status === 'rejected' ? r.reason : (n as PromiseRejectedResult).reason;
  }
  const [conns, nc] = [r.value, n.value];
  let jobs: JobQueues | undefined;
  try {
    // A client reads: snapshots are the services' to write (the `client` NATS role may not), and they keep them fresh.
    const store = await EventStore.open(nc, { onPoison: () => undefined, snapshotEvery: 0 });
    // Jobs carry the Redis user as their client id, as ParserClient's do: the parser's per-client rate limit counts them.
    const clientId = decodeURIComponent(new URL(config.redisUrl).username) || undefined;
    jobs = new JobQueues(conns[0]!, { jobs: conns[1]!, schedule: conns[2]! }, { prefix: config.queuePrefix, timeoutMs: opts.timeoutMs ?? 120_000, ...(clientId ? { clientId } : {}) });
    await jobs.ready();
    return new VirtflowClient(store, jobs, conns);
  } catch (e) {
    // Refused after connecting (a NATS permission, a Redis ACL): nothing may stay open, or the process never exits.
    await jobs?.close().catch(() => undefined);
    for (const c of conns) c.disconnect();
    await nc.close().catch(() => undefined);
    throw e;
  }
}

export class VirtflowClient {
  readonly store: EventStore;
  readonly jobs: JobQueues;
  readonly domains: Domains;
  readonly hosts: Hosts;
  readonly events: { subscribe(o?: SubscribeOptions): Promise<Subscription> };
  readonly #conns: readonly Redis[];

  constructor(store: EventStore, jobs: JobQueues, conns: readonly Redis[]) {
    this.store = store;
    this.jobs = jobs;
    this.#conns = conns;
    this.domains = new Domains(store);
    this.hosts = new Hosts(store);
    this.events = {
      subscribe: async (o = {}) => subscribe(store, { ...o, ...(o.domain !== undefined ? { uuid: await this.domains.resolve(o.domain) } : {}) }),
    };
  }

  // ------------------------------------------------------------ definitions

  /** Defines (or redefines, for a uuid that exists) a domain from its XML. */
  define(xml: string, opts?: RunOptions): Promise<JobResult> {
    if (typeof xml !== 'string') return Promise.reject(new VirtError('INVALID_ARG', 'the domain XML must be a string', '/xml'));
    return this.jobs.run<JobResult>({ op: 'define', xml }, opts);
  }

  async undefine(domain: string, opts?: RunOptions): Promise<OpResult> {
    return this.jobs.run<OpResult>({ op: 'undefine', uuid: await this.domains.resolve(domain) }, opts);
  }

  async attachDevice(domain: string, xml: string, opts?: RunOptions): Promise<JobResult> {
    return this.jobs.run<JobResult>({ op: 'attach-device', uuid: await this.domains.resolve(domain), xml }, opts);
  }

  async detachDevice(domain: string, xml: string, opts?: RunOptions): Promise<JobResult> {
    return this.jobs.run<JobResult>({ op: 'detach-device', uuid: await this.domains.resolve(domain), xml }, opts);
  }

  // -------------------------------------------------------------- lifecycle

  /** Starts a domain on a host the scheduler picks; `schedulerHints` steer it (preferred host, labels, group). */
  async start(domain: string, opts?: RunOptions & { readonly schedulerHints?: SchedulerHints }): Promise<OpResult> {
    const uuid = await this.domains.resolve(domain);
    return this.jobs.run<OpResult>({ op: 'start', uuid, ...(opts?.schedulerHints ? { schedulerHints: opts.schedulerHints } : {}) }, opts);
  }
  shutdown(domain: string, opts?: RunOptions): Promise<OpResult> {
    return this.#lifecycle('shutdown', domain, opts);
  }
  destroy(domain: string, opts?: RunOptions): Promise<OpResult> {
    return this.#lifecycle('destroy', domain, opts);
  }
  reboot(domain: string, opts?: RunOptions): Promise<OpResult> {
    return this.#lifecycle('reboot', domain, opts);
  }
  suspend(domain: string, opts?: RunOptions): Promise<OpResult> {
    return this.#lifecycle('suspend', domain, opts);
  }
  resume(domain: string, opts?: RunOptions): Promise<OpResult> {
    return this.#lifecycle('resume', domain, opts);
  }

  /** Live-migrates a domain; without `toHost` the scheduler picks the host. */
  async migrate(domain: string, toHost?: string, opts?: RunOptions & { readonly live?: boolean; readonly schedulerHints?: SchedulerHints }): Promise<OpResult> {
    const uuid = await this.domains.resolve(domain);
    return this.jobs.run<OpResult>({
      op: 'migrate', uuid, ...(toHost ? { toHost } : {}), ...(opts?.live !== undefined ? { live: opts.live } : {}),
      ...(opts?.schedulerHints ? { schedulerHints: opts.schedulerHints } : {}),
    }, opts);
  }

  /** Moves every domain off a host (and drains it). */
  evacuate(hostId: string, opts?: RunOptions): Promise<OpResult> {
    if (typeof hostId !== 'string' || hostId.trim() === '') return Promise.reject(new VirtError('INVALID_ARG', 'a host id is required', '/hostId'));
    return this.jobs.run<OpResult>({ op: 'evacuate', hostId }, opts);
  }

  async #lifecycle(op: string, domain: string, opts?: RunOptions): Promise<OpResult> {
    return this.jobs.run<OpResult>({ op, uuid: await this.domains.resolve(domain) }, opts);
  }

  // ------------------------------------------------------------------ reads

  list(filter?: Parameters<Domains['list']>[0]): ReturnType<Domains['list']> {
    return this.domains.list(filter);
  }
  get(domain: string): ReturnType<Domains['get']> {
    return this.domains.get(domain);
  }
  dumpXML(domain: string, opts?: { readonly inactive?: boolean }): Promise<string> {
    return this.domains.dumpXML(domain, opts);
  }
  history(domain: string): ReturnType<Domains['history']> {
    return this.domains.history(domain);
  }
  diff(domain: string, v1: number, v2: number): ReturnType<Domains['diff']> {
    return this.domains.diff(domain, v1, v2);
  }
  capabilities(hostId: string): ReturnType<Hosts['capabilities']> {
    return this.hosts.capabilities(hostId);
  }

  async close(): Promise<void> {
    await this.jobs.close();
    for (const c of this.#conns) c.disconnect();
    await this.store.close();
    await this.store.nc.close();
  }
}
