/**
 * services/scheduler/src/main.ts as its own process: configuration from
 * VIRTFLOW_*, /healthz, /metrics, a start job carried out, SIGTERM drains and
 * exits 0; a wrong variable stops it at once, naming the variable.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { StartResult } from '@virtflow/scheduler';
import { MiB, define, outcome, schedule, startRig, type Rig } from './support.ts';

const MAIN = fileURLToPath(new URL('../../services/scheduler/src/main.ts', import.meta.url));
const spawned = new Set<ChildProcess>();

interface Proc { readonly child: ChildProcess; readonly lines: string[]; readonly exited: Promise<number | null> }

function run(env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { env: { ...process.env, VIRTFLOW_HTTP_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  spawned.add(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => (spawned.delete(child), r(code))));
  return { child, lines, exited };
}

async function ready(p: Proc, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const l of p.lines) {
      try {
        const m = JSON.parse(l) as { msg?: string; http?: string };
        if (m.msg === 'virtflow-scheduler ready') return m.http!;
      } catch {
        // not a log line
      }
    }
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`scheduler not ready: ${p.lines.slice(-5).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the scheduler process (main.ts)', { timeout: 180_000 }, () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ hosts: [{ hostId: 'node-p', memoryKiB: 4 * 1024 * MiB, cpus: 4 }], schedulers: 0 });
  });
  after(async () => {
    for (const c of spawned) c.kill('SIGKILL');
    await rig?.stop();
  });

  it('serves /healthz and /metrics, carries out a start job, and drains on SIGTERM', async () => {
    const p = run({ VIRTFLOW_REDIS_URL: rig.servers.redisUrl, VIRTFLOW_NATS_URL: rig.servers.natsUrl, VIRTFLOW_RESERVED_HOST_MEMORY_KIB: '0' });
    const http = await ready(p);
    const health = await fetch(`${http}/healthz`);
    assert.equal(health.status, 200);
    const h = (await health.json()) as { ok: boolean; hosts: number };
    assert.deepEqual([h.ok, h.hosts], [true, 1]);
    const uuid = await define(rig.store, 'proc-1', 256 * MiB);
    const o = await outcome(rig, await schedule(rig, { op: 'start', uuid }));
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
    assert.equal((o as { value: StartResult }).value.hostId, 'node-p');
    const metrics = await (await fetch(`${http}/metrics`)).text();
    assert.match(metrics, /virtflow_scheduler_jobs_total\{op="start",outcome="completed"\} 1/);
    assert.match(metrics, /virtflow_scheduler_claims_total\{outcome="taken"\} 1/);
    assert.match(metrics, /virtflow_scheduler_hosts\{status="up"\} 1/);
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);
    assert.ok(p.lines.some((l) => l.includes('virtflow-scheduler stopped')), p.lines.slice(-3).join(' | '));
  });

  it('a wrong variable stops it at once, naming the variable', async () => {
    const p = run({ VIRTFLOW_REDIS_URL: rig.servers.redisUrl, VIRTFLOW_NATS_URL: rig.servers.natsUrl, VIRTFLOW_RAM_ALLOCATION_RATIO: 'plenty' });
    assert.equal(await p.exited, 2);
    assert.ok(p.lines.some((l) => /VIRTFLOW_RAM_ALLOCATION_RATIO: 'plenty' is not a ratio/.test(l)), p.lines.join(' | '));
  });
});
