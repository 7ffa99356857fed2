/**
 * `virtflow up` as a user runs it: it starts redis-server, nats-server, the
 * parser, the scheduler (where present) and three agents as children,
 * defines (and starts) the example domains and prints their events; SIGINT
 * stops every child it started and it exits 0, leaving no process behind.
 */
import assert from 'node:assert/strict';
import { readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO, TIMEOUT, hasScheduler, killAll, spawnVirtflow } from './support.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('virtflow up', { timeout: 10 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtflow-up-'));
  const pids: number[] = [];
  after(async () => {
    await killAll();
    // Whatever happened, no child of `up` outlives the test.
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('brings up a cluster, runs the examples, streams their events and stops cleanly on SIGINT', async () => {
    const examples = readdirSync(join(REPO, 'examples')).filter((f) => f.endsWith('.xml')).length;
    const up = spawnVirtflow(undefined, ['up', '--dir', dir, '--redis-port', '0', '--nats-port', '0', '--no-qemu'], { env: {} });
    let out = '';
    up.stdout!.on('data', (d) => (out += d));
    up.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => up.once('exit', (code) => r(code)));
    const until = async (what: string, f: () => boolean, ms = TIMEOUT * 2) => {
      const deadline = Date.now() + ms;
      while (!f()) {
        if (up.exitCode !== null) assert.fail(`up exited (${up.exitCode}) before ${what}:\n${out}`);
        if (Date.now() > deadline) assert.fail(`no ${what} within ${ms} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await until('the cluster', () => out.includes('cluster up: export VIRTFLOW_REDIS_URL='));
    for (const m of out.matchAll(/started (\S+) \(pid (\d+),/g)) pids.push(Number(m[2]));
    const names = [...out.matchAll(/started (\S+) \(pid/g)].map((m) => m[1]);
    assert.deepEqual(names.sort(), ['agent-node1', 'agent-node2', 'agent-node3', 'nats', 'parser', 'redis', ...(hasScheduler() ? ['scheduler'] : [])].sort());
    // Every example defined; with a scheduler, every example that can start on a test host started.
    await until('the examples defined', () => (out.match(/: Defined Added/g) ?? []).length >= examples);
    if (hasScheduler()) await until('an example started', () => /event 'lifecycle' for domain '[^']+': Started Booted on 'node\d'/.test(out));
    assert.ok(pids.every(alive), 'its children run while it does');

    up.kill('SIGINT');
    assert.equal(await exited, 0, out);
    assert.match(out, /SIGINT: stopping\n[\s\S]*stopped\n$/);
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(pids.filter(alive), [], 'no child left running');
  });
});
