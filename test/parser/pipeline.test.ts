import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { produce } from 'immer';
import { VirtError, type JobResult, type PolicyStage } from '@virtflow/model';
import { Queue } from 'bullmq';
import { domainRef, queues } from '@virtflow/runtime';
import { unpackProvenance, type StageResult } from '@virtflow/parser';
import { definedCounts, invalidJob, startRig, validXml, type Rig } from './support.ts';

const N = Number(process.env.VIRTFLOW_PARSER_JOBS ?? 1000);

describe('parser service: define jobs through the BullMQ pipeline', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ attempts: 2, backoffMs: 20 });
  });
  after(async () => {
    await rig?.stop();
  });

  it(`defines ${N} jobs over four drivers, 10% invalid: each valid one is exactly one DomainDefined, each invalid one fails with its path`, async () => {
    const plan = Array.from({ length: N }, (_, i) => (i % 10 === 7 ? { i, bad: invalidJob(i) } : { i, bad: undefined }));
    const t0 = performance.now();
    const jobs = await Promise.all(plan.map((p) => rig.client.submit(p.bad ? p.bad.payload : { op: 'define', xml: validXml(p.i) })));
    const outcomes = await Promise.all(jobs.map((j) => rig.client.outcome(j, 120_000)));
    const secs = (performance.now() - t0) / 1000;
    const uuids = new Map<string, number>();
    for (const [k, p] of plan.entries()) {
      const o = outcomes[k]!;
      if (p.bad) {
        assert.equal(o.ok, false, `job ${p.i} (invalid) must fail`);
        if (o.ok) continue;
        assert.equal(o.error.code, p.bad.code, `job ${p.i}: ${o.error.message}`);
        assert.equal(o.error.path, p.bad.path, `job ${p.i}: ${o.error.message}`);
      } else {
        assert.equal(o.ok, true, `job ${p.i} must succeed: ${o.ok ? '' : o.error.message}`);
        if (!o.ok) continue;
        const r = o.value as JobResult;
        assert.match(r.xml, new RegExp(`<name>vm-${p.i}</name>`));
        assert.equal(r.version, 1);
        assert.ok(r.provenance.length > 0, 'the drivers filled something');
        uuids.set(r.uuid, p.i);
      }
    }
    const valid = plan.filter((p) => !p.bad).length;
    assert.equal(uuids.size, valid, 'one uuid per valid job');
    const counts = await definedCounts(rig.store);
    assert.equal(counts.size, valid, 'no DomainDefined for an invalid job, none lost');
    for (const [uuid, n] of counts) {
      assert.equal(n, 1, `exactly one DomainDefined for ${uuid}`);
      assert.ok(uuids.has(uuid), `DomainDefined ${uuid} belongs to a submitted job`);
    }
    // The stored definition is the enriched XML the job returned (a sample: loads are stream scans on nats 2.9).
    for (const o of outcomes.filter((o) => o.ok).slice(0, 8)) {
      const r = (o as { value: JobResult }).value;
      const loaded = await rig.store.load(domainRef(r.uuid));
      assert.equal(loaded.state?.xml, r.xml);
    }
    const jobCounts = await rig.client.jobs.getJobCounts('completed', 'failed', 'waiting', 'active', 'waiting-children');
    assert.deepEqual(jobCounts, { completed: valid, failed: N - valid, waiting: 0, active: 0, 'waiting-children': 0, paused: 0 });
    console.log(`# ${N} jobs (${valid} valid) in ${secs.toFixed(2)} s: ${(N / secs).toFixed(0)} jobs/s`);
  });

  it('reports progress through each stage', async () => {
    const job = await rig.client.submit({ op: 'define', xml: validXml(10_000) });
    const seen: unknown[] = [];
    const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => void (jobId === job.id && seen.push(data));
    rig.client.events.on('progress', onProgress);
    const o = await rig.client.outcome(job);
    rig.client.events.off('progress', onProgress);
    assert.equal(o.ok, true);
    // Progress events are published asynchronously; the last one stored is 'stored'.
    assert.equal((await rig.client.jobs.getJob(job.id!))?.progress, 'stored');
    assert.deepEqual(seen.filter((s) => s !== 'stored'), ['parsed', 'post-parsed:qemu', 'policy']);
  });

  it('keeps provenance out of DomainDefined by default: the stage job holds it packed, the result in full', async () => {
    const o = await rig.client.run({ op: 'define', xml: validXml(55_000) });
    assert.ok(o.ok);
    const r = o.value as JobResult;
    assert.ok(r.provenance.length > 0 && (r.provenance as Array<{ why: string }>).every((p) => p.why.length > 0), 'every entry has its why');
    const [defined] = await rig.store.events(domainRef(r.uuid));
    assert.equal(defined?.event.type, 'DomainDefined');
    assert.equal('provenance' in defined!.event.data, false);
    const stages = new Queue(queues.postparse('qemu'), { connection: rig.servers.redisUrl ? { url: rig.servers.redisUrl } : {} });
    try {
      const stage = await stages.getJob(`${o.jobId}.postparse`);
      const value = stage?.returnvalue as StageResult;
      assert.ok(value && 'ok' in value);
      const packed = value.ok.provenance as { rows: unknown[]; why: Record<string, string> };
      assert.equal(packed.rows.length, r.provenance.length);
      assert.ok(Object.keys(packed.why).length < packed.rows.length, 'each rule\'s why once');
      assert.deepEqual(unpackProvenance(value.ok.provenance), r.provenance);
    } finally {
      await stages.close();
    }
  });

  it('returns the first result for the same idempotency key, with no second effect', async () => {
    const payload = { op: 'define', xml: validXml(20_001), key: 'idem-1' };
    const [a, b] = await Promise.all([rig.client.run(payload), rig.client.run(payload)]);
    const c = await rig.client.run({ ...payload, xml: validXml(20_005) });
    assert.ok(a.ok && b.ok && c.ok);
    assert.deepEqual(b.value, a.value);
    assert.deepEqual(c.value, a.value, 'a later submission with the key gets the first result, not a new definition');
    const uuid = (a.value as JobResult).uuid;
    assert.equal((await definedCounts(rig.store)).get(uuid), 1);
    assert.equal((await rig.store.nameOwner('vm-20005')), undefined, 'the second payload had no effect');
  });

  it('takes a policy stage added while running into the next jobs', async () => {
    const before = await rig.client.run({ op: 'define', xml: validXml(30_000) });
    assert.ok(before.ok);
    assert.doesNotMatch((before.value as JobResult).xml, /<title>/);
    const stamp: PolicyStage = {
      name: 'stamp-title',
      domain: (def, ctx) => {
        ctx.filled('/domain/title', 'managed by virtflow', 'the cluster stamps every domain', 'stamp');
        return produce(def, (d) => void (d.title = 'managed by virtflow'));
      },
    };
    const cap: PolicyStage = {
      name: 'max-1g',
      domain: (def) => {
        if (Number(def.memory?.text ?? 0) > 1024 * 1024) throw new VirtError('CONFIG_UNSUPPORTED', 'memory over 1 GiB is not allowed on this cluster', '/domain/memory');
      },
    };
    rig.registry.addStage(stamp).addStage(cap);
    try {
      const next = await rig.client.run({ op: 'define', xml: validXml(30_001) });
      assert.ok(next.ok);
      const r = next.value as JobResult;
      assert.match(r.xml, /<title>managed by virtflow<\/title>/);
      assert.deepEqual(r.provenance.at(-1), { path: '/domain/title', value: 'managed by virtflow', driver: 'stamp-title', rule: 'stamp', why: 'the cluster stamps every domain' });
      assert.equal((await rig.store.load(domainRef(r.uuid))).state?.xml, r.xml, 'the stored definition has the stage’s change');
      const big = await rig.client.run({ op: 'define', xml: validXml(30_004).replace(/unit='MiB'>\d+</, "unit='GiB'>2<") });
      assert.ok(!big.ok);
      assert.equal(big.error.code, 'CONFIG_UNSUPPORTED');
      assert.equal(big.error.path, '/domain/memory');
      assert.equal(big.error.message, 'unsupported configuration: memory over 1 GiB is not allowed on this cluster');
    } finally {
      rig.registry.removeStage('stamp-title');
      rig.registry.removeStage('max-1g');
    }
  });

  it('attach-device runs the device post-parse and appends DomainDeviceAttached', async () => {
    const d = await rig.client.run({ op: 'define', xml: validXml(40_000) });
    assert.ok(d.ok);
    const { uuid } = d.value as JobResult;
    const a = await rig.client.run({ op: 'attach-device', uuid, xml: `<interface type='network'><source network='default'/></interface>` });
    assert.ok(a.ok, a.ok ? '' : a.error.message);
    const r = a.value as JobResult;
    assert.equal(r.version, 2);
    const events = await rig.store.events(domainRef(uuid));
    assert.deepEqual(events.map((e) => e.event.type), ['DomainDefined', 'DomainDeviceAttached']);
    const attached = events[1]!.event.data as { path: string; xml: string; definition: string };
    assert.equal(attached.path, '/domain/devices/interface[2]');
    assert.match(attached.xml, /<mac address='52:54:00:[0-9a-f:]{8}'\/>/, 'a MAC with the QEMU prefix');
    assert.match(attached.xml, /<model type='[a-z0-9-]+'\/>/, 'a NIC model');
    assert.match(attached.xml, /<address type='pci' domain='0x0000' bus='0x0\d'/, 'a PCI address');
    assert.equal(attached.definition, r.xml);
    const state = (await rig.store.load(domainRef(uuid))).state;
    assert.equal(state?.xml, r.xml);

    // Run again (as after a crash between the append and the job's completion): its own event is found, nothing appended.
    const again = (await rig.client.jobs.getJob(a.jobId))!;
    await again.retry('completed');
    let rerun = await rig.client.jobs.getJob(a.jobId);
    for (let i = 0; i < 200 && !(rerun?.finishedOn && rerun.attemptsStarted >= 2); i++) {
      await new Promise((res) => setTimeout(res, 10));
      rerun = await rig.client.jobs.getJob(a.jobId);
    }
    assert.equal(rerun?.attemptsStarted, 2, 'the job ran a second time');
    const a2 = await rig.client.outcome(rerun!);
    assert.ok(a2.ok, a2.ok ? '' : a2.error.message);
    assert.equal((a2.value as JobResult).version, 2);
    assert.equal((a2.value as JobResult).xml, r.xml);
    assert.equal((await rig.store.events(domainRef(uuid))).length, 2, 'no second DomainDeviceAttached');

    const missing = await rig.client.run({ op: 'attach-device', uuid: '00000000-0000-0000-0000-000000000001', xml: '<interface type="user"/>' });
    assert.ok(!missing.ok);
    assert.equal(missing.error.code, 'NO_DOMAIN');
    assert.equal(missing.error.path, '/uuid');
  });

  it('detach-device and update-device find the device as libvirt does and append DomainDeviceDetached / DomainDeviceUpdated', async () => {
    const xml = validXml(40_100).replace('</devices>',
      `<disk type='file' device='cdrom'><source file='/iso/a.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
       <disk type='file' device='disk'><source file='/img/data.qcow2'/><target dev='vdb' bus='virtio'/></disk>
       <interface type='network'><mac address='52:54:00:12:34:56'/><source network='default'/></interface></devices>`);
    const d = await rig.client.run({ op: 'define', xml });
    assert.ok(d.ok, d.ok ? '' : d.error.message);
    const { uuid } = d.value as JobResult;

    const det = await rig.client.run({ op: 'detach-device', uuid, xml: `<disk type='file' device='disk'><target dev='vdb'/></disk>` });
    assert.ok(det.ok, det.ok ? '' : det.error.message);
    assert.equal((det.value as JobResult).version, 2);
    assert.doesNotMatch((det.value as JobResult).xml, /data\.qcow2/);
    const missing = await rig.client.run({ op: 'detach-device', uuid, xml: `<disk type='file' device='disk'><target dev='vdb'/></disk>` });
    assert.ok(!missing.ok);
    assert.deepEqual([missing.error.code, missing.error.message, missing.error.path], ['DEVICE_MISSING', 'device not found: no target device vdb', '/disk/target/@dev']);

    const media = await rig.client.run({ op: 'update-device', uuid, xml: `<disk type='file' device='cdrom'><source file='/iso/b.iso'/><target dev='sda' bus='sata'/><readonly/></disk>` });
    assert.ok(media.ok, media.ok ? '' : media.error.message);
    assert.match((media.value as JobResult).xml, /<source file='\/iso\/b\.iso'\/>/);
    const link = await rig.client.run({ op: 'update-device', uuid, xml: `<interface type='network'><mac address='52:54:00:12:34:56'/><source network='default'/><link state='down'/></interface>` });
    assert.ok(link.ok, link.ok ? '' : link.error.message);
    assert.equal((link.value as JobResult).version, 4);
    const refused = await rig.client.run({ op: 'update-device', uuid, xml: `<controller type='usb' index='0' model='qemu-xhci'/>` });
    assert.ok(!refused.ok);
    assert.deepEqual([refused.error.code, refused.error.message], ['OPERATION_UNSUPPORTED', "Operation not supported: persistent update of device 'controller' is not supported"]);
    const noNic = await rig.client.run({ op: 'detach-device', uuid, xml: `<interface type='network'><mac address='52:54:00:99:99:99'/></interface>` });
    assert.ok(!noNic.ok);
    assert.equal(noNic.error.code, 'DEVICE_MISSING');

    const events = await rig.store.events(domainRef(uuid));
    assert.deepEqual(events.map((e) => e.event.type), ['DomainDefined', 'DomainDeviceDetached', 'DomainDeviceUpdated', 'DomainDeviceUpdated']);
    const detached = events[1]!.event.data as { path: string; xml: string };
    assert.equal(detached.path, '/domain/devices/disk[2]');
    assert.match(detached.xml, /data\.qcow2/, 'the event carries the device as it was');
    const updated = events[3]!.event.data as { path: string; xml: string; definition: string };
    assert.match(updated.xml, /<link state='down'\/>/);
    assert.match(updated.xml, /<model type='rtl8139'\/>/, "the device post-parse gave the incoming interface QEMU's default model");
    assert.equal((await rig.store.load(domainRef(uuid))).state?.xml, updated.definition);
  });

  it('redefines a defined domain and undefines it, freeing its name', async () => {
    const d = await rig.client.run({ op: 'define', xml: validXml(60_001) });
    assert.ok(d.ok);
    const { uuid } = d.value as JobResult;
    const changed = validXml(60_001).replace('<domain type=\'qemu\'>', `<domain type='qemu'><uuid>${uuid}</uuid>`).replace(/unit='MiB'>\d+</, "unit='MiB'>768<");
    const r = await rig.client.run({ op: 'redefine', xml: changed });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.equal((r.value as JobResult).version, 2);
    assert.match((r.value as JobResult).xml, /<memory unit='KiB'>786432<\/memory>/);
    const u = await rig.client.run({ op: 'undefine', uuid });
    assert.ok(u.ok, u.ok ? '' : u.error.message);
    assert.deepEqual((await rig.store.events(domainRef(uuid))).map((e) => e.event.type), ['DomainDefined', 'DomainRedefined', 'DomainUndefined']);
    assert.equal(await rig.store.nameOwner('vm-60001'), undefined);
    const taken = await rig.client.run({ op: 'define', xml: validXml(60_002).replace('vm-60002', 'vm-30001') });
    assert.ok(!taken.ok, 'a name held by another domain is refused');
    assert.equal(taken.error.code, 'OPERATION_INVALID');
  });

  it('hands lifecycle operations on to the scheduler queue after validating them', async () => {
    const bad = await rig.client.run({ op: 'start', uuid: 'x' });
    assert.ok(!bad.ok);
    assert.equal(bad.error.path, '/uuid');
    const ok = await rig.client.run({ op: 'start', uuid: '00000000-0000-0000-0000-000000000002', key: 'start-1' });
    assert.ok(ok.ok);
    assert.deepEqual(ok.value, { handedOn: 'virtflow.schedule', jobId: 'start-1' });
  });

  it('retries an infrastructure fault, then parks the job in the dead-letter queue for an operator to re-drive', async () => {
    let down = true;
    let calls = 0;
    rig.registry.addStage({
      name: 'flaky-backend',
      domain: () => {
        calls++;
        if (down) throw new Error('policy backend unreachable');
      },
    });
    try {
      const job = await rig.client.submit({ op: 'define', xml: validXml(50_000), key: 'dlq-1' });
      const o = await rig.client.outcome(job);
      assert.ok(!o.ok);
      assert.equal(calls, 2, 'tried as often as the attempts allow');
      let dead = await rig.client.listDead();
      for (let i = 0; i < 50 && dead.length === 0; i++) dead = (await new Promise((r) => setTimeout(r, 20)), await rig.client.listDead());
      assert.equal(dead.length, 1);
      assert.equal(dead[0]!.root, 'dlq-1');
      assert.equal(dead[0]!.queue, 'virtflow.policy');
      assert.equal(dead[0]!.reason, 'policy backend unreachable');
      down = false;
      const again = await rig.client.redrive('dlq-1');
      const o2 = await rig.client.outcome(again);
      assert.ok(o2.ok, o2.ok ? '' : o2.error.message);
      assert.deepEqual(await rig.client.listDead(), []);
      assert.equal((await definedCounts(rig.store)).get((o2.value as JobResult).uuid), 1);
    } finally {
      rig.registry.removeStage('flaky-backend');
    }
  });
});

describe('parser service: VIRTFLOW_EVENT_PROVENANCE', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ eventProvenance: true });
  });
  after(async () => {
    await rig?.stop();
  });

  it('puts the provenance into DomainDefined too when asked', async () => {
    const o = await rig.client.run({ op: 'define', xml: validXml(60_000) });
    assert.ok(o.ok);
    const r = o.value as JobResult;
    const [defined] = await rig.store.events(domainRef(r.uuid));
    assert.deepEqual((defined?.event.data as { provenance?: unknown }).provenance, r.provenance);
  });
});
