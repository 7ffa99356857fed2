/**
 * The agent on the real QEMU hypervisor (KVM where /dev/kvm opens, else TCG):
 * define → start → suspend → resume → destroy through commands, each seen as
 * an event on the stream; a qemu killed from outside is recorded as stopped
 * within 2 s. Skips, saying why, where qemu-system-x86_64 does not run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { subjects } from '@virtflow/model';
import { Agent } from '@virtflow/host-agent';
import { createQemuHypervisor } from '../../services/host-agent/src/hypervisor/qemu/index.ts';
import { cleanupRunDir, guestDomainType, qemuMissing, smallXml, waitForFile } from '../qemu/support.ts';
import { tinyGuest, tinyGuestToolsMissing, type TinyGuest } from '../support/tiny-guest.ts';
import { TIMEOUT, command, domainState, startNats, waitFor, type Nats } from './support.ts';

const skip = qemuMissing();

describe('host agent on QEMU', { skip, timeout: 600_000 }, () => {
  let nats: Nats;
  let agent: Agent;
  let runDir: string;
  before(async () => {
    nats = await startNats();
    // Short: QMP socket paths must fit a sockaddr_un.
    runDir = mkdtempSync(join(tmpdir(), 'vfa-'));
    agent = await Agent.start({ hostId: 'q1', nc: await nats.connect(), store: await nats.store(), hypervisor: createQemuHypervisor({ runDir }), heartbeatMs: 1000 });
  });
  after(async () => {
    await agent?.stop();
    if (runDir) cleanupRunDir(runDir);
    await nats?.close();
  });

  it('define → start → suspend → resume → destroy, each an event on the stream', { timeout: TIMEOUT * 4 }, async () => {
    const nc = await nats.connect();
    const store = await nats.store();
    const uuid = randomUUID();
    const seen: string[] = [];
    const sub = store.subscribe(subjects.domain(uuid), { from: 'all' });
    const reading = (async () => {
      for await (const d of sub) {
        seen.push(`${d.event.type}${'detail' in d.event.data ? ` ${d.event.data.detail}` : ''}`);
        if (d.event.type === 'DomainStopped') break;
      }
    })();
    const xml = smallXml('vf-agent').replace('<name>vf-agent</name>', `<name>vf-agent</name>\n  <uuid>${uuid}</uuid>`);
    for (const type of ['define', 'start', 'suspend', 'resume', 'destroy'] as const) {
      const r = await command(nc, 'q1', type, uuid, (type === 'define' ? { xml } : {}) as never);
      assert.equal(r.outcome.status, 'completed', `${type}: ${JSON.stringify(r.outcome.error)}`);
      if (type === 'start') assert.equal((await domainState(store, uuid))?.state, 'running');
    }
    await reading;
    assert.deepEqual(seen, ['DomainDefined', 'DomainPlaced', 'DomainStarted BOOTED', 'DomainSuspended PAUSED', 'DomainResumed UNPAUSED', 'DomainStopped DESTROYED']);
  });

  it('a qemu killed from outside is recorded as stopped within 2 s', { timeout: TIMEOUT * 4 }, async () => {
    const nc = await nats.connect();
    const store = await nats.store();
    const uuid = randomUUID();
    const xml = smallXml('vf-kill').replace('<name>vf-kill</name>', `<name>vf-kill</name>\n  <uuid>${uuid}</uuid>`);
    await command(nc, 'q1', 'define', uuid, { xml });
    assert.equal((await command(nc, 'q1', 'start', uuid, {})).outcome.status, 'completed');
    const pid = await waitFor('the qemu pid', async () => {
      const f = join(runDir, uuid, 'qemu.pid');
      return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : undefined;
    });
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const st = await waitFor('the crash to be recorded', async () => {
      const x = await domainState(store, uuid);
      return x?.state === 'shutoff' ? x : undefined;
    }, 10_000);
    const ms = Date.now() - t0;
    assert.ok(ms <= 2_000, `recorded after ${ms} ms`);
    assert.ok(['CRASHED', 'FAILED'].includes(st.reason), st.reason);
  });

  it('shutdown of a real guest is an ACPI power-off ending DomainStopped SHUTDOWN, as the shutdown command\'s result', async (t) => {
    const missing = tinyGuestToolsMissing();
    if (missing) return t.skip(missing);
    const built = tinyGuest();
    if (typeof built === 'string') return t.skip(built);
    const guest: TinyGuest = built;
    const type = await guestDomainType(guest);
    t.diagnostic(`guest runs under ${type === 'kvm' ? 'KVM' : 'TCG'}`);
    const nc = await nats.connect();
    const store = await nats.store();
    const uuid = randomUUID();
    const xml = `<domain type='${type}'>
  <name>vf-agent-tiny</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${guest.kernel}</kernel><initrd>${guest.initrd}</initrd><cmdline>${guest.cmdline}</cmdline></os>
  <features><acpi/></features>
  <devices><serial type='pty'/><console type='pty'/><memballoon model='none'/></devices>
</domain>`;
    assert.equal((await command(nc, 'q1', 'define', uuid, { xml })).outcome.status, 'completed');
    assert.equal((await command(nc, 'q1', 'start', uuid, {})).outcome.status, 'completed');
    await waitForFile(join(runDir, uuid, 'serial.log'), guest.readyMarker, 300_000);
    const shutdown = await command(nc, 'q1', 'shutdown', uuid, {});
    assert.equal(shutdown.outcome.status, 'completed');
    const off = await waitFor('the guest to power off', async () => {
      const x = await domainState(store, uuid);
      return x?.state === 'shutoff' ? x : undefined;
    }, 120_000);
    assert.equal(off.reason, 'SHUTDOWN');
    const tail = (await store.events({ kind: 'domain', id: uuid })).map((e) => e.event).slice(-2);
    assert.deepEqual(tail.map((e) => `${e.type}${'detail' in e.data ? ` ${e.data.detail}` : ''}`), ['DomainShutdown GUEST', 'DomainStopped SHUTDOWN']);
    assert.ok(tail.every((e) => e.causationId === shutdown.id && e.correlationId === shutdown.correlationId));
  });
});
