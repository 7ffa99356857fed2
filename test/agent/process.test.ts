/**
 * The agent as its own process (main.ts on the test hypervisor, whose state
 * file stands in for qemu's pidfiles): SIGKILLed in the middle of a start, it
 * comes back, the domain runs once and the command completes; SIGTERM lets
 * the running command finish, takes no new one, and leaves the domains running.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCommand } from '@virtflow/model';
import { awaitCommandResult, commandOutcome, openCommandResults, sendCommand } from '@virtflow/runtime';
import { TIMEOUT, command, domainState, domainXml, events, spawnAgent, startNats, waitFor, type AgentProcess, type Nats } from './support.ts';

interface SimState {
  domains: Record<string, { state: string }>;
  boots: Record<string, number>;
}

describe('host agent process: SIGKILL mid-start, SIGTERM drain', { timeout: 180_000 }, () => {
  let nats: Nats;
  let dir: string;
  let env: Record<string, string>;
  let agent: AgentProcess | undefined;
  const stateFile = () => join(dir, 'test-hypervisor.json');
  const sim = (): SimState => (existsSync(stateFile()) ? (JSON.parse(readFileSync(stateFile(), 'utf8')) as SimState) : { domains: {}, boots: {} });

  before(async () => {
    nats = await startNats();
    dir = mkdtempSync(join(tmpdir(), 'virtflow-agent-'));
    env = {
      VIRTFLOW_HOST_ID: 'proc1', VIRTFLOW_HYPERVISOR: 'test', VIRTFLOW_NATS_URL: nats.servers.natsUrl, VIRTFLOW_RUN_DIR: dir,
      VIRTFLOW_HTTP_PORT: '0', VIRTFLOW_TEST_DELAYS: 'start=3000', VIRTFLOW_HEARTBEAT_MS: '1000', VIRTFLOW_LOG_LEVEL: 'warn',
    };
  });
  after(async () => {
    if (agent && agent.proc.exitCode === null && agent.proc.signalCode === null) {
      agent.proc.kill('SIGKILL');
      await agent.exited;
    }
    await nats?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGKILLed in the middle of a start: after a restart the domain runs once and the command completes', { timeout: TIMEOUT * 4 }, async () => {
    agent = await spawnAgent(env);
    const nc = await nats.connect();
    const uuid = randomUUID();
    assert.equal((await command(nc, 'proc1', 'define', uuid, { xml: domainXml('kill-me', uuid) })).outcome.status, 'completed');
    const start = makeCommand('start', { hostId: 'proc1', uuid }, {}, { correlationId: 'job-kill', now: () => new Date(), newId: randomUUID });
    await sendCommand(nc, start);
    await waitFor('the domain to be booting', async () => (sim().domains[uuid]?.state === 'starting' ? true : undefined));
    agent.proc.kill('SIGKILL');
    await agent.exited;
    const results = await openCommandResults(nc);
    assert.equal((await commandOutcome(results, 'proc1', start.id))?.status, 'pending', 'killed half-way');

    agent = await spawnAgent(env);
    const outcome = await awaitCommandResult(nc, start, { timeoutMs: TIMEOUT });
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
    assert.equal(sim().boots[uuid], 1, 'booted once, never twice');
    assert.equal(sim().domains[uuid]?.state, 'running');
    const store = await nats.store();
    assert.deepEqual((await events(store, uuid)).map((e) => e.type), ['DomainDefined', 'DomainPlaced', 'DomainStarted']);
    assert.equal((await events(store, uuid)).at(-1)!.causationId, start.id);
  });

  it('SIGTERM: the running command finishes, no new one is taken, the domains keep running', { timeout: TIMEOUT * 4 }, async () => {
    assert.ok(agent);
    const nc = await nats.connect();
    const store = await nats.store();
    const uuid = randomUUID();
    await command(nc, 'proc1', 'define', uuid, { xml: domainXml('drain-me', uuid) });
    const start = makeCommand('start', { hostId: 'proc1', uuid }, {}, { correlationId: 'job-drain', now: () => new Date(), newId: randomUUID });
    await sendCommand(nc, start);
    await waitFor('the start to be under way', async () => (sim().domains[uuid]?.state === 'starting' ? true : undefined));
    agent.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    // Sent while draining: must wait for the next agent.
    const suspend = makeCommand('suspend', { hostId: 'proc1', uuid }, {}, { correlationId: 'job-later', now: () => new Date(), newId: randomUUID });
    await sendCommand(nc, suspend);
    const exit = await agent.exited;
    assert.equal(exit.code, 0, agent.output());
    assert.equal((await awaitCommandResult(nc, start, { timeoutMs: TIMEOUT })).status, 'completed');
    assert.equal(await commandOutcome(await openCommandResults(nc), 'proc1', suspend.id), undefined, 'not taken while draining');
    assert.equal(sim().domains[uuid]?.state, 'running', 'the domain outlives its agent');
    assert.equal((await domainState(store, uuid))?.state, 'running');

    agent = await spawnAgent(env);
    assert.equal((await awaitCommandResult(nc, suspend, { timeoutMs: TIMEOUT })).status, 'completed', 'the next agent takes it');
    assert.equal(sim().domains[uuid]?.state, 'paused');
    assert.equal(sim().boots[uuid], 1);
  });

  it('serves /healthz and /metrics', async () => {
    assert.ok(agent);
    const url = /"http":"(http:[^"]+)"/.exec(agent.output())?.[1];
    assert.ok(url, agent.output());
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const h = (await health.json()) as { ok: boolean; hostId: string; hypervisor: string };
    assert.deepEqual([h.ok, h.hostId, h.hypervisor], [true, 'proc1', 'test']);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /virtflow_agent_commands_total\{type="suspend",outcome="completed"\} 1/);
    assert.match(metrics, /virtflow_agent_heartbeats_total\{outcome="ok"\}/);
  });
});
