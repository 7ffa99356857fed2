/**
 * Host failure end to end with in-process agents on a private nats-server:
 * an agent goes silent → HostDown, its domains shown unknown; after the lease
 * its HA domains run elsewhere (log and hypervisors agree), the others stay;
 * the host's agent comes back over the same hypervisor state and destroys the
 * copies that moved, so nothing runs twice; HostUp. Two membership instances
 * run side by side throughout: each event is stored once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { presentedState, type AnyEvent } from '@virtflow/model';
import { domainRef, hostRef } from '@virtflow/runtime';
import { ClusterView, Membership } from '@virtflow/scheduler';
import { command, startAgent, waitFor, type TestAgent } from '../agent/support.ts';
import { Placer, clusterDomainXml, startAgentCluster, type DomainSpec } from './support.ts';

const T = 1_500;
const FENCE = 1_000;
const HEARTBEAT = 300;

test('a silent host is marked down once, its HA domains restart elsewhere, and its agent destroys what moved when it returns', { timeout: 240_000 }, async (t) => {
  const { nats, agents, hv, cleanups } = await startAgentCluster(t, ['a', 'b', 'c'], { heartbeatMs: HEARTBEAT, hv: { cpus: 16, memoryKiB: 8 * 1024 * 1024 } });
  const nc = await nats.connect();
  const store = await nats.store();
  const view = ClusterView.open(store);
  cleanups.push(() => view.close());
  const placer = await Placer.open(nc, view);
  cleanups.push(() => placer.close());

  // Pairs in anti-affinity (one per host): a pair's member on a dead host can move to the one host its partner is not on.
  const specs: DomainSpec[] = [];
  for (let g = 0; g < 3; g++) for (let i = 0; i < 2; i++) specs.push({ name: `ha-${g}-${i}`, uuid: randomUUID(), group: { name: `ha-${g}`, policy: 'anti-affinity' }, ha: 'restart' });
  for (let i = 0; i < 3; i++) specs.push({ name: `plain-${i}`, uuid: randomUUID(), group: { name: 'plain', policy: 'anti-affinity' }, ha: 'none' });
  for (const s of specs) assert.equal((await command(nc, 'a', 'define', s.uuid, { xml: clusterDomainXml(s) })).outcome.status, 'completed');
  const placed = new Map<string, string>();
  for (const s of specs) placed.set(s.uuid, await placer.start(s.uuid));
  const onC = specs.filter((s) => placed.get(s.uuid) === 'c');
  assert.ok(onC.some((s) => s.ha === 'restart'), 'some HA domain runs on c');
  assert.ok(onC.some((s) => s.ha === 'none'), 'some plain domain runs on c');

  const config = { downAfterMs: T, fenceDelayMs: FENCE };
  const m1 = await Membership.start({ nc, store, config, restart: placer.restart, checkMs: 100 });
  const m2 = await Membership.start({ nc: await nats.connect(), store: await nats.store(), config, restart: placer.restart, checkMs: 100 });
  cleanups.push(() => m1.stop(), () => m2.stop());

  // c's agent stops (its domains keep running in the hypervisor state): no heartbeat any more.
  const c = agents.get('c')!;
  await c.agent.stop();
  const cutAt = Date.now();
  agents.delete('c');

  const down = await waitFor('HostDown c', async () => {
    const s = (await store.load(hostRef('c'))).state;
    return s && !s.up ? s : undefined;
  });
  const detectedMs = Date.now() - cutAt;
  t.diagnostic(`HostDown after ${detectedMs} ms of silence (T = ${T} ms)`);
  assert.ok(detectedMs >= T - HEARTBEAT, `not before T: ${detectedMs} ms`);
  assert.match(down.lastDownReason ?? '', /no heartbeat for/);

  // Plain domains of c are shown unknown while it is down.
  await view.sync();
  for (const s of onC.filter((x) => x.ha === 'none')) {
    const row = view.domains.domains.get(s.uuid)!;
    assert.equal(presentedState(row, (h) => view.hosts.hosts.get(h)), 'unknown');
  }

  // After the lease: HA domains of c run on a or b, by the log and by the hypervisors.
  const haOnC = onC.filter((s) => s.ha === 'restart');
  for (const s of haOnC) {
    const st = await waitFor(`${s.name} running elsewhere`, async () => {
      const x = (await store.load(domainRef(s.uuid))).state;
      return x?.state === 'running' && x.hostId !== 'c' ? x : undefined;
    });
    const actual = await agents.get(st.hostId!)!.hv.list();
    assert.ok(actual.some((d) => d.uuid === s.uuid && d.state === 'running'), `${s.name} runs in ${st.hostId}'s hypervisor`);
  }
  // The fence stop and HostDown are in the log once, however many schedulers ran.
  const hostEvents = (await store.events(hostRef('c'))).map((e) => e.event);
  assert.equal(hostEvents.filter((e) => e.type === 'HostDown').length, 1);
  for (const s of haOnC) {
    const evs = (await store.events(domainRef(s.uuid))).map((e) => e.event);
    const fenced = evs.filter((e): e is Extract<AnyEvent, { type: 'DomainStopped' }> => e.type === 'DomainStopped' && e.data.hostId === 'c' && e.data.detail === 'FAILED');
    assert.equal(fenced.length, 1, `${s.name} fenced once`);
    assert.match(fenced[0]!.data.error?.message ?? '', /fenced there after its lease expired/);
  }
  // Anti-affinity still holds after the moves.
  await view.sync();
  for (let g = 0; g < 3; g++) {
    const hosts = specs.filter((s) => s.group?.name === `ha-${g}`).map((s) => view.domains.domains.get(s.uuid)!.hostId);
    assert.equal(new Set(hosts).size, 2, `group ha-${g} on two hosts: ${hosts.join(', ')}`);
  }
  // Plain domains were not touched.
  for (const s of onC.filter((x) => x.ha === 'none')) assert.equal((await store.load(domainRef(s.uuid))).state?.hostId, 'c');

  // c comes back over the same hypervisor state: the copies that moved are destroyed, the rest keep running.
  const back = await startAgent(nats, 'c', hv('c'), { heartbeatMs: HEARTBEAT });
  agents.set('c', back);
  await waitFor('HostUp c', async () => ((await store.load(hostRef('c'))).state?.up ? true : undefined));
  const local = new Set((await back.hv.list()).map((d) => d.uuid));
  for (const s of haOnC) assert.ok(!local.has(s.uuid), `${s.name}'s stale copy on c is gone`);
  for (const s of onC.filter((x) => x.ha === 'none')) assert.ok(local.has(s.uuid), `${s.name} still runs on c`);
  for (const s of haOnC) {
    const evs = (await store.events(domainRef(s.uuid))).map((e) => e.event);
    const report = evs.find((e) => e.type === 'DomainStopped' && e.data.hostId === 'c' && e.data.detail === 'DESTROYED');
    assert.ok(report && report.type === 'DomainStopped' && /moved to host '(a|b)'.*destroyed, not restarted/.test(report.data.error?.message ?? ''), `${s.name}'s stale copy reported`);
    assert.equal((await store.load(domainRef(s.uuid))).state?.state, 'running', 'the report leaves the domain running where it moved');
  }
  // Nothing runs twice, in the hypervisors themselves.
  const count = new Map<string, number>();
  for (const a of agents.values()) for (const d of await a.hv.list()) count.set(d.uuid, (count.get(d.uuid) ?? 0) + 1);
  for (const s of specs) assert.equal(count.get(s.uuid), 1, `${s.name} runs exactly once`);
  assert.equal((await store.events(hostRef('c'))).filter((e) => e.event.type === 'HostUp').length, 1);
});

test('a fenced domain nobody restarted is destroyed when its host returns; a domain the log does not know is left running', { timeout: 240_000 }, async (t) => {
  const { nats, agents, hv, cleanups } = await startAgentCluster(t, ['a', 'b'], { heartbeatMs: HEARTBEAT });
  const nc = await nats.connect();
  const store = await nats.store();
  const spec: DomainSpec = { name: 'lonely', uuid: randomUUID(), ha: 'restart' };
  assert.equal((await command(nc, 'b', 'define', spec.uuid, { xml: clusterDomainXml(spec) })).outcome.status, 'completed');
  assert.equal((await command(nc, 'b', 'start', spec.uuid, {})).outcome.status, 'completed');
  // A guest started behind the log's back (someone's data): fencing must not touch it.
  const stranger = randomUUID();
  await agents.get('b')!.hv.start({ type: 'kvm', name: 'stranger', uuid: stranger } as Parameters<TestAgent['hv']['start']>[0]);

  // No restart path: the fenced domain stays shut off.
  const m = await Membership.start({ nc, store, config: { downAfterMs: T, fenceDelayMs: FENCE }, checkMs: 100 });
  cleanups.push(() => m.stop());
  await agents.get('b')!.agent.stop();
  agents.delete('b');
  const fenced = await waitFor('fenced', async () => {
    const s = (await store.load(domainRef(spec.uuid))).state;
    return s?.state === 'shutoff' ? s : undefined;
  });
  assert.equal(fenced.reason, 'FAILED');
  assert.equal(fenced.lastError?.path, '/hosts/b/fenced');
  assert.deepEqual(m.records.filter((r) => r.uuid === spec.uuid).map((r) => r.kind), ['fenced']);

  const back = await startAgent(nats, 'b', hv('b'), { heartbeatMs: HEARTBEAT });
  agents.set('b', back);
  await waitFor('HostUp b', async () => ((await store.load(hostRef('b'))).state?.up ? true : undefined));
  const local = new Set((await back.hv.list()).map((d) => d.uuid));
  assert.ok(!local.has(spec.uuid), 'the fenced copy is destroyed, not left running');
  assert.ok(local.has(stranger), 'a domain the log does not know keeps running (reported by reconcile, never killed)');
  const s = (await store.load(domainRef(spec.uuid))).state!;
  assert.equal(s.state, 'shutoff');
  assert.match(s.lastError?.message ?? '', /was fenced while host 'b' was away: its copy here was destroyed, not restarted/);
  assert.equal((await store.events(domainRef(spec.uuid))).filter((e) => e.event.type === 'DomainStarted').length, 1, 'never started again');
});
