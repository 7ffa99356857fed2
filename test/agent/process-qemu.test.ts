/**
 * The agent process on the real QEMU hypervisor, SIGKILLed in the middle of
 * a start: after a restart the VM runs once, never twice, and the command
 * completes — also when it died between the start's two events; SIGKILLed
 * after a start completed, it finds the VM again.
 * VIRTFLOW_QEMU_KVM=off in the environment runs the agents under TCG, as
 * on a host without KVM. Skips where qemu-system-x86_64 does not run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCommand } from '@virtflow/model';
import { awaitCommandResult, sendCommand } from '@virtflow/runtime';
import { cleanupRunDir, qemuMissing, smallXml } from '../qemu/support.ts';
import { TIMEOUT, command, domainState, events, spawnAgent, startNats, waitFor, type AgentProcess, type Nats } from './support.ts';

const skip = qemuMissing();

/** The pids of the qemu processes running this domain. */
function qemusOf(uuid: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(uuid)) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('host agent process on QEMU: SIGKILL mid-start', { skip, timeout: 240_000 }, () => {
  let nats: Nats;
  let runDir: string;
  let agent: AgentProcess | undefined;
  let env: Record<string, string>;
  before(async () => {
    nats = await startNats();
    runDir = mkdtempSync(join(tmpdir(), 'vfp-'));
    env = { VIRTFLOW_HOST_ID: 'pq1', VIRTFLOW_HYPERVISOR: 'qemu', VIRTFLOW_NATS_URL: nats.servers.natsUrl, VIRTFLOW_RUN_DIR: runDir, VIRTFLOW_HTTP_PORT: '0', VIRTFLOW_LOG_LEVEL: 'warn' };
    // (process.env reaches the agents too: VIRTFLOW_QEMU_KVM=off runs them under TCG.)
  });
  after(async () => {
    if (agent && agent.proc.exitCode === null && agent.proc.signalCode === null) {
      agent.proc.kill('SIGKILL');
      await agent.exited;
    }
    if (runDir) cleanupRunDir(runDir);
    await nats?.close();
  });

  it('runs the VM once and completes the start', { timeout: TIMEOUT * 6 }, async () => {
    agent = await spawnAgent(env);
    const nc = await nats.connect();
    const uuid = randomUUID();
    const xml = smallXml('vf-kill-agent').replace('<name>vf-kill-agent</name>', `<name>vf-kill-agent</name>\n  <uuid>${uuid}</uuid>`);
    assert.equal((await command(nc, 'pq1', 'define', uuid, { xml })).outcome.status, 'completed');
    const start = makeCommand('start', { hostId: 'pq1', uuid }, {}, { correlationId: 'job-kill', now: () => new Date(), newId: randomUUID });
    await sendCommand(nc, start);
    await waitFor('qemu to be spawned', async () => (existsSync(join(runDir, uuid, 'qemu.pid')) || qemusOf(uuid).length ? true : undefined));
    agent.proc.kill('SIGKILL');
    await agent.exited;
    assert.ok(qemusOf(uuid).length <= 1);

    agent = await spawnAgent(env);
    const o = await awaitCommandResult(nc, start, { timeoutMs: TIMEOUT * 2 });
    assert.equal(o.status, 'completed', JSON.stringify(o.error));
    assert.equal(qemusOf(uuid).length, 1, 'one qemu, never two');
    const store = await nats.store();
    // On a failure, the domain's events say which writer left it so (seen twice in CI: shutoff although one qemu runs).
    assert.equal((await domainState(store, uuid))?.state, 'running', JSON.stringify((await events(store, uuid)).map((e) => [e.type, e.data, e.causationId])));
    assert.equal((await events(store, uuid)).filter((e) => e.type === 'DomainStarted').length, 1);
    assert.equal((await command(nc, 'pq1', 'destroy', uuid, {})).outcome.status, 'completed');
    await waitFor('qemu to exit', async () => (qemusOf(uuid).length === 0 ? true : undefined));
  });

  // The CI failure (outcome completed, one qemu, log shutoff), made deterministic: the store appends a
  // start's DomainPlaced and DomainStarted one by one, and an agent killed between the two left
  // DomainPlaced alone, which the restarted agent took for the whole result. Agent 1 runs in short
  // slices (SIGSTOP/SIGCONT) and is killed, stopped, once the log holds DomainPlaced.
  it('killed between the start\'s DomainPlaced and DomainStarted: the start completes its record', { timeout: TIMEOUT * 6 }, async () => {
    if (!agent || agent.proc.exitCode !== null || agent.proc.signalCode !== null) agent = await spawnAgent(env);
    const first = agent;
    const nc = await nats.connect();
    const store = await nats.store();
    const uuid = randomUUID();
    const xml = smallXml('vf-kill-placed').replace('<name>vf-kill-placed</name>', `<name>vf-kill-placed</name>\n  <uuid>${uuid}</uuid>`);
    assert.equal((await command(nc, 'pq1', 'define', uuid, { xml })).outcome.status, 'completed');
    const start = makeCommand('start', { hostId: 'pq1', uuid }, {}, { correlationId: 'job-kill-placed', now: () => new Date(), newId: randomUUID });
    await sendCommand(nc, start);
    let atKill: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      first.proc.kill('SIGSTOP');
      atKill = (await events(store, uuid)).map((e) => e.type);
      if (atKill.includes('DomainPlaced')) break;
      first.proc.kill('SIGCONT');
      await new Promise((r) => setImmediate(r));
    }
    first.proc.kill('SIGKILL');
    await first.exited;
    // Rarely the slice runs on past DomainStarted: then this is the complete-start case, still checked below.
    if (!atKill.includes('DomainStarted')) assert.deepEqual(atKill, ['DomainDefined', 'DomainPlaced']);

    agent = await spawnAgent(env);
    const o = await awaitCommandResult(nc, start, { timeoutMs: TIMEOUT * 2 });
    assert.equal(o.status, 'completed', JSON.stringify(o.error));
    assert.deepEqual(o.events?.map((e) => e.type), ['DomainPlaced', 'DomainStarted']);
    assert.equal(qemusOf(uuid).length, 1, 'one qemu, never two');
    const evs = (await events(store, uuid)).map((e) => [e.type, e.data, e.causationId]);
    assert.equal((await domainState(store, uuid))?.state, 'running', JSON.stringify(evs));
    assert.equal((await command(nc, 'pq1', 'destroy', uuid, {})).outcome.status, 'completed');
    await waitFor('qemu to exit', async () => (qemusOf(uuid).length === 0 ? true : undefined));
  });

  // On a slow machine the first test's kill often lands after the start completed: reconcile must find the VM.
  it('killed after the start completed: the restarted agent keeps the VM running, not died-while-down', { timeout: TIMEOUT * 6 }, async () => {
    if (!agent || agent.proc.exitCode !== null || agent.proc.signalCode !== null) agent = await spawnAgent(env);
    const nc = await nats.connect();
    const uuid = randomUUID();
    const xml = smallXml('vf-kill-after').replace('<name>vf-kill-after</name>', `<name>vf-kill-after</name>\n  <uuid>${uuid}</uuid>`);
    assert.equal((await command(nc, 'pq1', 'define', uuid, { xml })).outcome.status, 'completed');
    assert.equal((await command(nc, 'pq1', 'start', uuid, {})).outcome.status, 'completed');
    const pids = qemusOf(uuid);
    assert.equal(pids.length, 1);
    agent.proc.kill('SIGKILL');
    await agent.exited;

    agent = await spawnAgent(env); // ready = reconciled
    const store = await nats.store();
    const evs = (await events(store, uuid)).map((e) => [e.type, e.data, e.causationId]);
    assert.equal((await domainState(store, uuid))?.state, 'running', JSON.stringify(evs));
    assert.ok(!evs.some(([t]) => t === 'DomainStopped'), JSON.stringify(evs));
    assert.deepEqual(qemusOf(uuid), pids, 'the same qemu, untouched');
    assert.equal((await command(nc, 'pq1', 'destroy', uuid, {})).outcome.status, 'completed');
    await waitFor('qemu to exit', async () => (qemusOf(uuid).length === 0 ? true : undefined));
  });
});
