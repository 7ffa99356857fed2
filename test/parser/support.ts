/** A parser service in this process over the harness's Redis and NATS, and a client for it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { bookwormQemuCaps, defaultRegistry, type DriverRegistry } from '@virtflow/model';
import { EventStore, connectNats } from '@virtflow/runtime';
import { ParserClient, startParser, type ParserService } from '@virtflow/parser';
import { startServers, type Servers } from '../harness/index.ts';
import { children } from '../support/children.ts';

export interface Rig {
  readonly servers: Servers;
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly registry: DriverRegistry;
  readonly parser: ParserService;
  readonly client: ParserClient;
  stop(): Promise<void>;
}

export async function startRig(opts: { readonly attempts?: number; readonly backoffMs?: number; readonly concurrency?: number; readonly eventProvenance?: boolean } = {}): Promise<Rig> {
  const servers = await startServers();
  const nc = await connectNats(servers.natsUrl);
  const store = await EventStore.open(nc);
  const registry = defaultRegistry();
  const parser = await startParser({ redisUrl: servers.redisUrl, store, caps: bookwormQemuCaps, registry, concurrency: opts.concurrency ?? 32, attempts: opts.attempts ?? 3, backoffMs: opts.backoffMs ?? 50, ...(opts.eventProvenance ? { eventProvenance: true } : {}) });
  const client = new ParserClient(servers.redisUrl, { attempts: opts.attempts ?? 3, backoffMs: opts.backoffMs ?? 50 });
  await client.ready();
  return {
    servers, nc, store, registry, parser, client,
    async stop() {
      await client.close();
      await parser.close();
      await store.close();
      await nc.close();
      await servers.stop();
    },
  };
}

/** Count of DomainDefined messages per domain uuid, read from the stream's subject index. */
export async function definedCounts(store: EventStore): Promise<Map<string, number>> {
  const info = await store.jsm.streams.info(store.stream, { subjects_filter: 'virt.evt.domain.*.DomainDefined' });
  const out = new Map<string, number>();
  for (const [subject, n] of Object.entries(info.state.subjects ?? {})) out.set(subject.split('.')[3]!, n);
  return out;
}

const MEM = ['128', '256', '512'];
/** A valid define payload for one of four drivers. */
export function validXml(i: number): string {
  const name = `vm-${i}`;
  const mem = MEM[i % 3]!;
  switch (i % 4) {
    case 0:
      return `<domain type='kvm'><name>${name}</name><memory unit='MiB'>${mem}</memory><vcpu>2</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices><disk type='file' device='disk'><source file='/var/lib/img/${name}.qcow2'/><target dev='vda' bus='virtio'/></disk><interface type='network'><source network='default'/></interface></devices></domain>`;
    case 1:
      return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>${mem}</memory><os><type arch='x86_64'>hvm</type></os><devices><interface type='user'/></devices></domain>`;
    case 2:
      return `<domain type='lxc'><name>${name}</name><memory unit='MiB'>${mem}</memory><os><type>exe</type><init>/bin/sh</init></os>
<devices><filesystem type='mount'><source dir='/srv/ct/${name}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>`;
    default:
      return `<domain type='test'><name>${name}</name><memory unit='MiB'>${mem}</memory><os><type arch='i686'>hvm</type></os></domain>`;
  }
}

