/**
 * Migration, evacuation and drain against a real nats-server and three
 * in-process agents on the test hypervisor: the scheduler's claims
 * (services/scheduler claims.ts) on the host aggregates, the placement of
 * the model, the agents' migrate-in / migrate-out.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { VirtError, place, placementRequest, parseDomainXML } from '@virtflow/model';
import { domainRef, hostRef, type EventStore } from '@virtflow/runtime';
import { heldClaims, type ClaimsContext } from '@virtflow/scheduler';
import { drain, undrain } from '../../services/scheduler/src/drain.ts';
import { evacuate } from '../../services/scheduler/src/evacuate.ts';
import { migrate, type MigrateContext, type MigrationProgress } from '../../services/scheduler/src/migrate.ts';
import { GiB, show, startMigrateRig, type MigrateRig } from './migrate-support.ts';
import { command, domainState, events, type TestAgent } from '../agent/support.ts';

describe('migrate, evacuate, drain (test hypervisor, three agents)', { timeout: 600_000 }, () => {
  let rig: MigrateRig;
  let nc: NatsConnection;
  let store: EventStore;
  let claims: ClaimsContext;
  let agents: Map<string, TestAgent>;
  const progress: MigrationProgress[] = [];
  let ctx: MigrateContext;

  before(async () => {
    rig = await startMigrateRig({
      // h1's guests ignore the ACPI power button (as a guest with no OS does): a cold migration destroys them after the grace period.
      h1: { memoryKiB: 16 * GiB, guestShutdownMs: Infinity },
      h2: { memoryKiB: 16 * GiB },
      // h3 is small: 2 GiB, so a 4 GiB domain never fits there.
      h3: { memoryKiB: 2 * GiB },
    }, { progress: (p) => void progress.push(p) });
    ({ nc, store, claims, agents, ctx } = rig);
  });
  after(async () => rig?.close());

  const running = (hostId: string, name: string, memoryMiB?: number) => rig.running(hostId, name, memoryMiB);
  const runsOn = (hostId: string, uuid: string) => rig.runsOn(hostId, uuid);

  it('live-migrates a running domain to the host asked for: events in order, claims moved, progress reported', async () => {
    const uuid = await running('h1', 'mover');
    progress.length = 0;
    const r = await migrate(ctx, { uuid, toHost: 'h2', live: true, correlationId: 'job-move' });
    assert.deepEqual({ from: r.fromHost, to: r.toHost }, { from: 'h1', to: 'h2' });
    const s = (await domainState(store, uuid))!;
    assert.deepEqual({ state: s.state, reason: s.reason, hostId: s.hostId, migrating: s.migrating }, { state: 'running', reason: 'MIGRATED', hostId: 'h2', migrating: false });
    assert.equal(await runsOn('h2', uuid), true);
    assert.equal(await runsOn('h1', uuid), false);
    const mine = (await events(store, uuid)).filter((e) => e.correlationId === 'job-move');
    assert.equal(show(mine[0]!), 'DomainMigrating@h1->h2', 'the decision is recorded before anything moves');
    // The two ends report in either order, as libvirt's do.
    assert.deepEqual(mine.slice(1).map(show).sort(), ['DomainResumed MIGRATED@h2', 'DomainStopped MIGRATED@h1']);
    assert.equal(mine.length, 3);
    const [c1, c2] = [await heldClaims(claims, 'h1'), await heldClaims(claims, 'h2')];
    assert.equal(Object.hasOwn(c1, uuid), false, 'the source claim is released');
    assert.deepEqual(c2[uuid] && { memoryKiB: c2[uuid].memoryKiB, migrateFrom: c2[uuid].migrateFrom }, { memoryKiB: 256 * 1024, migrateFrom: 'h1' });
    const h1Events = (await store.events(hostRef('h1'))).map((e) => e.event).filter((e) => e.correlationId === 'job-move');
    assert.deepEqual(h1Events.map((e) => e.type), ['HostResourcesReleased']);
    assert.deepEqual(progress.filter((p) => p.uuid === uuid).map((p) => p.stage), ['choosing', 'claimed', 'recorded', 'incoming', 'transfer', 'arrived']);
  });

  it('live-migrates a paused domain: it arrives paused (started MIGRATED, then suspended PAUSED, as qemu reports it)', async () => {
    const uuid = await running('h1', 'paused-mover');
    const p = await command(nc, 'h1', 'suspend', uuid, {});
    assert.equal(p.outcome.status, 'completed', JSON.stringify(p.outcome.error));
    const r = await migrate(ctx, { uuid, toHost: 'h2', live: true, correlationId: 'job-paused' });
    assert.equal(r.toHost, 'h2');
    const s = (await domainState(store, uuid))!;
    assert.deepEqual({ state: s.state, hostId: s.hostId, migrating: s.migrating }, { state: 'paused', hostId: 'h2', migrating: false });
    assert.deepEqual((await agents.get('h2')!.hv.list()).filter((d) => d.uuid === uuid).map((d) => d.state), ['paused']);
    const mine = (await events(store, uuid)).filter((e) => e.correlationId === 'job-paused').map(show);
    assert.equal(mine[0], 'DomainMigrating@h1->h2');
    assert.ok(mine.includes('DomainStarted MIGRATED@h2') && mine.includes('DomainStopped MIGRATED@h1'), mine.join(', '));
    assert.ok(mine.indexOf('DomainSuspended PAUSED@h2') > mine.indexOf('DomainStarted MIGRATED@h2'), mine.join(', '));
  });

  it('refuses a destination the domain does not fit, with the filter\'s reason, and changes nothing', async () => {
    const uuid = await running('h1', 'too-big', 4096);
    const before = (await store.load(domainRef(uuid))).version;
    const hostsBefore = await Promise.all(['h1', 'h2', 'h3'].map(async (h) => (await store.load(hostRef(h))).version));
    await assert.rejects(migrate(ctx, { uuid, toHost: 'h3', live: true }), (e: unknown) => {
      assert.ok(e instanceof VirtError);
      assert.equal(e.code, 'OPERATION_INVALID');
      assert.equal(e.path, '/toHost');
      assert.match(e.message, /cannot migrate domain 'too-big' to host 'h3': RamFilter: free memory .* < requested 4 GiB/);
      return true;
    });
    await assert.rejects(migrate(ctx, { uuid, toHost: 'h1', live: true }), /cannot be migrated to the host it runs on/);
    await assert.rejects(migrate(ctx, { uuid, toHost: 'nowhere', live: true }), (e: unknown) => e instanceof VirtError && e.code === 'INVALID_ARG' && /no such host/.test(e.message));
    assert.equal((await store.load(domainRef(uuid))).version, before, 'no event on the domain');
    assert.deepEqual(await Promise.all(['h1', 'h2', 'h3'].map(async (h) => (await store.load(hostRef(h))).version)), hostsBefore, 'no claim taken anywhere');
    assert.equal(await runsOn('h1', uuid), true);
    // Without a destination the placement passes h3 over and never picks the source.
    const r = await migrate(ctx, { uuid, live: true });
    assert.equal(r.toHost, 'h2');
  });

  it('a migration that fails at the source leaves the domain running there and gives the destination claim back', async () => {
    const uuid = await running('h1', 'stays');
    agents.get('h1')!.hv.failNext('migrateOut', new VirtError('OPERATION_FAILED', 'migration stream broken'));
    await assert.rejects(migrate(ctx, { uuid, toHost: 'h2', live: true, correlationId: 'job-fail' }), (e: unknown) => {
      assert.ok(e instanceof VirtError);
      assert.equal(e.code, 'OPERATION_FAILED');
      assert.match(e.message, /migration of domain 'stays' from host 'h1' to 'h2' failed: .*migrate-out on host 'h1' failed: .*migration stream broken/);
      return true;
    });
    const s = (await domainState(store, uuid))!;
    assert.deepEqual({ state: s.state, hostId: s.hostId, migrating: s.migrating }, { state: 'running', hostId: 'h1', migrating: false });
    assert.equal(await runsOn('h1', uuid), true);
    assert.equal(Object.hasOwn(await heldClaims(claims, 'h2'), uuid), false, 'the destination claim is given back');
    assert.equal(Object.hasOwn(await heldClaims(claims, 'h1'), uuid), true, 'the source keeps its claim');
    const tail = (await events(store, uuid)).filter((e) => e.correlationId === 'job-fail').map(show);
    assert.deepEqual(tail, ['DomainMigrating@h1->h2', 'DomainStopped FAILED@h2']);
    // h2's test hypervisor still listens for the migration that never came (no command cancels a
    // migrate-in) and keeps one listener per domain: a second migration of this domain to h2
    // would orphan the first one past the hypervisor's close. Destroy it so evacuate leaves it.
    assert.equal((await command(nc, 'h1', 'destroy', uuid, {})).outcome.status, 'completed');
    // What the scheduler service does on every stop it sees.
    await ctx.claims.release('h1', uuid, 'domain stopped (DESTROYED)', { correlationId: 'test' });
  });

  it('cold-migrates (live: false): stopped on the source (destroyed: the guest ignores ACPI), booted on the destination', async () => {
    const uuid = await running('h1', 'cold');
    const r = await migrate({ ...ctx, shutdownGraceMs: 1000 }, { uuid, toHost: 'h2', live: false, correlationId: 'job-cold' });
    assert.equal(r.toHost, 'h2');
    const s = (await domainState(store, uuid))!;
    assert.deepEqual({ state: s.state, reason: s.reason, hostId: s.hostId }, { state: 'running', reason: 'BOOTED', hostId: 'h2' });
    const tail = (await events(store, uuid)).filter((e) => e.correlationId === 'job-cold').map(show);
    assert.deepEqual(tail, ['DomainStopped DESTROYED@h1', 'DomainPlaced@h2', 'DomainStarted BOOTED@h2']);
    assert.equal(await runsOn('h1', uuid), false);
    assert.equal(await runsOn('h2', uuid), true);
    assert.equal(Object.hasOwn(await heldClaims(claims, 'h1'), uuid), false);
    assert.equal(Object.hasOwn(await heldClaims(claims, 'h2'), uuid), true);
  });

  it('evacuates a host with 10 domains: every one moves, none runs on it afterwards', async () => {
    const uuids: string[] = [];
    for (let i = 0; i < 10; i++) uuids.push(await running('h1', `evac-${i}`));
    const r = await evacuate(ctx, 'h1', { correlationId: 'job-evac' });
    assert.equal(r.mode, 'live');
    assert.deepEqual(r.failed, []);
    // The domains of the earlier tests still on h1 move as well.
    for (const uuid of uuids) assert.ok(r.moved.some((m) => m.uuid === uuid), `${uuid} moved`);
    for (const uuid of uuids) {
      const s = (await domainState(store, uuid))!;
      assert.equal(s.state, 'running');
      assert.notEqual(s.hostId, 'h1');
      assert.equal(await runsOn(s.hostId!, uuid), true);
    }
    assert.deepEqual((await agents.get('h1')!.hv.list()).map((d) => d.uuid), []);
    const inv = await ctx.inventory();
    assert.deepEqual(inv.hosts.get('h1')!.domains, []);
    assert.equal(Object.keys(await heldClaims(claims, 'h1')).length, 0, 'h1 holds no claim any more');
  });

  it('drain: the host is evacuated and placement never picks it until it is undrained', async () => {
    const a = await running('h2', 'drain-a');
    const r = await drain(ctx, 'h2', { correlationId: 'job-drain' });
    assert.equal(r.drained, true);
    assert.deepEqual(r.failed, []);
    assert.ok(r.moved.some((m) => m.uuid === a));
    assert.deepEqual((await agents.get('h2')!.hv.list()).map((d) => d.uuid), []);
    const facts = (await store.load(hostRef('h2'))).state!;
    assert.equal(facts.drained, true);
    // 50 placements of a small domain: none on h2.
    const inv = await ctx.inventory();
    const req = placementRequest(parseDomainXML((await domainState(store, a))!.xml));
    for (let i = 0; i < 50; i++) {
      const p = place(inv, { ...req, uuid: randomUUID() }, {}, { random: Math.random });
      assert.ok(p.claim, p.summary);
      assert.notEqual(p.claim.hostId, 'h2');
      assert.ok(p.explain.some((x) => x.hostId === 'h2' && /drained/.test(x.reason)));
    }
    const b = await running('h1', 'drain-b');
    await assert.rejects(migrate(ctx, { uuid: b, toHost: 'h2', live: true }), /host 'h2': ComputeFilter: host is drained/);
    // Draining twice changes nothing.
    assert.equal((await drain(ctx, 'h2')).drained, false);
    assert.equal(await undrain(ctx, 'h2'), true);
    assert.equal(await undrain(ctx, 'h2'), false);
    assert.equal((await migrate(ctx, { uuid: b, toHost: 'h2', live: true })).toHost, 'h2');
  });

  it('evacuates a down host cold: each domain is recorded stopped there and booted elsewhere', async () => {
    const uuids = [await running('h3', 'down-a'), await running('h3', 'down-b')];
    // The host dies: its agent is gone and the failure handler has said so.
    await agents.get('h3')!.agent.stop();
    agents.delete('h3');
    await store.update(hostRef('h3'), () => [{ type: 'HostDown', data: { hostId: 'h3', reason: 'missed heartbeats' } }], { correlationId: 'hostfail' });
    const r = await evacuate(ctx, 'h3', { correlationId: 'job-down' });
    assert.equal(r.mode, 'cold');
    assert.deepEqual(r.failed, []);
    for (const uuid of uuids) assert.ok(r.moved.some((m) => m.uuid === uuid), `${uuid} moved`);
    for (const uuid of uuids) {
      const s = (await domainState(store, uuid))!;
      assert.equal(s.state, 'running');
      assert.ok(s.hostId === 'h1' || s.hostId === 'h2', s.hostId);
      const tail = (await events(store, uuid)).filter((e) => e.correlationId === 'job-down').map(show);
      assert.deepEqual(tail, ['DomainStopped FAILED@h3', `DomainPlaced@${s.hostId}`, `DomainStarted BOOTED@${s.hostId}`]);
    }
    assert.equal(Object.keys(await heldClaims(claims, 'h3')).length, 0);
    assert.deepEqual((await ctx.inventory()).hosts.get('h3')!.domains, []);
  });
});
