/**
 * The scheduler service end to end on real servers: the parser hands a start
 * job on, the scheduler places it, claims on the host's stream, records
 * DomainPlaced and has the chosen host's agent (test hypervisor) start it;
 * a failing host is given up for the next one; lifecycle jobs reach the host
 * the domain lives on; stops give the claims back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { VirtError, bookwormQemuCaps, decodeCommand, defaultRegistry, type AnyEvent, type Command, type JobResult } from '@virtflow/model';
import { domainRef, hostRef } from '@virtflow/runtime';
import { ParserClient, startParser, type ParserService } from '@virtflow/parser';
import { claim, heldClaims, type StartAttempt, type StartResult, type RoutedResult } from '@virtflow/scheduler';
import { GiB, MiB, TIMEOUT, define, outcome, schedule, startRig, waitFor, type Rig } from './support.ts';

const injected = () => new VirtError('INTERNAL_ERROR', 'injected: qemu would not start');

async function domainEvents(rig: Rig, uuid: string): Promise<AnyEvent[]> {
  return (await rig.store.events(domainRef(uuid))).map((e) => e.event);
}

describe('scheduler service: start and lifecycle jobs', { timeout: 120_000 }, () => {
  let rig: Rig;
  let parser: ParserService;
  let client: ParserClient;
  before(async () => {
    // Three hosts; the default weights spread by free memory, so node-2 first, then node-3, then node-1.
    rig = await startRig({
      hosts: [{ hostId: 'node-1', memoryKiB: 4 * GiB, cpus: 4 }, { hostId: 'node-2', memoryKiB: 16 * GiB, cpus: 8 }, { hostId: 'node-3', memoryKiB: 8 * GiB, cpus: 8 }],
      config: { maxHosts: 2 },
    });
    parser = await startParser({ redisUrl: rig.servers.redisUrl, store: rig.store, caps: bookwormQemuCaps, registry: defaultRegistry(), concurrency: 8, attempts: 2, backoffMs: 50 });
    client = new ParserClient(rig.servers.redisUrl, { attempts: 2, backoffMs: 50 });
    await client.ready();
  });
  after(async () => {
    await client?.close();
    await parser?.close();
    await rig?.stop();
  });

  it('a start job handed on by the parser places and runs the domain on the best host, with its claim', async () => {
    const defined = await client.run({ op: 'define', xml: `<domain type='test'><name>web-1</name><memory unit='MiB'>512</memory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>` }, TIMEOUT);
    assert.equal(defined.ok, true, defined.ok ? '' : defined.error.message);
    const uuid = (defined as { value: JobResult }).value.uuid;
    // The start command as it goes to the host: with the domain as the scheduler placed it (`known`).
    const sent: Array<Command<'start'>> = [];
    const sniff = rig.nc.subscribe('virt.cmd.>', { callback: (_e, m) => {
      const c = decodeCommand(m.data);
      if (!(c instanceof VirtError) && c.type === 'start' && c.uuid === uuid) sent.push(c);
    } });
    await rig.nc.flush();
    const intake = await client.run({ op: 'start', uuid }, TIMEOUT);
    assert.equal(intake.ok, true);
    const job = (await rig.queue.getJob(intake.jobId))!;
    const o = await outcome(rig, job);
    sniff.unsubscribe();
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
    const r = (o as { value: StartResult }).value;
    assert.equal(r.hostId, 'node-2');
    assert.deepEqual(r.attempts, [{ hostId: 'node-2', outcome: 'started' }]);
    assert.equal(sent.length, 1);
    const known = sent[0]!.args.known;
    assert.ok(known, 'the start command carries the known domain');
    assert.equal(known.hostId, 'node-2');
    assert.equal(known.version, 2);
    assert.equal(known.observation.version, 2);
    assert.equal(known.state, 'shutoff');
    assert.ok(known.xml.includes('<name>web-1</name>'));
    assert.ok(!('history' in known));
    const types = (await domainEvents(rig, uuid)).map((e) => [e.type, 'hostId' in e.data ? e.data.hostId : undefined]);
    assert.deepEqual(types, [['DomainDefined', undefined], ['DomainPlaced', 'node-2'], ['DomainStarted', 'node-2']]);
    const claims = await heldClaims(rig.schedulers[0]!.claims, 'node-2');
    assert.equal(claims[uuid]?.memoryKiB, 512 * MiB);
    assert.equal(claims[uuid]?.vcpus, 2);
    assert.equal(claims[uuid]?.correlationId, intake.jobId, 'the claim carries the job id');
    assert.equal((await rig.hosts.get('node-2')!.hv.list()).some((d) => d.uuid === uuid), true, 'the test hypervisor runs it');
  });

  it('a start that fails on its first host is released there and retried on the next, each attempt reported', async () => {
    const uuid = await define(rig.store, 'retry-1', 256 * MiB);
    rig.hosts.get('node-2')!.hv.failNext('start', injected());
    const progress: unknown[] = [];
    const job = await schedule(rig, { op: 'start', uuid });
    const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => jobId === job.id && progress.push(data);
    rig.events.on('progress', onProgress);
    const o = await outcome(rig, job);
    rig.events.off('progress', onProgress);
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
    const r = (o as { value: StartResult }).value;
    assert.deepEqual(r.attempts.map((a) => [a.hostId, a.outcome]), [['node-2', 'failed'], ['node-3', 'started']]);
    assert.match(r.attempts[0]!.reason!, /injected: qemu would not start/);
    assert.equal(r.hostId, 'node-3');
    // The failure is the agent's DomainCommandFailed on node-2; the domain runs on node-3 only.
    const failed = (await rig.store.events(hostRef('node-2'))).map((e) => e.event).filter((e) => e.type === 'DomainCommandFailed' && e.data.uuid === uuid);
    assert.equal(failed.length, 1);
    const started = (await domainEvents(rig, uuid)).filter((e) => e.type === 'DomainStarted');
    assert.deepEqual(started.map((e) => e.type === 'DomainStarted' && e.data.hostId), ['node-3']);
    const claims = rig.schedulers[0]!.claims;
    assert.equal((await heldClaims(claims, 'node-2'))[uuid], undefined, 'node-2 gave the claim back');
    assert.equal((await heldClaims(claims, 'node-3'))[uuid]?.memoryKiB, 256 * MiB);
    // Job progress listed the attempts as they happened (the last report has both).
    const last = (await rig.queue.getJob(job.id!))!.progress as { attempts: StartAttempt[] };
    assert.deepEqual(last.attempts.map((a) => a.outcome), ['failed', 'started']);
  });

  it('a start failing on every host it may try fails the job, gives back every claim and the placement', async () => {
    const uuid = await define(rig.store, 'doomed-1', 256 * MiB);
    for (const h of ['node-2', 'node-3']) rig.hosts.get(h)!.hv.failNext('start', injected());
    const o = await outcome(rig, await schedule(rig, { op: 'start', uuid }));
    assert.equal(o.ok, false);
    const e = (o as { error: VirtError }).error;
    assert.equal(e.code, 'OPERATION_FAILED');
    assert.match(e.message, /failed to start on 2 hosts \(at most 2 are tried\)/);
    assert.match(e.message, /node-2: start failed: .*injected/);
    assert.match(e.message, /node-3: start failed: .*injected/);
    const s = (await rig.store.load(domainRef(uuid))).state!;
    assert.deepEqual([s.state, s.reason, s.hostId], ['shutoff', 'FAILED', undefined], 'shut off (failed), placed nowhere');
    for (const h of ['node-1', 'node-2', 'node-3']) assert.equal((await heldClaims(rig.schedulers[0]!.claims, h))[uuid], undefined, `no claim left on ${h}`);
  });

  it('no host fits: the job fails with "no host fits" and a line for every host', async () => {
    const uuid = await define(rig.store, 'huge-1', 64 * GiB);
    const o = await outcome(rig, await schedule(rig, { op: 'start', uuid }));
    assert.equal(o.ok, false);
    const e = (o as { error: VirtError }).error;
    assert.equal(e.code, 'OPERATION_FAILED');
    assert.match(e.message, /no host fits domain 'huge-1' \(64 GiB, 1 vCPU\): of 3 hosts, 3 by RamFilter/);
    for (const h of ['node-1', 'node-2', 'node-3']) assert.match(e.message, new RegExp(`${h}: RamFilter: free memory .* < requested 64 GiB`));
    assert.equal((await rig.store.load(domainRef(uuid))).state!.hostId, undefined, 'nothing placed');
  });

  it('scheduler hints steer the start: a preferred host is chosen, bad hints fail with their path', async () => {
    const uuid = await define(rig.store, 'hinted-1', 128 * MiB);
    const o = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { preferredHost: 'node-1' } }));
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
    assert.equal((o as { value: StartResult }).value.hostId, 'node-1');
    const bad = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { zone: 'x' } }));
    assert.equal(bad.ok, false);
    assert.deepEqual([(bad as { error: VirtError }).error.code, (bad as { error: VirtError }).error.path], ['INVALID_ARG', '/schedulerHints/zone']);
  });

  it('lifecycle jobs go to the host the domain lives on; shutdown and destroy give the claim back', async () => {
    const uuid = await define(rig.store, 'life-1', 256 * MiB);
    const started = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { preferredHost: 'node-3' } }));
    assert.equal(started.ok, true, started.ok ? '' : started.error.message);
    const run = async (op: string) => {
      const o = await outcome(rig, await schedule(rig, { op, uuid }));
      assert.equal(o.ok, true, o.ok ? '' : `${op}: ${o.error.message}`);
      return (o as { value: RoutedResult }).value;
    };
    for (const op of ['suspend', 'resume', 'reboot', 'reset']) assert.equal((await run(op)).hostId, 'node-3', op);
    const lifecycle = (await domainEvents(rig, uuid)).filter((e) => e.type === 'DomainSuspended' || e.type === 'DomainResumed');
    assert.deepEqual(lifecycle.map((e) => [e.type, 'hostId' in e.data && e.data.hostId]), [['DomainSuspended', 'node-3'], ['DomainResumed', 'node-3']]);
    const claims = rig.schedulers[0]!.claims;
    // shutdown: the guest powers off a moment later; the stop watcher gives the claim back.
    assert.equal((await run('shutdown')).hostId, 'node-3');
    await waitFor('the domain to stop', async () => ((await rig.store.load(domainRef(uuid))).state!.state === 'shutoff' ? true : undefined));
    await waitFor('the claim on node-3 to be given back', async () => ((await heldClaims(claims, 'node-3'))[uuid] === undefined ? true : undefined));
    // Not running any more: the scheduler says so, as libvirt does.
    const off = await outcome(rig, await schedule(rig, { op: 'suspend', uuid }));
    assert.deepEqual([off.ok, !off.ok && off.error.code, !off.ok && off.error.message], [false, 'OPERATION_INVALID', 'Requested operation is not valid: domain is not running']);
    // Again, now on node-1 (preferred), and destroyed: the claim goes back with the job.
    const again = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { preferredHost: 'node-1' } }));
    assert.equal(again.ok, true, again.ok ? '' : again.error.message);
    assert.ok((await heldClaims(claims, 'node-1'))[uuid]);
    const d = await run('destroy');
    assert.deepEqual([d.hostId, d.events.map((e) => e.type)], ['node-1', ['DomainStopped']]);
    // Given back by the job itself, or a moment earlier by the stop watcher: gone either way once the job is done.
    assert.equal((await heldClaims(claims, 'node-1'))[uuid], undefined);
    const releases = (await rig.store.events(hostRef('node-1'))).map((e) => e.event).filter((e) => e.type === 'HostResourcesReleased' && e.data.uuid === uuid);
    assert.equal(releases.length, 1, 'released once, not twice');
  });

  it('a guest that powers itself off gives its claim back (the stop watcher)', async () => {
    const uuid = await define(rig.store, 'self-off-1', 128 * MiB);
    const o = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { preferredHost: 'node-2' } }));
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
    const claims = rig.schedulers[0]!.claims;
    assert.ok((await heldClaims(claims, 'node-2'))[uuid]);
    rig.hosts.get('node-2')!.hv.powerOff(uuid);
    await waitFor('the claim on node-2 to be given back', async () => ((await heldClaims(claims, 'node-2'))[uuid] === undefined ? true : undefined));
    const released = (await rig.store.events(hostRef('node-2'))).map((e) => e.event).filter((e) => e.type === 'HostResourcesReleased' && e.data.uuid === uuid);
    assert.equal(released.length, 1);
    assert.match(released[0]!.type === 'HostResourcesReleased' ? released[0]!.data.reason : '', /domain stopped \(SHUTDOWN\)/);
  });
  it('a migrate job goes through the hook to the migration module: the domain moves, the claims follow', async () => {
    const uuid = await define(rig.store, 'mover-1', 128 * MiB);
    const started = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { preferredHost: 'node-2' } }));
    assert.equal(started.ok, true, started.ok ? '' : started.error.message);
    const o = await outcome(rig, await schedule(rig, { op: 'migrate', uuid, toHost: 'node-3' }));
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
    assert.deepEqual([(o.ok && (o.value as { toHost: string }).toHost), (await rig.store.load(domainRef(uuid))).state!.hostId], ['node-3', 'node-3']);
    const claims = rig.schedulers[0]!.claims;
    await waitFor('the claim on node-2 to be given back', async () => ((await heldClaims(claims, 'node-2'))[uuid] === undefined ? true : undefined));
    assert.equal((await heldClaims(claims, 'node-3'))[uuid]?.memoryKiB, 128 * MiB);
  });
  it('a start left half-done elsewhere (placed and claimed, never started) is given back before the next start', async () => {
    const uuid = await define(rig.store, 'leftover-1', 256 * MiB);
    const claims = rig.schedulers[0]!.claims;
    // What a scheduler that died between DomainPlaced and the agent's start leaves behind.
    const c = await claim(claims, 'node-1', { uuid, memoryKiB: 256 * MiB, vcpus: 1 }, { correlationId: 'crashed-job' });
    assert.equal(c.ok, true);
    await rig.store.update(domainRef(uuid), () => [{ type: 'DomainPlaced', data: { uuid, hostId: 'node-1', memoryKiB: 256 * MiB, vcpus: 1 } }], { correlationId: 'crashed-job' });
    const o = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { preferredHost: 'node-3' } }));
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
    assert.equal((o as { value: StartResult }).value.hostId, 'node-3');
    assert.equal((await heldClaims(claims, 'node-1'))[uuid], undefined, 'the leftover claim on node-1 is gone');
    assert.equal((await heldClaims(claims, 'node-3'))[uuid]?.memoryKiB, 256 * MiB);
  });

  // Issue 9's chaos suite: a start claimed on one host, its scheduler was SIGKILLed, BullMQ's stalled-job check
  // ran the job again, which claimed and started on another host, and the first claim was never given back.
  it('a start job run again after its scheduler died (claimed on a host, not placed yet) gives that claim back once it runs elsewhere', async () => {
    const uuid = await define(rig.store, 'rerun-1', 256 * MiB);
    const claims = rig.schedulers[0]!.claims;
    const jobId = randomUUID();
    // What the killed run left: its claim on node-1, nothing on the domain (it died before DomainPlaced).
    const c = await claim(claims, 'node-1', { uuid, memoryKiB: 256 * MiB, vcpus: 1, reason: `start job ${jobId}` }, { correlationId: jobId });
    assert.equal(c.ok, true);
    await waitFor('the live inventory to hold the claim', () => (rig.schedulers[0]!.live.claimOf('node-1', uuid) !== undefined ? true : undefined));
    const o = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { preferredHost: 'node-3' } }, jobId));
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
    assert.equal((o as { value: StartResult }).value.hostId, 'node-3');
    assert.equal((await heldClaims(claims, 'node-1'))[uuid], undefined, "the earlier run's claim on node-1 is given back");
    assert.equal((await heldClaims(claims, 'node-3'))[uuid]?.correlationId, jobId);
    const released = (await rig.store.events(hostRef('node-1'))).map((e) => e.event).filter((e) => e.type === 'HostResourcesReleased' && e.data.uuid === uuid);
    assert.equal(released.length, 1, 'released once');
    // Run once more (a lost lock): the job finds its own start, and gives nothing back twice.
    const again = await rig.schedulers[0]!.start({ uuid, correlationId: jobId, rerun: true });
    assert.deepEqual([again.hostId, again.already], ['node-3', true]);
    const releasedAgain = (await rig.store.events(hostRef('node-1'))).map((e) => e.event).filter((e) => e.type === 'HostResourcesReleased' && e.data.uuid === uuid);
    assert.equal(releasedAgain.length, 1, 'still released once');
    assert.equal((await heldClaims(claims, 'node-3'))[uuid]?.correlationId, jobId, 'the claim where it runs stays');
    const destroyed = await outcome(rig, await schedule(rig, { op: 'destroy', uuid }));
    assert.equal(destroyed.ok, true, destroyed.ok ? '' : destroyed.error.message);
    for (const h of ['node-1', 'node-2', 'node-3']) assert.equal((await heldClaims(claims, h))[uuid], undefined, `no claim left on ${h}`);
  });

  it('a claim left by another start that died between its claim and its placement is given back by the next start of the domain', async () => {
    const uuid = await define(rig.store, 'rerun-2', 256 * MiB);
    const claims = rig.schedulers[0]!.claims;
    const c = await claim(claims, 'node-2', { uuid, memoryKiB: 256 * MiB, vcpus: 1 }, { correlationId: 'died-before-placing' });
    assert.equal(c.ok, true);
    await waitFor('the live inventory to hold the claim', () => (rig.schedulers[0]!.live.claimOf('node-2', uuid) !== undefined ? true : undefined));
    const o = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { preferredHost: 'node-3' } }));
    assert.equal(o.ok, true, o.ok ? '' : o.error.message);
    assert.equal((o as { value: StartResult }).value.hostId, 'node-3');
    assert.equal((await heldClaims(claims, 'node-2'))[uuid], undefined, 'the dead start’s claim on node-2 is given back');
    assert.equal((await outcome(rig, await schedule(rig, { op: 'destroy', uuid }))).ok, true);
  });

  it('a start job that fails for good on its rerun gives back what its earlier run claimed', async () => {
    const uuid = await define(rig.store, 'rerun-3', 256 * MiB);
    const claims = rig.schedulers[0]!.claims;
    const jobId = randomUUID();
    assert.equal((await claim(claims, 'node-1', { uuid, memoryKiB: 256 * MiB, vcpus: 1 }, { correlationId: jobId })).ok, true);
    await waitFor('the live inventory to hold the claim', () => (rig.schedulers[0]!.live.claimOf('node-1', uuid) !== undefined ? true : undefined));
    const o = await outcome(rig, await schedule(rig, { op: 'start', uuid, schedulerHints: { excludeHosts: ['node-1', 'node-2', 'node-3'] } }, jobId));
    assert.equal(o.ok, false);
    assert.match((o as { error: VirtError }).error.message, /no host fits/);
    assert.equal((await heldClaims(claims, 'node-1'))[uuid], undefined, "the earlier run's claim is given back");
  });
});
