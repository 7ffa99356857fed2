/**
 * The lifecycle commands through the scheduler: start, suspend, resume,
 * reboot, shutdown, destroy, migrate, evacuate — and a wrong state (start a
 * running domain) exiting 1 with libvirt's message. Needs
 * services/scheduler/src/main.ts; skipped, saying so, where it is absent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TIMEOUT, hasScheduler, killAll, startCluster, virtflow, type Cluster } from './support.ts';

const skip = hasScheduler() ? false : 'services/scheduler/src/main.ts is not in this checkout: lifecycle jobs have no one to run them';

const xml = (name: string) => `<domain type='test'><name>${name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>\n`;

/** Polls a command until its output matches: lifecycle changes after shutdown arrive as events a moment later. */
async function eventually(f: () => Promise<string>, re: RegExp, ms = 60_000): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = await f();
    if (re.test(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`no ${re} within ${ms} ms; last: ${last}`);
}

describe('virtflow lifecycle commands', { skip, timeout: 15 * 60_000 }, () => {
  let c: Cluster;
  let dir: string;
  const vf = (...args: string[]) => virtflow(c, args);

  before(async () => {
    c = await startCluster();
    dir = mkdtempSync(join(tmpdir(), 'virtflow-cli-life-'));
    for (const n of ['life-1', 'life-2']) {
      writeFileSync(join(dir, `${n}.xml`), xml(n));
    }
    const r = await vf('define', join(dir, 'life-1.xml'), join(dir, 'life-2.xml'));
    assert.equal(r.code, 0, r.stderr);
  }, { timeout: TIMEOUT * 2 });

  after(async () => {
    await killAll();
    await c?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('start runs a domain on a host; list shows it active there', async () => {
    const r = await vf('start', 'life-1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Domain 'life-1' started\n");
    assert.equal((await vf('domstate', 'life-1')).stdout, 'running\n');
    const list = await vf('list');
    assert.match(list.stdout, /^ 1\s+life-1\s+running\s+node[12]$/m);
    assert.equal(list.stdout.includes('life-2'), false, 'an inactive domain is listed with --all only');
    const host = JSON.parse((await vf('--json', 'dominfo', 'life-1')).stdout).hostId as string;
    assert.match((await vf('list', '--host', host)).stdout, /life-1/);
  });

  it('start on a running domain is a wrong state: exit 1 and why', async () => {
    const r = await vf('start', 'life-1');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Failed to start domain 'life-1'\nerror: Requested operation is not valid: domain is already running/);
    const resume = await vf('resume', 'life-2');
    assert.equal(resume.code, 1);
    assert.match(resume.stderr, /^error: Failed to resume domain 'life-2'\nerror: /);
  });

  it('suspend, resume and reboot', async () => {
    const s = await vf('suspend', 'life-1');
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout, "Domain 'life-1' suspended\n");
    assert.equal((await vf('domstate', '--reason', 'life-1')).stdout, 'paused (user)\n');
    const r = await vf('resume', 'life-1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await vf('domstate', 'life-1')).stdout, 'running\n');
    const b = await vf('reboot', 'life-1');
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, "Domain 'life-1' is being rebooted\n");
  });

  it('migrate moves a running domain to the host named', async () => {
    const from = JSON.parse((await vf('--json', 'dominfo', 'life-1')).stdout).hostId as string;
    const to = c.hosts.find((h) => h !== from)!;
    const m = await vf('migrate', 'life-1', to);
    assert.equal(m.code, 0, m.stderr);
    assert.equal(m.stdout, `Domain 'life-1' migrated to host '${to}'\n`);
    await eventually(async () => (await vf('--json', 'dominfo', 'life-1')).stdout, new RegExp(`"hostId": "${to}"`));
    const info = JSON.parse((await vf('--json', 'dominfo', 'life-1')).stdout) as { hostId: string; state: string };
    assert.deepEqual([info.hostId, info.state], [to, 'running']);
  });

  it('evacuate empties a host', async () => {
    const on = JSON.parse((await vf('--json', 'dominfo', 'life-1')).stdout).hostId as string;
    const e = await vf('evacuate', on);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, `Host '${on}' evacuated\n`);
    const info = JSON.parse((await vf('--json', 'dominfo', 'life-1')).stdout) as { hostId: string; state: string };
    assert.notEqual(info.hostId, on);
    assert.equal(info.state, 'running');
  });

  it('shutdown and destroy stop domains; event shows the lifecycle as virsh does', async () => {
    assert.equal((await vf('start', 'life-2')).code, 0);
    const sh = await vf('shutdown', 'life-1');
    assert.equal(sh.code, 0, sh.stderr);
    assert.equal(sh.stdout, "Domain 'life-1' is being shutdown\n");
    await eventually(async () => (await vf('domstate', 'life-1')).stdout, /^shut off\n$/);
    const d = await vf('destroy', 'life-2');
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, "Domain 'life-2' destroyed\n");
    assert.equal((await vf('domstate', '--reason', 'life-2')).stdout, 'shut off (destroyed)\n');
    const ev = await vf('event', '--domain', 'life-2', '--from', 'all', '--loop', '--timeout', '3');
    assert.equal(ev.stdout.split('\n').filter((l) => l.startsWith('event '))[0], "event 'lifecycle' for domain 'life-2': Defined Added");
    assert.match(ev.stdout, /event 'lifecycle' for domain 'life-2': Started Booted on 'node[12]'\n/);
    assert.match(ev.stdout, /event 'lifecycle' for domain 'life-2': Stopped Destroyed on 'node[12]'\n/);
    const again = await vf('destroy', 'life-2');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: Failed to destroy domain 'life-2'\nerror: Requested operation is not valid: domain is not running/);
  });

  it('jobs shows the lifecycle jobs on the schedule queue, the failed ones with their error', async () => {
    const jobs = JSON.parse((await vf('--json', 'jobs', '--limit', '100')).stdout) as Array<{ op: string; queue: string; state: string; target?: string; error?: string }>;
    assert.ok(jobs.some((j) => j.op === 'migrate' && j.queue === 'virtflow.schedule' && j.state === 'completed'));
    assert.ok(jobs.some((j) => j.op === 'evacuate' && j.queue === 'virtflow.schedule' && j.state === 'completed'));
    const failed = await vf('jobs', '--failed');
    assert.match(failed.stdout, /destroy\s+failed\s+virtflow\.schedule\s+[0-9a-f-]{36}\s+\S+\s+Requested operation is not valid: domain is not running/);
  });
});
