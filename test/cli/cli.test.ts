/**
 * Every `virtflow` command against a real cluster (test/cli/support.ts), run
 * as a user runs it: a child process reading VIRTFLOW_REDIS_URL and
 * VIRTFLOW_NATS_URL, its output, its exit code. Bad input (a missing file,
 * invalid XML, an unknown domain, a wrong state) exits 1 with `error:` lines
 * naming where.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tmpdir } from 'node:os';
import { freePort } from '../harness/index.ts';
import { REPO, TIMEOUT, killAll, startCluster, virtflow, type Cluster } from './support.ts';

const WEB = join(REPO, 'examples/web-kvm.xml');

const domain = (name: string, extra = '') => `<domain type='test'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='i686'>hvm</type></os>
  <devices>${extra}</devices>
</domain>
`;
const DISK = `<disk type='file' device='disk'><source file='/var/lib/virtflow/extra.img'/><target dev='vdb' bus='virtio'/></disk>`;

describe('virtflow CLI against a cluster', { timeout: 15 * 60_000 }, () => {
  let c: Cluster;
  let dir: string;
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const vf = (...args: string[]) => virtflow(c, args);

  before(async () => {
    c = await startCluster();
    dir = mkdtempSync(join(tmpdir(), 'virtflow-cli-'));
  }, { timeout: TIMEOUT * 2 });

  after(async () => {
    await killAll();
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('defines a domain from a file and lists it as virsh does', async () => {
    const r = await vf('define', WEB);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `Domain 'web-1' defined from ${WEB}\n`);
    const list = await vf('list', '--all');
    assert.equal(list.code, 0);
    const lines = list.stdout.split('\n');
    assert.match(lines[0]!, /^ Id\s+Name\s+State\s+Host$/);
    assert.match(lines[1]!, /^-+$/);
    assert.ok(lines.some((l) => /^ -\s+web-1\s+shut off\s+-$/.test(l)), list.stdout);
    // Without --all only active domains: none yet.
    const active = await vf('list');
    assert.equal(active.stdout.includes('web-1'), false);
    const json = JSON.parse((await vf('--json', 'list', '--all')).stdout) as Array<{ name: string; state: string }>;
    assert.deepEqual(json.map((d) => [d.name, d.state]), [['web-1', 'shutoff']]);
  });

  it('refuses a missing file, exit 1 and the file named', async () => {
    const r = await vf('define', join(dir, 'nope.xml'));
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: Failed to define domain from .*nope\.xml\nerror: Failed to open file '.*nope\.xml': No such file or directory\n$/);
  });

  it('refuses invalid XML with the parser’s message and the path', async () => {
    const r = await vf('define', file('broken.xml', "<domain type='test'><name>broken</name>"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Failed to define domain from .*broken\.xml\n/);
    assert.match(r.stderr, /error: .*\(at \/ \(line \d+, column \d+\)\)/);
    const noName = await vf('define', file('noname.xml', "<domain type='test'><memory>1024</memory><os><type>hvm</type></os></domain>"));
    assert.equal(noName.code, 1);
    assert.match(noName.stderr, /error: missing name information \(at \/domain\/name\)/);
  });

  it('define --dry-run post-parses locally and submits nothing; --explain says why', async () => {
    const p = file('dry.xml', domain('dry-1'));
    const r = await vf('define', '--dry-run', '--explain', p);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /<name>dry-1<\/name>/);
    assert.match(r.stdout, /^\/domain\/currentMemory = '131072'  \[generic\/current-memory\] /m, 'a provenance line names the value, the driver and its rule');
    assert.match(r.stdout, /Domain 'dry-1' would be defined from .*dry\.xml \(dry run: nothing submitted\)\n$/);
    const info = await vf('dominfo', 'dry-1');
    assert.equal(info.code, 1);
    const real = await vf('define', '--explain', p);
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, /Domain 'dry-1' defined from/);
  });

  it('dominfo, domstate and dumpxml read a domain; an unknown one is an error', async () => {
    const info = await vf('dominfo', 'web-1');
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^Name:\s+web-1$/m);
    assert.match(info.stdout, /^UUID:\s+[0-9a-f-]{36}$/m);
    assert.match(info.stdout, /^State:\s+shut off$/m);
    assert.match(info.stdout, /^Persistent:\s+yes$/m);
    const uuid = /^UUID:\s+(\S+)$/m.exec(info.stdout)![1]!;
    const byUuid = await vf('--json', 'dominfo', uuid);
    assert.equal(JSON.parse(byUuid.stdout).name, 'web-1');
    const state = await vf('domstate', '--reason', 'web-1');
    assert.equal(state.stdout, 'shut off (unknown)\n');
    const xml = await vf('dumpxml', 'web-1');
    assert.equal(xml.code, 0);
    assert.match(xml.stdout, /^<domain type='kvm'>\n  <name>web-1<\/name>\n  <uuid>/);
    assert.match(xml.stdout, /machine='pc-i440fx-7\.2'|machine='pc-q35-7\.2'/, 'the definition as the driver filled it');
    assert.equal((await vf('dumpxml', '--inactive', 'web-1')).stdout, xml.stdout);
    for (const cmd of ['dominfo', 'domstate', 'dumpxml', 'history', 'start', 'undefine']) {
      const r = await vf(cmd, 'no-such-domain');
      assert.equal(r.code, 1, cmd);
      assert.match(r.stderr, /error: Domain not found: no domain with matching name 'no-such-domain' \(at \/domain\/no-such-domain\)\n$/, cmd);
    }
  });

  it('attach-device and detach-device change the definition; history and diff show it', async () => {
    const dev = file('disk.xml', DISK);
    const a = await vf('attach-device', 'web-1', dev);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, 'Device attached successfully\n');
    assert.match((await vf('dumpxml', '--inactive', 'web-1')).stdout, /<target dev='vdb' bus='virtio'\/>/);
    const again = await vf('attach-device', 'web-1', dev);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: Failed to attach device from .*disk\.xml\nerror: .*vdb/);
    const d = await vf('detach-device', 'web-1', dev);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'Device detached successfully\n');
    const h = await vf('history', 'web-1');
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^ 1\s+\S+\s+DomainDefined$/m);
    assert.match(h.stdout, /^ 2\s+\S+\s+DomainDeviceAttached$/m);
    assert.match(h.stdout, /^ 3\s+\S+\s+DomainDeviceDetached$/m);
    const diff = await vf('diff', 'web-1', '1', '2');
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /^\+ \/domain\/devices\/disk\[\d\]: '<disk/m);
    assert.equal((await vf('diff', 'web-1', '1', '3')).stdout, 'no changes\n');
    const bad = await vf('diff', 'web-1', '1', '9');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /error: invalid argument: domain 'web-1' has no definition version 9 \(versions: 1, 2, 3\) \(at \/v2\)/);
    const notNumber = await vf('diff', 'web-1', 'one', '2');
    assert.match(notNumber.stderr, /\(at \/v1\)/);
  });

  it('hosts, nodeinfo and capabilities show what the agents registered', async () => {
    const h = await vf('hosts');
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /^ Host\s+State\s+Hypervisor\s+CPUs\s+Memory\s+Domains$/m);
    for (const id of c.hosts) assert.match(h.stdout, new RegExp(`^ ${id}\\s+up\\s+test\\s+8\\s+16777216 KiB`, 'm'));
    const n = await vf('nodeinfo', 'node1');
    assert.equal(n.code, 0, n.stderr);
    assert.match(n.stdout, /^CPU\(s\):\s+8$/m);
    assert.match(n.stdout, /^Memory size:\s+16777216 KiB$/m);
    const caps = await vf('capabilities', 'node2');
    assert.equal(caps.code, 0);
    assert.match(caps.stdout, /^<capabilities>\n[\s\S]*<arch>x86_64<\/arch>[\s\S]*<\/capabilities>\n$/);
    const none = await vf('nodeinfo', 'node9');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /error: invalid argument: no host 'node9' has registered \(at \/host\/node9\)/);
  });

  it('jobs lists the jobs; --failed only the failed ones, with their error', async () => {
    const all = await vf('jobs');
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^ Id\s+Op\s+State\s+Queue/);
    assert.match(all.stdout, /define\s+completed\s+virtflow\.jobs/);
    assert.match(all.stdout, /attach-device\s+completed/);
    const failed = await vf('--json', 'jobs', '--failed');
    const jobs = JSON.parse(failed.stdout) as Array<{ op: string; state: string; error?: string }>;
    assert.ok(jobs.length >= 2);
    assert.ok(jobs.every((j) => j.state === 'failed'));
    assert.ok(jobs.some((j) => /missing name information/.test(j.error ?? '')));
  });

  it('jobs --dead lists a job whose fault outlasted its attempts; redrive runs it again once the fault is gone', async () => {
    let down = true;
    c.registry.addStage({
      name: 'flaky-backend',
      domain: (def) => {
        // Not a VirtError: an infrastructure fault (a policy backend away), retried, then parked.
        if (down && def.name === 'dlq-1') throw new Error('policy backend unreachable');
      },
    });
    try {
      const defined = await vf('define', file('dlq-1.xml', domain('dlq-1')));
      assert.equal(defined.code, 1, defined.stdout);
      assert.match(defined.stderr, /^error: operation failed: job \S+: its stage virtflow\.policy failed: policy backend unreachable \(retried; parked in virtflow\.dead: virtflow jobs --dead\)$/m);
      let dead: Array<{ id: string; queue: string; reason: string }> = [];
      for (let i = 0; i < 50 && dead.length === 0; i++) {
        dead = JSON.parse((await vf('--json', 'jobs', '--dead')).stdout) as typeof dead;
        if (dead.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(dead.length, 1);
      assert.deepEqual([dead[0]!.queue, dead[0]!.reason], ['virtflow.policy', 'policy backend unreachable']);
      const listed = await vf('jobs', '--dead');
      assert.match(listed.stdout, /^ Id\s+Stage queue\s+Stage job\s+Parked\s+Reason/);
      assert.match(listed.stdout, new RegExp(`${dead[0]!.id}\\s+virtflow\\.policy`));
      const unknown = await vf('redrive', 'no-such-job');
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^error: invalid argument: no job 'no-such-job' in the dead-letter queue virtflow\.dead \(at \/id\)$/m);
      down = false;
      const again = await vf('redrive', dead[0]!.id);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, `Job ${dead[0]!.id} re-driven: completed\n`);
      assert.deepEqual(JSON.parse((await vf('--json', 'jobs', '--dead')).stdout), []);
      assert.match((await vf('domstate', 'dlq-1')).stdout, /^shut off/);
    } finally {
      c.registry.removeStage('flaky-backend');
    }
  });

  it('event prints past events from a sequence, as virsh event does', async () => {
    // Lifecycle events only by default: the device edits are left out, so within 3 s only the define.
    const life = await vf('event', '--domain', 'web-1', '--from', 'all', '--loop', '--timeout', '3');
    assert.equal(life.stdout, "event 'lifecycle' for domain 'web-1': Defined Added\nevent loop timed out\nevents received: 1\n");
    const every = await vf('--json', 'event', '--all', '--domain', 'web-1', '--from', 'all', '--loop', '--count', '3');
    const types = every.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { event: { type: string } }).event.type);
    assert.deepEqual(types, ['DomainDefined', 'DomainDeviceAttached', 'DomainDeviceDetached']);
    const badFrom = await vf('event', '--from', 'yesterday-ish');
    assert.equal(badFrom.code, 1);
    assert.match(badFrom.stderr, /error: invalid argument: 'yesterday-ish' is neither a stream sequence.*\(at --from\)/);
  });

  it('undefine removes the domain', async () => {
    const r = await vf('undefine', 'dry-1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Domain 'dry-1' has been undefined\n");
    const info = await vf('dominfo', 'dry-1');
    assert.equal(info.code, 1);
    assert.equal((await vf('list', '--all')).stdout.includes('dry-1'), false);
  });

  it('usage errors and unreachable servers exit 1 with a message', async () => {
    const missing = await vf('start');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error: missing required argument 'domain'/);
    const unknown = await vf('frobnicate');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const badUrl = await virtflow(c, ['list'], { env: { VIRTFLOW_REDIS_URL: 'http://nope' } });
    assert.equal(badUrl.code, 1);
    assert.match(badUrl.stderr, /^error: invalid argument: VIRTFLOW_REDIS_URL: 'http:\/\/nope' must start with redis:\/\/ or rediss:\/\/ \(at VIRTFLOW_REDIS_URL\)\n$/);
    // A port nobody listens on: refused at once, said once (no stack of retries).
    const down = `redis://127.0.0.1:${await freePort()}`;
    const refused = await vf('--redis', down, 'list');
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `error: operation failed: cannot connect to Redis at ${down}: connect ECONNREFUSED ${down.slice('redis://'.length)} (at VIRTFLOW_REDIS_URL)\n`);
  });
});
