/**
 * The storage allow-list in a real agent (test hypervisor, private
 * nats-server): a definition naming a host file outside VIRTFLOW_STORAGE_PATHS
 * is refused with the element's path and the roots, directly or through a
 * symbolic link, at define, start and attach-device, and nothing else changes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VirtError } from '@virtflow/model';
import { defineDomain, hostRef } from '@virtflow/runtime';
import { resolveExisting } from '../../services/host-agent/src/storage-guard.ts';
import { TIMEOUT, command, domainState, events, startAgent, startNats, type Nats, type TestAgent } from '../agent/support.ts';

function xml(name: string, uuid: string, disks: readonly string[]): string {
  const d = disks.map((f, i) => `<disk type='file' device='disk'><source file='${f}'/><target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/></disk>`).join('');
  return `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>${d}</devices></domain>`;
}

describe('storage allow-list in the agent', { timeout: TIMEOUT * 4 }, () => {
  let nats: Nats;
  let a: TestAgent;
  let dir: string;
  let allowed: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'virtflow-storage-'));
    allowed = join(dir, 'images');
    mkdirSync(allowed);
    writeFileSync(join(allowed, 'ok.qcow2'), '');
    mkdirSync(join(dir, 'secret'));
    writeFileSync(join(dir, 'secret', 'key'), 'secret');
    // A link planted under the allowed folder, pointing out of it.
    symlinkSync(join(dir, 'secret'), join(allowed, 'escape'));
    nats = await startNats();
    a = await startAgent(nats, 'hs', {}, { storagePaths: [allowed] });
  });

  after(async () => {
    await a?.agent.stop().catch(() => undefined);
    await nats?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('defines a domain whose disks lie under the allowed folder (also one not created yet)', async () => {
    const uuid = randomUUID();
    const r = await command(a.nc, 'hs', 'define', uuid, { xml: xml('ok-vm', uuid, [join(allowed, 'ok.qcow2'), join(allowed, 'new', 'disk.qcow2')]) });
    assert.equal(r.outcome.status, 'completed', JSON.stringify(r.outcome.error));
  });

  it("refuses a disk outside the allowed folder, naming disk[2]'s source and the roots; nothing is defined", async () => {
    const uuid = randomUUID();
    const r = await command(a.nc, 'hs', 'define', uuid, { xml: xml('bad-vm', uuid, [join(allowed, 'ok.qcow2'), '/etc/shadow']) });
    assert.equal(r.outcome.status, 'failed');
    const e = VirtError.fromJSON(r.outcome.error!);
    assert.equal(e.code, 'OPERATION_DENIED');
    assert.equal(e.path, '/domain/devices/disk[2]/source/@file');
    assert.match(e.message, new RegExp(`'/etc/shadow' is outside the allowed storage paths \\(allowed: ${allowed}\\)`));
    assert.deepEqual(await events(a.store, uuid), []);
    const failed = (await a.store.events(hostRef('hs'))).map((x) => x.event).filter((x) => x.type === 'DomainCommandFailed');
    assert.ok(failed.some((x) => (x.data as { uuid?: string }).uuid === uuid), 'the refusal is on the host subject');
  });

  it('refuses a path that climbs out with ..', async () => {
    const uuid = randomUUID();
    const r = await command(a.nc, 'hs', 'define', uuid, { xml: xml('dots-vm', uuid, [`${allowed}/../secret/key`]) });
    assert.equal(r.outcome.status, 'failed');
    assert.equal(r.outcome.error?.path, '/domain/devices/disk/source/@file');
  });

  it('refuses a path that leaves the allowed folder through a symbolic link', async () => {
    assert.equal(await resolveExisting(join(allowed, 'escape', 'key')), join(dir, 'secret', 'key'));
    const uuid = randomUUID();
    const r = await command(a.nc, 'hs', 'define', uuid, { xml: xml('link-vm', uuid, [join(allowed, 'escape', 'key')]) });
    assert.equal(r.outcome.status, 'failed');
    assert.equal(r.outcome.error?.code, 'OPERATION_DENIED');
    assert.match(r.outcome.error!.message, new RegExp(`resolves to '${join(dir, 'secret', 'key')}'`));
    assert.deepEqual(await events(a.store, uuid), []);
  });

  it('refuses to start a domain defined elsewhere (by the parser) with a host path outside the folder; it stays shut off', async () => {
    const uuid = randomUUID();
    await defineDomain(a.store, { uuid, name: 'parsed-vm', domainType: 'kvm', driver: 'qemu', xml: xml('parsed-vm', uuid, ['/var/lib/other/disk.img']) });
    const r = await command(a.nc, 'hs', 'start', uuid, {});
    assert.equal(r.outcome.status, 'failed');
    assert.equal(r.outcome.error?.path, '/domain/devices/disk/source/@file');
    assert.equal((await domainState(a.store, uuid))?.state, 'shutoff');
    assert.ok(!(await a.hv.list()).some((d) => d.uuid === uuid), 'the hypervisor started nothing');
  });

  it('refuses to hot-plug a disk outside the folder', async () => {
    const uuid = randomUUID();
    assert.equal((await command(a.nc, 'hs', 'define', uuid, { xml: xml('hot-vm', uuid, [join(allowed, 'ok.qcow2')]) })).outcome.status, 'completed');
    assert.equal((await command(a.nc, 'hs', 'start', uuid, {})).outcome.status, 'completed');
    const r = await command(a.nc, 'hs', 'attach-device', uuid, { xml: "<disk type='file' device='disk'><source file='/etc/passwd'/><target dev='vdz' bus='virtio'/></disk>" });
    assert.equal(r.outcome.status, 'failed');
    assert.equal(r.outcome.error?.path, '/disk/source/@file');
    assert.equal((await domainState(a.store, uuid))?.state, 'running');
  });
});
