/** Three agents with their own host ids on one NATS: each receives its own commands only. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { domainRef } from '@virtflow/runtime';
import { freePort } from '../harness/index.ts';
import { command, domainState, domainXml, events, startAgent, startNats, waitFor, type Nats, type TestAgent } from './support.ts';

describe('host agents on one NATS', { timeout: 120_000 }, () => {
  let nats: Nats;
  const agents: TestAgent[] = [];
  before(async () => {
    nats = await startNats();
    for (const h of ['h1', 'h2', 'h3']) agents.push(await startAgent(nats, h));
  });
  after(async () => {
    for (const a of agents) await a.agent.stop();
    await nats?.close();
  });

  it('carry out only the commands sent to their own host id', async () => {
    const nc = await nats.connect();
    const uuids = new Map<string, string[]>();
    // Two domains per host, their commands interleaved on the stream.
    for (let round = 0; round < 2; round++) {
      for (const a of agents) {
        const uuid = randomUUID();
        uuids.set(a.hostId, [...(uuids.get(a.hostId) ?? []), uuid]);
        const d = await command(nc, a.hostId, 'define', uuid, { xml: domainXml(`${a.hostId}-vm${round}`, uuid) });
        assert.equal(d.outcome.status, 'completed');
      }
    }
    await Promise.all([...uuids].flatMap(([hostId, list]) => list.map(async (uuid) => {
      const r = await command(nc, hostId, 'start', uuid, {});
      assert.equal(r.outcome.status, 'completed', JSON.stringify(r.outcome.error));
    })));
    for (const a of agents) {
      const mine = uuids.get(a.hostId)!;
      assert.deepEqual((await a.hv.list()).map((d) => d.uuid).sort(), [...mine].sort(), `${a.hostId} runs its own domains only`);
      for (const uuid of mine) assert.equal((await domainState(a.store, uuid))?.hostId, a.hostId);
      const taken = (await a.agent.metrics.commands.get()).values.filter((v) => v.labels.outcome === 'completed').reduce((n, v) => n + v.value, 0);
      assert.equal(taken, 4, `${a.hostId} carried out its 2 defines and 2 starts, nothing else`);
    }
  });

  it('a host that is not running an agent keeps its commands until one starts', async () => {
    const nc = await nats.connect();
    const uuid = randomUUID();
    const pending = command(nc, 'h4', 'define', uuid, { xml: domainXml('late', uuid) });
    await new Promise((r) => setTimeout(r, 300));
    for (const a of agents) assert.equal(await domainState(a.store, uuid), undefined);
    const late = await startAgent(nats, 'h4');
    try {
      assert.equal((await pending).outcome.status, 'completed');
    } finally {
      await late.agent.stop();
    }
  });

  it('migrate-in on the target, then migrate-out on the source: the domain moves, reported from both ends', async () => {
    const nc = await nats.connect();
    const [src, dst] = [agents[0]!, agents[1]!];
    const uuid = randomUUID();
    await command(nc, src.hostId, 'define', uuid, { xml: domainXml('mover', uuid) });
    await command(nc, src.hostId, 'start', uuid, {});
    // The scheduler's decision, recorded before it sends the two commands.
    await src.store.update(domainRef(uuid), () => [{ type: 'DomainMigrating', data: { uuid, fromHost: src.hostId, toHost: dst.hostId } }], { correlationId: 'job-move' });
    const port = await freePort();
    const into = await command(nc, dst.hostId, 'migrate-in', uuid, { fromHost: src.hostId, host: '127.0.0.1', port }, { correlationId: 'job-move' });
    assert.equal(into.outcome.status, 'completed', JSON.stringify(into.outcome.error));
    const out = await command(nc, src.hostId, 'migrate-out', uuid, { toHost: dst.hostId, host: '127.0.0.1', port }, { correlationId: 'job-move' });
    assert.equal(out.outcome.status, 'completed', JSON.stringify(out.outcome.error));
    const s = await waitFor('the target to report the arrival', async () => {
      const st = await domainState(src.store, uuid);
      return st?.hostId === dst.hostId && !st.migrating ? st : undefined;
    });
    assert.equal(s.state, 'running');
    assert.deepEqual((await src.hv.list()).filter((d) => d.uuid === uuid), []);
    assert.deepEqual((await dst.hv.list()).filter((d) => d.uuid === uuid).map((d) => d.state), ['running']);
    const tail = (await events(src.store, uuid)).slice(-3);
    assert.deepEqual(tail.map((e) => `${e.type}${'detail' in e.data ? ` ${e.data.detail}` : ''}`).sort(), ['DomainMigrating', 'DomainResumed MIGRATED', 'DomainStopped MIGRATED']);
    assert.ok(tail.every((e) => e.correlationId === 'job-move'));
    assert.equal(tail.find((e) => e.type === 'DomainResumed')!.causationId, into.id);
    assert.equal(tail.find((e) => e.type === 'DomainStopped')!.causationId, out.id);
  });
});