/** Invalid submissions, each with the error path it must fail with. */
export function invalidJob(i: number): { payload: Record<string, unknown>; path: string; code: string } {
  const name = `bad-${i}`;
  const kvm = (devices: string, machine = 'q35') => `<domain type='kvm'><name>${name}</name><memory unit='MiB'>256</memory><os><type arch='x86_64' machine='${machine}'>hvm</type></os><devices>${devices}</devices></domain>`;
  switch (i % 6) {
    case 0:
      return { payload: { op: 'define' }, path: '/xml', code: 'INVALID_ARG' };
    case 1:
      return { payload: { op: 'define', xml: `<domain type='kvm'><name>${name}</name>` }, path: '/ (line 1, column 1)', code: 'XML_DETAIL' };
    case 2:
      return { payload: { op: 'define', xml: `<domain type='vbox'><name>${name}</name><memory>1024</memory><os><type>hvm</type></os></domain>` }, path: '/domain/@type', code: 'NO_SUPPORT' };
    case 3:
      return { payload: { op: 'define', xml: kvm("<disk type='file' device='disk'><source file='/a.img'/></disk>") }, path: '/domain/devices/disk[1]/target', code: 'NO_TARGET' };
    case 4:
      // Rejected by the QEMU driver's post-parse, on its own queue.
      return { payload: { op: 'define', xml: kvm('', 'nope-9') }, path: '/domain/devices/controller[1]', code: 'XML_ERROR' };
    default:
      return { payload: { op: 'define', xml: `<domain type='test'><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>` }, path: '/domain/name', code: 'NO_NAME' };
  }
}

const MAIN = fileURLToPath(new URL('../../services/parser/src/main.ts', import.meta.url));

export interface ParserProcess { readonly child: ChildProcess; readonly http: string; readonly exited: Promise<number | null> }

/** Every parser process a test started: `killAll()` in an after() hook leaves none running, whatever failed. */
const spawned = children();

export const killAll = (): Promise<void> => spawned.killAll();

/**
 * services/parser/src/main.ts as its own process on the harness's servers; resolves once it is ready.
 * Locks live 5 s (renewed every 2.5 s, so a busy event loop on a loaded machine does not lose them)
 * and the stalled check runs every second: a killed process's jobs go back to work within ~6 s.
 */
export async function spawnParser(servers: Servers, env: Readonly<Record<string, string>> = {}, readyMs = 180_000): Promise<ParserProcess> {
  // VIRTFLOW_PARSER_NODE_ARGS: extra node flags for the child while developing (e.g. --cpu-prof).
  const nodeArgs = (process.env.VIRTFLOW_PARSER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', MAIN, '--stages', 'all'], {
    env: {
      ...process.env, VIRTFLOW_REDIS_URL: servers.redisUrl, VIRTFLOW_NATS_URL: servers.natsUrl, VIRTFLOW_HTTP_PORT: '0',
      VIRTFLOW_LOCK_MS: '5000', VIRTFLOW_STALLED_MS: '1000', VIRTFLOW_BACKOFF_MS: '50', VIRTFLOW_CONCURRENCY: '16', ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  spawned.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (spawned.delete(child), resolve(code))));
  const lines = createInterface({ input: child.stdout! });
  const log: string[] = [];
  const http = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`parser not ready within ${readyMs} ms: ${log.slice(-5).join(' | ')}`))), readyMs);
    lines.on('line', (l) => {
      log.push(l);
      if (log.length > 50) log.shift();
      try {
        const m = JSON.parse(l) as { msg?: string; http?: string };
        if (m.msg === 'virtflow-parser ready') (clearTimeout(timer), resolve(m.http!));
      } catch {
        // not a log line
      }
    });
    void exited.then((c) => (clearTimeout(timer), reject(new Error(`parser exited with ${c} before it was ready: ${log.slice(-5).join(' | ')}`))));
  });
  return { child, http, exited };
}

/**
 * Waits until `done()` reaches `target`, failing only when it has not moved for `stallMs`:
 * a loaded machine is slow, a stuck pipeline does not move at all.
 */
export async function untilDone(done: () => Promise<number>, target: number, opts: { readonly stallMs?: number; readonly what?: () => Promise<string> } = {}): Promise<void> {
  const stallMs = opts.stallMs ?? 90_000;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = await done();
    if (n >= target) return;
    if (n !== last) (last = n), (since = Date.now());
    else if (Date.now() - since > stallMs) throw new Error(`no progress for ${stallMs} ms at ${n}/${target}${opts.what ? `: ${await opts.what()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
