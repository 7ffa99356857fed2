/**
 * A migration job run again after its scheduler was killed part-way (BullMQ's
 * stalled check hands the job to another worker, same job id = correlationId).
 * The cut is made deterministic by writing what the killed run had written by
 * hand (the destination's claim and DomainMigrating), or by letting a first
 * run finish and running the job again. Before, the rerun refused its own
 * migration ("already being migrated"), failed for good and left the domain
 * migrating forever; and a rerun after the arrival moved the domain again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { domainRef, type EventStore } from '@virtflow/runtime';
import { heldClaims, type ClaimsContext } from '@virtflow/scheduler';
import { evacuate } from '../../services/scheduler/src/evacuate.ts';
import { migrate, type MigrateContext } from '../../services/scheduler/src/migrate.ts';
import { GiB, startMigrateRig, type MigrateRig } from './migrate-support.ts';
import { domainState, events } from '../agent/support.ts';

describe('migrate: a rerun of the job after its scheduler died', { timeout: 300_000 }, () => {
  let rig: MigrateRig;
  let store: EventStore;
  let claims: ClaimsContext;
  let ctx: MigrateContext;

  before(async () => {
    rig = await startMigrateRig({ m1: { memoryKiB: 16 * GiB }, m2: { memoryKiB: 16 * GiB } });
    ({ store, claims, ctx } = rig);
  });
  after(async () => rig?.close());

  const running = (hostId: string, name: string) => rig.running(hostId, name);
  const runsOn = (hostId: string, uuid: string) => rig.runsOn(hostId, uuid);

  it('killed after DomainMigrating, before any command: the rerun calls it off and migrates the domain', async () => {
    const uuid = await running('m1', 'cut-migrating');
    const ids = { correlationId: 'job-cut-migrating' };
    // What the killed run wrote: the destination's claim, then the decision.
    assert.equal((await ctx.claims.claim({ uuid, hostId: 'm2', memoryKiB: 256 * 1024, vcpus: 2, migrateFrom: 'm1' }, ids)).ok, true);
    await store.update(domainRef(uuid), () => [{ type: 'DomainMigrating', data: { uuid, fromHost: 'm1', toHost: 'm2' } }], ids);
    assert.equal((await domainState(store, uuid))?.migrating, true);

    const r = await migrate(ctx, { uuid, toHost: 'm2', live: true, correlationId: ids.correlationId });
    assert.deepEqual({ from: r.fromHost, to: r.toHost }, { from: 'm1', to: 'm2' });
    const s = (await domainState(store, uuid))!;
    assert.deepEqual({ state: s.state, hostId: s.hostId, migrating: s.migrating }, { state: 'running', hostId: 'm2', migrating: false });
    assert.equal(await runsOn('m2', uuid), true);
    assert.equal(await runsOn('m1', uuid), false);
    assert.equal(Object.hasOwn(await heldClaims(claims, 'm1'), uuid), false, 'the source claim is released');
    assert.equal((await heldClaims(claims, 'm2'))[uuid]?.migrateFrom, 'm1', 'one claim on the destination');
  });

  it('killed after the arrival, before the job completed: the rerun reports it done and moves nothing', async () => {
    const uuid = await running('m1', 'cut-arrived');
    const first = await migrate(ctx, { uuid, live: true, correlationId: 'job-cut-arrived' });
    assert.equal(first.toHost, 'm2');
    const before = (await store.load(domainRef(uuid))).version;

    const again = await migrate(ctx, { uuid, live: true, correlationId: 'job-cut-arrived' });
    assert.deepEqual({ from: again.fromHost, to: again.toHost }, { from: 'm1', to: 'm2' });
    assert.equal((await store.load(domainRef(uuid))).version, before, 'nothing written');
    assert.equal((await domainState(store, uuid))?.hostId, 'm2');
    assert.equal((await events(store, uuid)).filter((e) => e.type === 'DomainMigrating').length, 1);
  });

  it('an evacuation run again finishes the migration its earlier run left: moved, not skipped as "already being migrated"', async () => {
    const uuid = await running('m1', 'cut-evacuate');
    const ids = { correlationId: 'job-cut-evacuate' };
    assert.equal((await ctx.claims.claim({ uuid, hostId: 'm2', memoryKiB: 256 * 1024, vcpus: 2, migrateFrom: 'm1' }, ids)).ok, true);
    await store.update(domainRef(uuid), () => [{ type: 'DomainMigrating', data: { uuid, fromHost: 'm1', toHost: 'm2' } }], ids);

    const r = await evacuate(ctx, 'm1', { correlationId: ids.correlationId });
    assert.deepEqual({ moved: r.moved, skipped: r.skipped, failed: r.failed }, { moved: [{ uuid, toHost: 'm2' }], skipped: [], failed: [] });
    const s = (await domainState(store, uuid))!;
    assert.deepEqual({ state: s.state, hostId: s.hostId, migrating: s.migrating }, { state: 'running', hostId: 'm2', migrating: false });
    assert.equal(await runsOn('m2', uuid), true);
    assert.equal(await runsOn('m1', uuid), false);
  });
});
