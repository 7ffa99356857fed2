/**
 * A cold move's job run again after its scheduler was killed part-way
 * (BullMQ's stalled check hands the job to another worker, same job id =
 * correlationId). As in migrate-resume.test.ts, the cut is made deterministic
 * by writing by hand what the killed run had written (its claim, its stop on
 * the source as the agent records it, its placement), or by letting a first
 * run finish and running the job again. Before, a cold migration cut after the
 * stop on the source failed for good on its rerun ("not running"), the domain
 * off and the destination's claim held; an evacuation of a down host cut after
 * a domain's FAILED stop left that domain off (the rerun no longer saw it on
 * the host); and a rerun after a complete cold migration moved the domain again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { VirtError } from '@virtflow/model';
import { domainRef, hostRef, type EventStore } from '@virtflow/runtime';
import { heldClaims, type ClaimsContext } from '@virtflow/scheduler';
import { evacuate } from '../../services/scheduler/src/evacuate.ts';
import { migrate, type MigrateContext } from '../../services/scheduler/src/migrate.ts';
import { GiB, show, startMigrateRig, type MigrateRig } from './migrate-support.ts';
import { command, domainState, events, type TestAgent } from '../agent/support.ts';

const SIZE = { memoryKiB: 256 * 1024, vcpus: 2 };

describe('cold moves: a rerun of the job after its scheduler died', { timeout: 300_000 }, () => {
  let rig: MigrateRig;
  let nc: NatsConnection;
  let store: EventStore;
  let claims: ClaimsContext;
  let agents: Map<string, TestAgent>;
  let ctx: MigrateContext;

  before(async () => {
    rig = await startMigrateRig({
      c1: { memoryKiB: 16 * GiB },
      c2: { memoryKiB: 16 * GiB },
      // c3 is the biggest: a destination chosen afresh is c3, so a domain on c2 went where its earlier run's claim said.
      c3: { memoryKiB: 64 * GiB },
      // c4 goes down for the evacuation.
      c4: { memoryKiB: 16 * GiB },
    }, { shutdownGraceMs: 5_000 });
    ({ nc, store, claims, agents, ctx } = rig);
  });
  after(async () => rig?.close());

  /** SIZE (256 MiB, 2 vCPUs) is what the rig's running() defines and claims. */
  const running = (hostId: string, name: string) => rig.running(hostId, name);
  const runsOn = (hostId: string, uuid: string) => rig.runsOn(hostId, uuid);
  const own = async (uuid: string, correlationId: string) => (await events(store, uuid)).filter((e) => e.correlationId === correlationId).map(show);
  const claimOn = async (hostId: string, uuid: string) => (await heldClaims(claims, hostId))[uuid];
  /** What the killed run's stopOn left: the source's agent stopped the domain for the job (its events carry the job's id). */
  async function stoppedByJob(hostId: string, uuid: string, correlationId: string): Promise<void> {
    assert.equal((await command(nc, hostId, 'destroy', uuid, {}, { correlationId })).outcome.status, 'completed');
    assert.equal((await domainState(store, uuid))?.state, 'shutoff');
  }

  it('cold migrate killed after the stop on the source: the rerun boots the domain on the destination its earlier run claimed', async () => {
    const uuid = await running('c1', 'cut-stopped');
    const ids = { correlationId: 'job-cold-cut-stopped' };
    // What the killed run wrote: the destination's claim, then the stop on the source.
    assert.equal((await ctx.claims.claim({ uuid, hostId: 'c2', ...SIZE }, ids)).ok, true);
    await stoppedByJob('c1', uuid, ids.correlationId);

    const r = await migrate(ctx, { uuid, live: false, correlationId: ids.correlationId });
    assert.deepEqual({ from: r.fromHost, to: r.toHost, live: r.live }, { from: 'c1', to: 'c2', live: false });
    const s = (await domainState(store, uuid))!;
    assert.deepEqual({ state: s.state, reason: s.reason, hostId: s.hostId }, { state: 'running', reason: 'BOOTED', hostId: 'c2' });
    assert.deepEqual(await own(uuid, ids.correlationId), ['DomainStopped DESTROYED@c1', 'DomainPlaced@c2', 'DomainStarted BOOTED@c2']);
    assert.equal(await runsOn('c2', uuid), true);
    assert.equal(await runsOn('c1', uuid), false);
    assert.equal(await claimOn('c1', uuid), undefined, 'the source claim is released');
    assert.equal((await claimOn('c2', uuid))?.correlationId, ids.correlationId, 'the earlier run\'s claim on the destination is the one held');
    assert.equal(await claimOn('c3', uuid), undefined, 'no claim elsewhere');
  });

  it('cold migrate killed after the placement on the destination: the rerun starts it there, placed once', async () => {
    const uuid = await running('c1', 'cut-placed');
    const ids = { correlationId: 'job-cold-cut-placed' };
    assert.equal((await ctx.claims.claim({ uuid, hostId: 'c2', ...SIZE }, ids)).ok, true);
    await stoppedByJob('c1', uuid, ids.correlationId);
    await store.update(domainRef(uuid), () => [{ type: 'DomainPlaced', data: { uuid, hostId: 'c2', ...SIZE, reason: "moved to host 'c2'" } }], ids);

    const r = await migrate(ctx, { uuid, toHost: 'c2', live: false, correlationId: ids.correlationId });
    assert.deepEqual({ from: r.fromHost, to: r.toHost }, { from: 'c1', to: 'c2' });
    assert.deepEqual(await own(uuid, ids.correlationId), ['DomainStopped DESTROYED@c1', 'DomainPlaced@c2', 'DomainStarted BOOTED@c2']);
    assert.equal(await runsOn('c2', uuid), true);
    assert.equal(await claimOn('c1', uuid), undefined);
    assert.equal((await claimOn('c2', uuid))?.correlationId, ids.correlationId);
  });

  it('cold migrate killed after its boot on the destination failed: the rerun boots the domain on its source again and fails as the first run would', async () => {
    const uuid = await running('c1', 'cut-failed');
    const ids = { correlationId: 'job-cold-cut-failed' };
    assert.equal((await ctx.claims.claim({ uuid, hostId: 'c2', ...SIZE }, ids)).ok, true);
    await stoppedByJob('c1', uuid, ids.correlationId);
    // bootOn's failure as the killed run recorded it, and the destination's claim given back; then the run died.
    const error = new VirtError('OPERATION_FAILED', "start on host 'c2' failed: no space left on device", '/commands/c2/x').toJSON();
    await store.update(domainRef(uuid), () => [
      { type: 'DomainPlaced', data: { uuid, hostId: 'c2', ...SIZE, reason: "moved to host 'c2'" } },
      { type: 'DomainStopped', data: { uuid, hostId: 'c2', detail: 'FAILED', error } },
    ], ids);
    await ctx.claims.release('c2', uuid, 'cold migration failed', ids);

    await assert.rejects(migrate(ctx, { uuid, toHost: 'c2', live: false, correlationId: ids.correlationId }),
      (e: unknown) => e instanceof VirtError && e.code === 'OPERATION_FAILED' && /cold migration of domain 'cut-failed' from host 'c1' to 'c2' failed: start on host 'c2' failed: no space left on device/.test(e.message));
    const s = (await domainState(store, uuid))!;
    assert.deepEqual({ state: s.state, hostId: s.hostId }, { state: 'running', hostId: 'c1' });
    assert.equal(await runsOn('c1', uuid), true);
    assert.equal(await runsOn('c2', uuid), false);
    assert.equal((await claimOn('c1', uuid))?.correlationId, ids.correlationId, 'the source claimed again');
    assert.equal(await claimOn('c2', uuid), undefined);
    assert.deepEqual((await own(uuid, ids.correlationId)).slice(-2), ['DomainPlaced@c1', 'DomainStarted BOOTED@c1']);
  });

  it('a cold migrate run again after it completed reports it done and moves nothing', async () => {
    const uuid = await running('c1', 'cold-done');
    const correlationId = 'job-cold-done';
    const first = await migrate(ctx, { uuid, live: false, correlationId });
    assert.deepEqual({ from: first.fromHost, to: first.toHost }, { from: 'c1', to: 'c3' });
    const versions = async () => [(await store.load(domainRef(uuid))).version, ...(await Promise.all(['c1', 'c2', 'c3'].map(async (h) => (await store.load(hostRef(h))).version)))];
    const before = await versions();

    const again = await migrate(ctx, { uuid, live: false, correlationId });
    assert.deepEqual({ from: again.fromHost, to: again.toHost, live: again.live }, { from: 'c1', to: 'c3', live: false });
    assert.deepEqual(await versions(), before, 'nothing written, to the domain or to any host');
    assert.deepEqual(await own(uuid, correlationId), ['DomainShutdown GUEST@c1', 'DomainStopped SHUTDOWN@c1', 'DomainPlaced@c3', 'DomainStarted BOOTED@c3']);
    assert.equal(await runsOn('c3', uuid), true);
  });

  it('cold evacuate of a down host killed after FAILED stops: the rerun boots each domain elsewhere (on the host its earlier run claimed, if any)', async () => {
    const cut = await running('c4', 'evac-cut');         // released and stopped: nothing claimed yet
    const claimed = await running('c4', 'evac-claimed'); // released, stopped, and claimed on c2
    const untouched = await running('c4', 'evac-untouched');
    const ids = { correlationId: 'job-evac-cut' };
    await agents.get('c4')!.agent.stop();
    agents.delete('c4');
    await store.update(hostRef('c4'), () => [{ type: 'HostDown', data: { hostId: 'c4', reason: 'missed heartbeats' } }], { correlationId: 'hostfail' });
    // What the killed run wrote for two of the three: the claim on the down host given back, the FAILED stop there.
    for (const uuid of [cut, claimed]) {
      await ctx.claims.release('c4', uuid, "host 'c4' is down: domain evacuated", ids);
      const error = new VirtError('OPERATION_FAILED', "host 'c4' is down: domain evacuated", '/hosts/c4').toJSON();
      await store.update(domainRef(uuid), () => [{ type: 'DomainStopped', data: { uuid, hostId: 'c4', detail: 'FAILED', error } }], ids);
      assert.equal((await domainState(store, uuid))?.state, 'shutoff');
    }
    assert.equal((await ctx.claims.claim({ uuid: claimed, hostId: 'c2', ...SIZE }, ids)).ok, true);

    const r = await evacuate(ctx, 'c4', { correlationId: ids.correlationId });
    assert.equal(r.mode, 'cold');
    assert.deepEqual({ failed: r.failed, skipped: r.skipped }, { failed: [], skipped: [] });
    assert.deepEqual(new Set(r.moved.map((m) => m.uuid)), new Set([cut, claimed, untouched]));
    assert.equal(r.moved.find((m) => m.uuid === claimed)?.toHost, 'c2', 'booted where the earlier run claimed');
    for (const { uuid, toHost } of r.moved) {
      const s = (await domainState(store, uuid))!;
      assert.deepEqual({ state: s.state, hostId: s.hostId }, { state: 'running', hostId: toHost });
      assert.notEqual(toHost, 'c4');
      assert.equal(await runsOn(toHost, uuid), true);
      assert.deepEqual(await own(uuid, ids.correlationId), ['DomainStopped FAILED@c4', `DomainPlaced@${toHost}`, `DomainStarted BOOTED@${toHost}`]);
      assert.equal((await claimOn(toHost, uuid))?.correlationId, ids.correlationId);
    }
    assert.equal(Object.keys(await heldClaims(claims, 'c4')).length, 0, 'the down host holds no claim');
    assert.equal(await claimOn('c3', claimed), undefined);

    // Run once more (killed after the last boot, before the job completed): the same answer, nothing written.
    const versions = async () => Promise.all([cut, claimed, untouched].map(async (u) => (await store.load(domainRef(u))).version));
    const before = await versions();
    const again = await evacuate(ctx, 'c4', { correlationId: ids.correlationId });
    assert.deepEqual({ moved: again.moved, failed: again.failed, skipped: again.skipped }, { moved: r.moved, failed: [], skipped: [] });
    assert.deepEqual(await versions(), before);
  });
});
