/**
 * The SDK against a real cluster: jobs resolve with their results (or reject
 * with the service's VirtError), report progress, and are idempotent by key;
 * reads see a job's effect at once; subscriptions narrow to a domain and
 * types; lifecycle calls go through the scheduler where this checkout has one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { VirtError, isVirtError } from '@virtflow/model';
import { connect, type Progress, type VirtflowClient } from '@virtflow/client';
import { TIMEOUT, hasScheduler, killAll, startCluster, type Cluster } from './support.ts';

const xml = (name: string, mem = 128) => `<domain type='test'><name>${name}</name><memory unit='MiB'>${mem}</memory><vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>`;

describe('@virtflow/client SDK', { timeout: 10 * 60_000 }, () => {
  let c: Cluster;
  let vf: VirtflowClient;

  before(async () => {
    c = await startCluster();
    vf = await connect({ redis: c.servers.redisUrl, nats: c.servers.natsUrl, timeoutMs: 90_000 });
  }, { timeout: TIMEOUT * 2 });

  after(async () => {
    await vf?.close();
    await killAll();
    await c?.stop();
  });

  it('define resolves with the stored definition and reports the stages as progress', async () => {
    const seen: Progress[] = [];
    const r = await vf.define(xml('sdk-1'), { onProgress: (p) => seen.push(p) });
    assert.match(r.uuid, /^[0-9a-f-]{36}$/);
    assert.equal(r.version, 1);
    assert.match(r.xml, /<name>sdk-1<\/name>/);
    assert.ok(r.provenance.length > 0);
    assert.ok(seen.some((p) => p.progress === 'stored' && p.queue === 'virtflow.jobs'), JSON.stringify(seen));
    const d = await vf.get('sdk-1');
    assert.deepEqual([d.uuid, d.name, d.state, d.defined, d.memoryKiB], [r.uuid, 'sdk-1', 'shutoff', true, 131072]);
    assert.deepEqual((await vf.get(r.uuid)).name, 'sdk-1');
  });

  it('the same key finds the first job: no second effect, the same result', async () => {
    const a = await vf.define(xml('sdk-key'), { key: 'sdk-test-key-1' });
    const b = await vf.define(xml('sdk-key', 256), { key: 'sdk-test-key-1' });
    assert.deepEqual(b, a);
    assert.equal((await vf.history('sdk-key')).length, 1);
  });

  it("rejects with the service's VirtError: code, path and message", async () => {
    await assert.rejects(vf.define("<domain type='test'><name>x</name>"), (e: unknown) => isVirtError(e) && e.code === 'XML_DETAIL' && /line 1/.test(e.path ?? ''));
    await assert.rejects(vf.define(xml('sdk-1')), (e: unknown) => isVirtError(e) && /sdk-1/.test(e.message));
    await assert.rejects(vf.start('nobody'), (e: unknown) => e instanceof VirtError && e.code === 'NO_DOMAIN' && e.path === '/domain/nobody');
    await assert.rejects(vf.diff('sdk-1', 1, 7), (e: unknown) => isVirtError(e) && e.path === '/v2');
  });

  it('lists with filters, dumps XML, keeps history and diffs versions', async () => {
    await vf.attachDevice('sdk-1', "<interface type='user'/>").catch((e: unknown) => {
      // The test driver has no device edits (libvirt's NO_SUPPORT): the history then holds one version.
      assert.ok(isVirtError(e));
    });
    const all = await vf.list();
    assert.deepEqual(all.map((d) => d.name), ['sdk-1', 'sdk-key']);
    assert.deepEqual(await vf.list({ state: 'running' }), []);
    assert.deepEqual((await vf.list({ state: 'shutoff' })).map((d) => d.name), ['sdk-1', 'sdk-key']);
    assert.match(await vf.dumpXML('sdk-1', { inactive: true }), /^<domain type='test'>/);
    const h = await vf.history('sdk-1');
    assert.equal(h[0]!.type, 'DomainDefined');
    assert.deepEqual(await vf.diff('sdk-1', 1, 1), []);
  });

  it('hosts and their capabilities', async () => {
    const hosts = await vf.hosts.list();
    assert.deepEqual(hosts.map((h) => [h.hostId, h.up, h.cpus]), [['node1', true, 8], ['node2', true, 8]]);
    assert.equal((await vf.capabilities('node1')).host.arch, 'x86_64');
    await assert.rejects(vf.capabilities('node7'), (e: unknown) => isVirtError(e) && e.path === '/host/node7');
  });

  it('a subscription narrowed to a domain and types sees only those, from where it was asked', async () => {
    const sub = await vf.events.subscribe({ domain: 'sdk-1', from: 'all', types: ['DomainDefined', 'DomainUndefined'] });
    const got: string[] = [];
    for await (const { event } of sub) {
      got.push(`${event.type}:${(event.data as { name?: string }).name}`);
      if (got.length === 1) sub.stop();
    }
    assert.deepEqual(got, ['DomainDefined:sdk-1']);
    await assert.rejects(vf.events.subscribe({ name: 'bad.name' }), (e: unknown) => isVirtError(e) && e.path === '/name');
    await assert.rejects(vf.events.subscribe({ types: ['DomainExploded'] }), (e: unknown) => isVirtError(e) && e.path === '/types');
  });

  it('lifecycle calls resolve when the scheduler has done them', { skip: hasScheduler() ? false : 'no scheduler in this checkout' }, async () => {
    const seen: Progress[] = [];
    // Hints reach the scheduler: the preferred host is chosen when it passes the filters.
    await vf.start('sdk-1', { onProgress: (p) => seen.push(p), schedulerHints: { preferredHost: 'node2' } });
    const d = await vf.get('sdk-1');
    assert.equal(d.state, 'running');
    assert.equal(d.hostId, 'node2');
    assert.deepEqual((await vf.list({ host: d.hostId })).map((x) => x.name), ['sdk-1']);
    assert.match(await vf.dumpXML('sdk-1'), /<name>sdk-1<\/name>/);
    await assert.rejects(vf.start('sdk-1'), (e: unknown) => isVirtError(e) && e.code === 'OPERATION_INVALID');
    await vf.destroy('sdk-1');
    assert.equal((await vf.get('sdk-1')).state, 'shutoff');
    await vf.undefine('sdk-1');
    await assert.rejects(vf.get('sdk-1'), (e: unknown) => isVirtError(e) && e.code === 'NO_DOMAIN');
  });
});
