/**
 * A scheduler killed right after it fenced an HA domain — DomainStopped FAILED
 * appended, the restart not yet under way — used to leave the domain shut off
 * for good: later rounds only fence active domains, and the restart lived in
 * the dead process. Now the restart is a queued start job, one per fence, and
 * every round of any scheduler hands on the domains fenced on a down host that
 * nothing started since (Membership's resumeFenced). The cut is made by hand:
 * HostDown and the fence's DomainStopped written as the dead scheduler would
 * have, nothing queued. Two membership instances then ask for the restart:
 * the domain starts once, elsewhere.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { fencedError } from '@virtflow/model';
import { domainRef, hostRef } from '@virtflow/runtime';
import { Membership, startScheduler } from '@virtflow/scheduler';
import { command, waitFor } from '../agent/support.ts';
import { clusterDomainXml, startAgentCluster } from './support.ts';

const T = 1_000;
const FENCE = 500;
const HEARTBEAT = 300;

test('an HA domain fenced by a scheduler that died before restarting it is restarted by the next round, once', { timeout: 180_000 }, async (t) => {
  const { nats, agents, cleanups } = await startAgentCluster(t, ['a', 'b', 'c'], { heartbeatMs: HEARTBEAT, withRedis: true, hv: { cpus: 16, memoryKiB: 8 * 1024 * 1024 } });
  const nc = await nats.connect();
  const store = await nats.store();
  const svc = await startScheduler({ redisUrl: nats.servers.redisUrl, store, nc, concurrency: 4 });
  cleanups.push(() => svc.close());

  const uuid = randomUUID();
  const name = 'ha-resume';
  assert.equal((await command(nc, 'a', 'define', uuid, { xml: clusterDomainXml({ name, uuid, ha: 'restart' }) })).outcome.status, 'completed');
  assert.equal((await svc.start({ uuid, correlationId: `start-${uuid}`, hints: { requestedHost: 'c' } })).hostId, 'c');

  // c goes silent; the scheduler that marks it down and fences the domain dies before the restart.
  await agents.get('c')!.agent.stop();
  agents.delete('c');
  await store.update(hostRef('c'), ({ state }) => (state?.up ? [{ type: 'HostDown', data: { hostId: 'c', reason: 'no heartbeat (test)', lastSeen: new Date().toISOString() } }] : []));
  const fence = await store.update(domainRef(uuid), ({ state }) => [{ type: 'DomainStopped', data: { uuid, hostId: 'c', detail: 'FAILED', error: fencedError('c', state!.name, new Date().toISOString()) } }], { correlationId: 'ha-c-dead-scheduler', causationId: 'membership' });
  assert.equal((await store.load(domainRef(uuid))).state?.state, 'shutoff');

  // The schedulers still running (two, side by side) find it in their next rounds.
  const config = { downAfterMs: T, fenceDelayMs: FENCE };
  const restart = (r: Parameters<typeof svc.restart>[0]) => svc.restart(r);
  const m1 = await Membership.start({ nc, store, config, restart, resumeFenced: true, checkMs: 100 });
  const m2 = await Membership.start({ nc: await nats.connect(), store: await nats.store(), config, restart, resumeFenced: true, checkMs: 100 });
  cleanups.push(() => m1.stop(), () => m2.stop());

  const st = await waitFor(`${name} running again`, async () => {
    const s = (await store.load(domainRef(uuid))).state;
    return s?.state === 'running' ? s : undefined;
  }, 60_000);
  assert.notEqual(st.hostId, 'c');
  assert.ok((await agents.get(st.hostId!)!.hv.list()).some((d) => d.uuid === uuid && d.state === 'running'), `runs in ${st.hostId}'s hypervisor`);
  // A few more rounds: nothing more happens to it.
  await new Promise((r) => setTimeout(r, 1_500));
  const after = (await store.events(domainRef(uuid))).map((e) => e.event).filter((e) => e.version > fence.version);
  assert.deepEqual(after.map((e) => e.type), ['DomainPlaced', 'DomainStarted'], 'started once after the fence');
  assert.ok([...m1.records, ...m2.records].some((r) => r.kind === 'restarted' && r.uuid === uuid));
});
