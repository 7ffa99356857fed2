import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { VirtError, parseDomainXML } from '@virtflow/model';
import type { LifecycleChange } from '../types.ts';
import { TestHypervisor, syntheticCapabilities } from './index.ts';

const UUID = '4dea22b3-1d52-d8f3-2516-782e98a23fa0';
const def = parseDomainXML(`<domain type='kvm'><name>t1</name><uuid>${UUID}</uuid><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`);

function recorder(hv: TestHypervisor): LifecycleChange[] {
  const seen: LifecycleChange[] = [];
  hv.onLifecycle((c) => seen.push(c));
  return seen;
}

async function rejects(p: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof VirtError && e.code === code && e.message === message);
}

describe('test hypervisor', () => {
  it('runs a domain through its states, reporting each change once', async () => {
    const hv = new TestHypervisor({ guestShutdownMs: 10 });
    const seen = recorder(hv);
    await hv.start(def);
    await hv.suspend(UUID);
    await hv.resume(UUID);
    await hv.reset(UUID);
    await hv.shutdown(UUID);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen.map((c) => ('detail' in c ? `${c.event} ${c.detail}` : c.event)), [
      'started BOOTED', 'suspended PAUSED', 'resumed UNPAUSED', 'reset', 'shutdown GUEST', 'stopped SHUTDOWN',
    ]);
    assert.deepEqual(await hv.list(), []);
    await hv.close();
  });

  it('refuses wrong states in libvirt\'s words', async () => {
    const hv = new TestHypervisor();
    await rejects(hv.suspend(UUID), 'OPERATION_INVALID', 'Requested operation is not valid: domain is not running');
    await rejects(hv.destroy(UUID), 'OPERATION_INVALID', 'Requested operation is not valid: domain is not running');
    await hv.start(def);
    await rejects(hv.start(def), 'OPERATION_INVALID', 'Requested operation is not valid: domain is already running');
    await rejects(hv.resume(UUID), 'OPERATION_INVALID', 'Requested operation is not valid: domain is not paused');
    await hv.suspend(UUID);
    await rejects(hv.shutdown(UUID), 'OPERATION_INVALID', 'Requested operation is not valid: domain is not running');
    await hv.close();
  });

  it('fails the next call of an operation as told, then works again', async () => {
    const hv = new TestHypervisor();
    hv.failNext('start', new VirtError('INTERNAL_ERROR', 'boom'), 2);
    await rejects(hv.start(def), 'INTERNAL_ERROR', 'internal error: boom');
    await rejects(hv.start(def), 'INTERNAL_ERROR', 'internal error: boom');
    await hv.start(def);
    assert.equal(hv.boots(UUID), 1);
    await hv.close();
  });

  it('takes the configured time, a paused start stays paused, a guest may ignore ACPI', async () => {
    const hv = new TestHypervisor({ delays: { start: 100 }, guestShutdownMs: Infinity });
    const seen = recorder(hv);
    const t0 = Date.now();
    await hv.start(def, { paused: true });
    assert.ok(Date.now() - t0 >= 95);
    assert.deepEqual((await hv.list()).map((d) => d.state), ['paused']);
    assert.deepEqual(seen.map((c) => c.event), ['started', 'suspended']);
    await hv.resume(UUID);
    await hv.shutdown(UUID);
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual((await hv.list()).map((d) => d.state), ['running']);
    await hv.close();
  });

  it('keeps running domains in its state file for the next instance, which reports nothing for them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtflow-hv-'));
    try {
      const stateFile = join(dir, 's.json');
      const a = new TestHypervisor({ stateFile, delays: { start: 150 } });
      const booting = a.start(def).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
      await a.close(); // the agent dies mid-boot; the domain boots on
      const b = new TestHypervisor({ stateFile });
      const seen = recorder(b);
      assert.deepEqual((await b.list()).map((d) => d.state), ['paused'], 'still booting: paused, as a qemu started with -S');
      await rejects(b.start(def), 'OPERATION_INVALID', 'Requested operation is not valid: domain is already running');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual((await b.list()).map((d) => d.state), ['running']);
      assert.equal(b.boots(UUID), 1);
      b.crash(UUID, 'FAILED', 'qemu died');
      assert.deepEqual(seen, [{ uuid: UUID, event: 'stopped', detail: 'FAILED', message: 'qemu died' }]);
      assert.deepEqual(await new TestHypervisor({ stateFile }).list(), []);
      await booting;
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a guest\'s power-off that list() notices before the timer does', async () => {
    let clock = 1_000;
    // The guest powers off after a minute of fake time; the real timer for it never fires during the test.
    const hv = new TestHypervisor({ now: () => clock, guestShutdownMs: 60_000 });
    const seen = recorder(hv);
    await hv.start(def);
    await hv.shutdown(UUID);
    clock += 60_000;
    assert.deepEqual(await hv.list(), []);
    assert.deepEqual(seen.map((c) => ('detail' in c ? `${c.event} ${c.detail}` : c.event)), ['started BOOTED', 'shutdown GUEST', 'stopped SHUTDOWN']);
    await hv.close();
  });

  it('reports a boot that list() notices before start() does', async () => {
    let clock = 1_000;
    const hv = new TestHypervisor({ now: () => clock, delays: { start: 50 } });
    const seen = recorder(hv);
    const starting = hv.start(def);
    clock += 50;
    assert.deepEqual((await hv.list()).map((d) => d.state), ['running']);
    await starting;
    assert.deepEqual(seen.map((c) => ('detail' in c ? `${c.event} ${c.detail}` : c.event)), ['started BOOTED']);
    await hv.close();
  });

  for (const paused of [false, true]) {
    it(`migrates a ${paused ? 'paused' : 'running'} domain, the destination reporting it as qemu does`, async () => {
      const port = await freePort();
      const src = new TestHypervisor();
      const dst = new TestHypervisor();
      const fromSrc = recorder(src);
      const atDst = recorder(dst);
      await src.start(def, { paused });
      await dst.start(def, { incoming: { host: '127.0.0.1', port } });
      assert.deepEqual(atDst, [], 'nothing until the source hands over');
      await src.migrateOut(UUID, { host: '127.0.0.1', port });
      const names = (cs: LifecycleChange[]) => cs.map((c) => ('detail' in c ? `${c.event} ${c.detail}` : c.event));
      // libvirt: VIR_DOMAIN_EVENT_STARTED_MIGRATED then SUSPENDED_PAUSED for a paused source; RESUMED_MIGRATED for a running one.
      assert.deepEqual(names(atDst), paused ? ['started MIGRATED', 'suspended PAUSED'] : ['resumed MIGRATED']);
      assert.deepEqual(names(fromSrc).slice(-1), ['stopped MIGRATED']);
      assert.deepEqual((await dst.list()).map((d) => d.state), [paused ? 'paused' : 'running']);
      assert.deepEqual(await src.list(), []);
      await src.close();
      await dst.close();
    });
  }

  it('presents a synthetic host', async () => {
    const caps = await new TestHypervisor({ cpus: 64, memoryKiB: 1 << 28 }).capabilities();
    assert.equal(caps.host.cpus, 64);
    assert.equal(caps.host.memoryKiB, 1 << 28);
    assert.ok(caps.guests.length > 0);
    assert.equal(syntheticCapabilities().host.cpus, 8);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}
