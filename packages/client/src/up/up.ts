/**
 * `virtflow up`: a whole cluster on one machine. redis-server and nats-server
 * from PATH with their data in ./.virtflow (or the servers VIRTFLOW_REDIS_URL
 * / VIRTFLOW_NATS_URL point at), the parser, the scheduler (when this checkout
 * has one), three host agents on the test hypervisor and one on QEMU where
 * qemu-system-x86_64 is installed; then it defines and starts examples/ and
 * prints the cluster's events until stopped; `stop()` ends the children in
 * reverse order, the servers last. Services' JSON logs go to <dir>/logs.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, type Child } from './children.ts';
import { findBinary, startNats, startRedis, type StartedServer } from './servers.ts';

export interface UpOptions {
  /** Data and logs (./.virtflow). */
  readonly dir: string;
  /** Ports for the servers `up` starts (6379, 4222; 0 or taken: any free port). */
  readonly redisPort: number;
  readonly natsPort: number;
  /** Test-hypervisor agents (3). */
  readonly agents: number;
  /** Add a QEMU agent when qemu-system-x86_64 is installed. */
  readonly qemu: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly print: (line: string) => void;
}

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const SERVICE = {
  parser: join(REPO, 'services/parser/src/main.ts'),
  scheduler: join(REPO, 'services/scheduler/src/main.ts'),
  agent: join(REPO, 'services/host-agent/src/main.ts'),
} as const;

export function exampleFiles(): string[] {
  const dir = join(REPO, 'examples');
  return readdirSync(dir).filter((f) => f.endsWith('.xml')).sort().map((f) => join(dir, f));
}

/** The running cluster. */
export interface Cluster {
  readonly redisUrl: string;
  readonly natsUrl: string;
  readonly children: readonly Child[];
  readonly scheduler: boolean;
  /** Ends every child, newest first, the servers last; resolves when all have exited. */
  stop(): Promise<void>;
}

/** Services run from source through the tsx this process was started with. */
const tsx = (): string => import.meta.resolve('tsx');

/** A log's path as the user typed the folder: relative when it is under the current directory (.virtflow/logs/redis.log). */
function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : path;
}

export async function up(o: UpOptions): Promise<Cluster> {
  const dir = resolve(o.dir);
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const children: Child[] = [];
  let stopping: Promise<void> | undefined;
  const track = (c: Child): Child => {
    children.push(c);
    o.print(`started ${c.name} (pid ${c.pid}, log ${shown(c.log)})`);
    // A child that dies on its own is said at once; the rest keep running (a user may restart it by hand).
    void c.exited.then(({ code, signal }) => {
      if (!stopping) o.print(`${c.name} exited (${signal ?? `code ${code}`}); its log: ${shown(c.log)}`);
    });
    return c;
  };
  const stop = () => (stopping ??= (async () => {
    const servers = children.filter((c) => c.name === 'redis' || c.name === 'nats');
    await Promise.all(children.filter((c) => !servers.includes(c)).map((c) => c.stop()));
    for (const c of servers.reverse()) await c.stop();
  })());
  try {
    const server = async (name: string, variable: string, start: () => Promise<StartedServer>): Promise<string> => {
      const given = o.env[variable]?.trim();
      if (given) {
        o.print(`using the ${name} server at ${given} (${variable}); none started`);
        return given;
      }
      const { child, url, port, moved } = await start();
      if (moved) o.print(`${moved}: ${name} listens on ${port} instead`);
      track(child);
      return url;
    };
    const redisUrl = await server('redis', 'VIRTFLOW_REDIS_URL', () => startRedis(dir, o.redisPort, logs));
    const natsUrl = await server('nats', 'VIRTFLOW_NATS_URL', () => startNats(dir, o.natsPort, logs));
    const env: NodeJS.ProcessEnv = { ...o.env, VIRTFLOW_REDIS_URL: redisUrl, VIRTFLOW_NATS_URL: natsUrl, VIRTFLOW_HTTP_PORT: '0' };
    const service = (name: string, main: string, extra: NodeJS.ProcessEnv = {}, args: readonly string[] = []) =>
      track(startChild(name, process.execPath, ['--import', tsx(), main, ...args], { env: { ...env, ...extra }, log: join(logs, `${name}.log`), cwd: REPO }));

    const ready: Array<Promise<unknown>> = [];
    ready.push(service('parser', SERVICE.parser, {}, ['--stages', 'all']).waitFor(/virtflow-parser ready/, 180_000));
    const scheduler = existsSync(SERVICE.scheduler);
    if (scheduler) ready.push(service('scheduler', SERVICE.scheduler).waitFor(/virtflow-scheduler ready/, 180_000));
    else o.print('no scheduler in this checkout (services/scheduler/src/main.ts): domains are defined, not started');
    const agent = (hostId: string, hypervisor: 'test' | 'qemu') =>
      service(`agent-${hostId}`, SERVICE.agent, { VIRTFLOW_HOST_ID: hostId, VIRTFLOW_HYPERVISOR: hypervisor, VIRTFLOW_RUN_DIR: join(dir, 'run', hostId) })
        .waitFor(/virtflow-agent ready/, 180_000);
    for (let i = 1; i <= o.agents; i++) ready.push(agent(`node${i}`, 'test'));
    if (o.qemu && findBinary('qemu-system-x86_64')) ready.push(agent('qemu1', 'qemu'));
    await Promise.all(ready);
    return { redisUrl, natsUrl, children, scheduler, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
