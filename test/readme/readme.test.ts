/**
 * The README's Quick start, followed as a new user would: a fresh clone of the
 * repository's committed HEAD, the install line and `npx virtflow up` read
 * from the README's own ```sh block (so the README cannot drift from what
 * works), then "in another terminal" the commands its next sentence names,
 * with the `export …` line `up` printed; Ctrl-C at the end. It checks that
 * the example domains are defined and those the cluster's hosts can run are
 * running, that their lifecycle events show in `up` and in `virtflow event`,
 * that `up` started servers of its own even where another program has the
 * default ports (a system redis-server on 6379), and that nothing it started
 * outlives it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it, type TestContext } from 'node:test';
import {
  alive, descendants, exampleInfo, listensOn, newUserEnv, portFree, processesUnder, quickStart, runToEnd, sleep, terminal, within,
  type QuickStart, type Terminal,
} from './support.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const git = spawnSync('git', ['-C', REPO, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
const HEAD = git.status === 0 ? git.stdout.trim() : undefined;
/** Two cores shared with another suite: generous. */
const READY_MS = 180_000;
const COMMAND_MS = 90_000;

interface Example {
  readonly file: string;
  readonly name: string;
  /** The cluster's hosts (test hypervisor, QEMU) run hvm guests: `up` starts these, and leaves the others (the LXC container) shut off. */
  readonly runs: boolean;
}

