/**
 * A real QEMU live migration between two agent processes on this machine
 * (KVM where /dev/kvm opens, else TCG), driven by the scheduler's migrate():
 * the destination's qemu listens with `-incoming tcp:…`, the source's is
 * sent with QMP `migrate`. Afterwards QMP on the destination says running
 * and the source's qemu has exited. Skips where qemu-system-x86_64 does not run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import type { InventoryConfig } from '@virtflow/model';
import { CommandResultWatcher, type EventStore } from '@virtflow/runtime';
import { claimsContext, claimsPort, heldClaims } from '@virtflow/scheduler';
import { QmpClient } from '../../services/host-agent/src/hypervisor/qemu/qmp.ts';
import { pidAlive } from '../../services/host-agent/src/hypervisor/qemu/process.ts';
import { migrate, type MigrateContext } from '../../services/scheduler/src/migrate.ts';
import { freePort } from '../harness/index.ts';
import { cleanupRunDir, qemuMissing, smallXml } from '../qemu/support.ts';
import { TIMEOUT, command, domainState, events, spawnAgent, startNats, waitFor, type AgentProcess, type Nats } from '../agent/support.ts';
import { StreamInventory } from './migrate-support.ts';

const skip = qemuMissing();
const INVENTORY: InventoryConfig = { policy: { reservedHostMemoryKiB: 0 } };

/** The pids of every qemu process running this domain, whichever run folder it belongs to. */
function qemusOf(uuid: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(uuid) && pidAlive(Number(p))) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function pidIn(runDir: string, uuid: string): number | undefined {
  const f = join(runDir, uuid, 'qemu.pid');
  return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : undefined;
}

describe('live migration on QEMU between two agent processes', { skip, timeout: 600_000 }, () => {
  let nats: Nats;
  let nc: NatsConnection;
  let store: EventStore;
  let view: StreamInventory;
  let watcher: CommandResultWatcher;
  const runDirs: Record<string, string> = {};
  const agents: Record<string, AgentProcess> = {};

  before(async () => {
    nats = await startNats();
    for (const h of ['mq1', 'mq2']) {
      // Short: the QMP socket path must fit a sockaddr_un.
      runDirs[h] = mkdtempSync(join(tmpdir(), `vf${h}-`));
      agents[h] = await spawnAgent({
        VIRTFLOW_HOST_ID: h, VIRTFLOW_HYPERVISOR: 'qemu', VIRTFLOW_NATS_URL: nats.servers.natsUrl, VIRTFLOW_RUN_DIR: runDirs[h]!,
        VIRTFLOW_HTTP_PORT: '0', VIRTFLOW_LOG_LEVEL: 'warn', VIRTFLOW_HEARTBEAT_MS: '1000',
      });
    }
    nc = await nats.connect();
    store = await nats.store();
    view = new StreamInventory(store, INVENTORY);
    watcher = await CommandResultWatcher.open(nc);
  });
  after(async () => {
    await watcher?.close();
    await view?.close();
    for (const a of Object.values(agents)) {
      if (a.proc.exitCode === null && a.proc.signalCode === null) {
        a.proc.kill('SIGKILL');
        await a.exited;
      }
    }
    // Every qemu either agent started, wherever the migration left it.
    for (const dir of Object.values(runDirs)) cleanupRunDir(dir);
    await nats?.close();
  });

  it('moves a running guest: QMP on the destination says running, the source qemu has exited', { timeout: TIMEOUT * 10 }, async (t) => {
    const uuid = randomUUID();
    const xml = smallXml('vf-migrate').replace('<name>vf-migrate</name>', `<name>vf-migrate</name>\n  <uuid>${uuid}</uuid>`);
    assert.equal((await command(nc, 'mq1', 'define', uuid, { xml })).outcome.status, 'completed');
    const started = await command(nc, 'mq1', 'start', uuid, {});
    assert.equal(started.outcome.status, 'completed', JSON.stringify(started.outcome.error));
    const sourcePid = await waitFor('the source qemu pid', async () => pidIn(runDirs.mq1!, uuid));
    assert.ok(pidAlive(sourcePid));
    const accel = /accel=(\w+)/.exec(readFileSync(`/proc/${sourcePid}/cmdline`, 'utf8'))?.[1] ?? '?';

    let inv = await view.current();
    const claims = claimsContext({ store, inventory: INVENTORY, occupants: (h) => [...(inv.occupants.get(h) ?? [])].map((u) => [u, inv.lifecycles.get(u)!] as const) });
    const stages: string[] = [];
    const ctx: MigrateContext = {
      store, nc, watcher, newId: randomUUID, now: () => new Date(),
      inventory: async () => (inv = await view.current()),
      claims: claimsPort(claims),
      migrationPort: () => freePort(),
      timeoutMs: TIMEOUT * 4,
      progress: (p) => void stages.push(p.stage),
    };
    const t0 = Date.now();
    const r = await migrate(ctx, { uuid, toHost: 'mq2', live: true, correlationId: 'job-qemu-move' });
    assert.equal(r.toHost, 'mq2');
    t.diagnostic(`migrate() took ${Date.now() - t0} ms (accel=${accel}, 64 MiB guest)`);
    assert.deepEqual(stages, ['choosing', 'claimed', 'recorded', 'incoming', 'transfer', 'arrived']);

    const s = (await domainState(store, uuid))!;
    assert.deepEqual({ state: s.state, hostId: s.hostId, migrating: s.migrating }, { state: 'running', hostId: 'mq2', migrating: false });
    const mine = (await events(store, uuid)).filter((e) => e.correlationId === 'job-qemu-move').map((e) => `${e.type}${'detail' in e.data ? ` ${e.data.detail}` : ''}`);
    assert.equal(mine[0], 'DomainMigrating');
    assert.deepEqual(mine.slice(1).sort(), ['DomainStarted MIGRATED', 'DomainStopped MIGRATED']);
    assert.equal(Object.hasOwn(await heldClaims(claims, 'mq2'), uuid), true, 'the destination holds the claim');

    await waitFor('the source qemu to exit', async () => (pidAlive(sourcePid) ? undefined : true));
    const destPid = pidIn(runDirs.mq2!, uuid);
    assert.ok(destPid !== undefined && pidAlive(destPid), 'the destination qemu runs');
    assert.deepEqual(qemusOf(uuid), [destPid], 'one qemu for the domain, on the destination');
    assert.match(readFileSync(`/proc/${destPid}/cmdline`, 'utf8').split('\0').join(' '), /-incoming tcp:127\.0\.0\.1:\d+/);

    // QEMU serves one monitor client at a time: the destination's agent lets go of it when it stops (its VMs keep running).
    agents.mq2!.proc.kill('SIGTERM');
    await agents.mq2!.exited;
    const qmp = await QmpClient.connect(join(runDirs.mq2!, uuid, 'qmp.sock'), { timeoutMs: 20_000 });
    try {
      const status = await qmp.execute<{ status: string; running: boolean }>('query-status');
      assert.deepEqual({ status: status.status, running: status.running }, { status: 'running', running: true });
    } finally {
      qmp.close();
    }
  });
});