describe('the README Quick start, followed in a fresh clone', {
  timeout: 8 * 60_000,
  skip: HEAD ? false : `${REPO} is not a git repository (or git is missing): there is nothing to clone`,
}, () => {
  const work = mkdtempSync(join(tmpdir(), 'virtflow-readme-'));
  const clone = join(work, 'virtflow');
  const env = newUserEnv();
  const terminals: Terminal[] = [];
  const seen = new Set<number>();
  let steps: QuickStart | undefined;
  let examples: Example[] = [];
  let installed = false;
  let up: Terminal | undefined;
  /** The `export …` line `up` printed, as a user pastes it into another terminal. */
  let exported: string | undefined;

  const elapsed = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const blocked = (t: TestContext, ready: unknown, what: string): boolean => {
    if (ready) return false;
    t.skip(`${what} did not happen (an earlier step failed)`);
    return true;
  };

  after(async () => {
    // Whatever failed, nothing this suite started stays behind: the terminals' groups, then what ran in the clone.
    for (const t of terminals) t.kill();
    for (let i = 0; i < 50; i++) {
      const left = [...new Set([...seen, ...processesUnder(clone)])].filter(alive);
      if (!left.length) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await sleep(100);
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('clones HEAD and finds the install step, `npx virtflow up` and the other terminal\'s commands in the Quick start', (t) => {
    const t0 = Date.now();
    const r = spawnSync('git', ['clone', '-q', REPO, clone], { encoding: 'utf8' });
    assert.equal(r.status, 0, `git clone: ${r.stderr}`);
    t.diagnostic(`cloned ${HEAD!.slice(0, 12)} in ${elapsed(t0)}`);
    steps = quickStart(readFileSync(join(clone, 'README.md'), 'utf8'));
    assert.ok(steps.install.length > 0, 'the Quick start installs something before `virtflow up`');
    assert.equal(steps.up, 'npx virtflow up');
    for (const sub of ['list', 'dominfo', 'event']) {
      assert.ok(steps.another.some((c) => c.split(' ')[2] === sub), `"In another terminal" names \`npx virtflow ${sub} …\`: ${JSON.stringify(steps.another)}`);
    }
    const dir = join(clone, 'examples');
    examples = readdirSync(dir).filter((f) => f.endsWith('.xml')).sort().map((file) => {
      const { name, hvm } = exampleInfo(readFileSync(join(dir, file), 'utf8'));
      return { file, name, runs: hvm };
    });
    assert.ok(examples.some((e) => e.runs), 'at least one example runs on this cluster');
    t.diagnostic(`install: ${steps.install.join(' ; ')}; other terminal: ${steps.another.join(' ; ')}`);
  });

  it('runs the install step (system packages, node_modules) from the local npm cache', async (t) => {
    if (blocked(t, steps, 'the clone')) return;
    for (const line of steps!.install) {
      const r = await runToEnd(line, { cwd: clone, env, ms: 5 * 60_000 });
      t.diagnostic(`\`${line}\`: ${r.seconds.toFixed(1)} s`);
      assert.equal(r.code, 0, `\`${line}\` failed:\n${r.out}`);
    }
    assert.equal(spawnSync('test', ['-x', join(clone, 'node_modules/.bin/virtflow')]).status, 0, 'the install linked the virtflow command');
    installed = true;
  });

  it('`npx virtflow up` starts its own servers and the services, defines the examples and starts those the cluster can run', async (t) => {
    if (blocked(t, installed, 'the install')) return;
    const t0 = Date.now();
    // Ports someone else holds before `up` starts (on CI and here: a system redis-server and nats-server).
    const taken = { redis: !(await portFree(6379)), nats: !(await portFree(4222)) };
    up = terminal(steps!.up, { cwd: clone, env });
    terminals.push(up);
    await up.until('the cluster', (o) => o.includes('cluster up: export '), READY_MS);
    t.diagnostic(`cluster up after ${elapsed(t0)}`);
    await up.until('every example defined and the runnable ones started', (o) => o.includes('streaming events; Ctrl-C stops the cluster')
      && examples.every((e) => o.includes(`for domain '${e.name}': Defined Added`) && (!e.runs || o.includes(`for domain '${e.name}': Started Booted on '`))), READY_MS);
    t.diagnostic(`examples running after ${elapsed(t0)}`);
    const out = up.output();
    for (const pid of descendants(up.proc.pid!)) seen.add(pid);

    const started = new Map([...out.matchAll(/^started (\S+) \(pid (\d+),/gm)].map((m) => [m[1]!, Number(m[2])]));
    for (const name of ['redis', 'nats', 'parser', 'scheduler', 'agent-node1', 'agent-node2', 'agent-node3']) assert.ok(started.has(name), `up started ${name}:\n${out}`);
    const line = /^cluster up: (export VIRTFLOW_REDIS_URL=redis:\/\/127\.0\.0\.1:(\d+) VIRTFLOW_NATS_URL=nats:\/\/127\.0\.0\.1:(\d+))$/m.exec(out);
    assert.ok(line, `the cluster line gives both URLs:\n${out}`);
    exported = line[1]!;
    const ports = { redis: Number(line[2]), nats: Number(line[3]) };
    for (const [server, defaultPort] of [['redis', 6379], ['nats', 4222]] as const) {
      // The URL it hands the user leads to the server it started, never to the one that had the port before.
      assert.ok(listensOn(started.get(server)!, ports[server]), `${server} on port ${ports[server]} is the one up started (pid ${started.get(server)})`);
      if (taken[server]) assert.ok(out.includes(`port ${defaultPort} is taken by another program: ${server} listens on ${ports[server]} instead`), `up says why ${server} is not on ${defaultPort}:\n${out}`);
      else assert.equal(ports[server], defaultPort, `${server} on its default port, which was free`);
    }
    for (const e of examples.filter((x) => !x.runs)) {
      assert.match(out, new RegExp(`^example ${e.name} \\(${e.file.replace('.', '\\.')}\\): .*no host fits`, 'm'), `up says why ${e.name} stays shut off`);
    }
    assert.doesNotMatch(out, /^error:|exited \((code|SIG)/m, 'no error, no child died');
  });

  it('in another terminal: `list --all`, `dominfo` and the other commands show the examples', async (t) => {
    if (blocked(t, exported, 'the cluster')) return;
    for (const cmd of steps!.another.filter((c) => !c.includes('--loop'))) {
      const r = await runToEnd(`${exported}\n${cmd}`, { cwd: clone, env, ms: COMMAND_MS });
      t.diagnostic(`\`${cmd}\`: ${r.seconds.toFixed(1)} s`);
      assert.equal(r.code, 0, `\`${cmd}\` failed:\n${r.out}`);
      const sub = cmd.split(' ')[2];
      if (sub === 'list') {
        // " 2    sim-1    running    node2": columns are two or more spaces apart.
        const rows = new Map(r.out.split('\n').map((l) => l.trim().split(/\s{2,}/)).filter((c) => c.length >= 4).map((c) => [c[1]!, c[2]!]));
        for (const e of examples) assert.equal(rows.get(e.name), e.runs ? 'running' : 'shut off', `${e.name} in \`${cmd}\`:\n${r.out}`);
      }
      if (sub === 'dominfo') {
        const name = cmd.split(' ')[3]!;
        const e = examples.find((x) => x.name === name);
        assert.ok(e, `the README's dominfo names an example: ${name}`);
        assert.match(r.out, new RegExp(`^Name:\\s+${name}$`, 'm'));
        assert.match(r.out, new RegExp(`^State:\\s+${e.runs ? 'running' : 'shut off'}$`, 'm'), r.out);
      }
    }
  });

  it('in another terminal: `event --loop` shows every example\'s Defined and the runnable ones\' Started, until Ctrl-C', async (t) => {
    if (blocked(t, exported, 'the cluster')) return;
    const cmd = steps!.another.find((c) => c.split(' ')[2] === 'event');
    assert.ok(cmd);
    const t0 = Date.now();
    const ev = terminal(`${exported}\n${cmd}`, { cwd: clone, env });
    terminals.push(ev);
    try {
      await ev.until('the examples\' lifecycle events', (o) => examples.every((e) => o.includes(`event 'lifecycle' for domain '${e.name}': Defined Added`)
        && (!e.runs || o.includes(`event 'lifecycle' for domain '${e.name}': Started Booted on '`))), COMMAND_MS);
      t.diagnostic(`\`${cmd}\`: the events after ${elapsed(t0)}`);
      ev.interrupt();
      const end = await within(ev.exited, 30_000);
      assert.ok(end, `\`${cmd}\` ended on Ctrl-C`);
      // It stops after the event in hand and says how many it printed.
      assert.match(ev.output(), /^events received: \d+$/m, ev.output());
    } finally {
      // Ended, or killed here: the next step counts what still runs in the clone.
      ev.kill();
      await ev.exited;
    }
  });

  it('Ctrl-C stops `up` cleanly and no process it started survives', async (t) => {
    if (blocked(t, up && exported, 'the cluster')) return;
    const t0 = Date.now();
    // Everything below the terminal now: npx, the shell npm runs the command with, `up`, its servers and services (and anything they started).
    const pids = descendants(up!.proc.pid!);
    for (const pid of pids) seen.add(pid);
    assert.ok(pids.length >= 8, `up's processes: ${pids.join(' ')}`);
    up!.interrupt();
    const end = await within(up!.exited, 60_000);
    assert.ok(end, `up ended within 60 s of Ctrl-C:\n${up!.output()}`);
    t.diagnostic(`stopped in ${elapsed(t0)}`);
    const out = up!.output();
    // `up` exits 1 only after an `error:` line, and prints `stopped` once every child has exited. npx runs the
    // command through /bin/sh, and dash (Debian's sh) ends itself with the terminal's SIGINT once `up` has
    // returned, so npx reports SIGINT (130 in a shell) where `up` itself exited 0; with bash as sh it is 0.
    assert.match(out, /SIGINT: stopping\n[\s\S]*stopped\n$/, out);
    assert.doesNotMatch(out, /^error:/m, out);
    assert.ok(end.code === 0 || end.signal === 'SIGINT' || end.code === 130, `npx virtflow up ended with ${end.code ?? end.signal}`);
    const deadline = Date.now() + 10_000;
    while ((pids.some(alive) || processesUnder(clone).length) && Date.now() < deadline) await sleep(100);
    assert.deepEqual(pids.filter(alive), [], 'no process up started is left');
    assert.deepEqual(processesUnder(clone), [], 'nothing runs in the clone any more');
  });
});
