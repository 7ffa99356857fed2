/**
 * `npm run bench -- agent`: commands through one host agent on the test
 * hypervisor, and (unless VIRTFLOW_BENCH_QEMU=0) QEMU start latency against
 * libvirt's (bench/agent-qemu.ts, the QEMU hypervisor's own benchmark).
 *
 * Commands/s: DOMAINS domains, each driven as a scheduler would — send a
 * command, wait for its outcome, send the next — through start, suspend,
 * resume, destroy, CYCLES times, all domains at once, one agent
 * (VIRTFLOW_CONCURRENCY-like `concurrency` 16) on a private nats-server. Every
 * command is the whole protocol: stream publish, durable consumer, outcome
 * lookup, pending record, event-store load and checked append, hypervisor
 * call, outcome record, ack; senders learn outcomes through one
 * CommandResultWatcher.
 *
 * Reference, same run, same senders and outcome watcher: a bare JetStream
 * command loop — the same consumer settings, one outcome record per command,
 * ack — without the agent's work (no event store, no hypervisor, no checks).
 * The ratio says what the agent's guarantees cost over the transport itself.
 * (libvirt's test:///default is no reference here: its calls are in-process
 * C with no network or persistence.)
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeCommand, makeCommand, subjects, VirtError, type CommandOutcome, type CommandType } from '@virtflow/model';
import { COMMAND_STREAM, CommandResultWatcher, EventStore, commandResultKey, connectNats, ensureCommandStream, openCommandResults, sendCommand } from '@virtflow/runtime';
import { Agent, createTestHypervisor } from '@virtflow/host-agent';
import { startServers } from '../test/harness/index.ts';
import { table, writeResult } from './common.ts';

const DOMAINS = Number(process.env.VIRTFLOW_BENCH_AGENT_DOMAINS ?? 64);
const CYCLES = Number(process.env.VIRTFLOW_BENCH_AGENT_CYCLES ?? 10);
const CONCURRENCY = Number(process.env.VIRTFLOW_BENCH_AGENT_CONCURRENCY ?? 16);
const CYCLE: readonly CommandType[] = ['start', 'suspend', 'resume', 'destroy'];

interface Run {
  readonly commands: number;
  readonly seconds: number;
  readonly perS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const pct = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

function domainXml(name: string, uuid: string): string {
  return `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;
}

/** Each domain's commands one after the other, all domains at once. */
async function drive(nc: NatsConnection, hostId: string, uuids: readonly string[], plan: (i: number) => readonly CommandType[]): Promise<Run> {
  const watcher = await CommandResultWatcher.open(nc);
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(uuids.map(async (uuid, i) => {
    for (const type of plan(i)) {
      const args = type === 'define' ? { xml: domainXml(`bench-${i}`, uuid) } : {};
      const cmd = makeCommand(type, { hostId, uuid }, args as never, { correlationId: `bench-${i}`, now: () => new Date(), newId: randomUUID });
      const s = performance.now();
      await sendCommand(nc, cmd);
      const o = await watcher.wait(cmd, 120_000);
      latencies.push(performance.now() - s);
      if (o.status !== 'completed') throw new Error(`${type} ${uuid}: ${JSON.stringify(o.error)}`);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  await watcher.close();
  latencies.sort((a, b) => a - b);
  return { commands: latencies.length, seconds, perS: latencies.length / seconds, p50Ms: pct(latencies, 50), p99Ms: pct(latencies, 99) };
}

/** The transport floor: consume, record an outcome, ack. */
async function bareLoop(nc: NatsConnection, hostId: string): Promise<() => Promise<void>> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureCommandStream(jsm);
  const results = await openCommandResults(nc);
  const durable = `bare-${hostId}`;
  await jsm.consumers.add(COMMAND_STREAM, { durable_name: durable, filter_subject: subjects.hostCommands(hostId), ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: CONCURRENCY * 4 });
  const messages = await (await js.consumers.get(COMMAND_STREAM, durable)).consume({ max_messages: CONCURRENCY });
  const loop = (async () => {
    for await (const m of messages) {
      const cmd = decodeCommand(m.data, hostId);
      if (cmd instanceof VirtError) {
        m.term();
        continue;
      }
      const out: CommandOutcome = { id: cmd.id, type: cmd.type, hostId, uuid: cmd.uuid, correlationId: cmd.correlationId, status: 'completed', at: new Date().toISOString(), events: [] };
      void results.put(commandResultKey(hostId, cmd.id), JSON.stringify(out)).then(() => m.ack());
    }
  })();
  return async () => {
    await messages.close();
    await loop;
  };
}

export async function agentBench(): Promise<void> {
  const servers = await startServers({ redis: false });
  const nc = await connectNats(servers.natsUrl);
  try {
    const store = await EventStore.open(nc);
    const agent = await Agent.start({ hostId: 'bench1', nc, store, hypervisor: createTestHypervisor({ cpus: 1024, memoryKiB: 1 << 30 }), concurrency: CONCURRENCY });
    const uuids = Array.from({ length: DOMAINS }, () => randomUUID());
    const define = await drive(nc, 'bench1', uuids, () => ['define']);
    await drive(nc, 'bench1', uuids, () => CYCLE); // warm-up: placements, snapshots, JIT
    const lifecycle = await drive(nc, 'bench1', uuids, () => Array.from({ length: CYCLES }, () => CYCLE).flat());
    await agent.stop();

    const stopBare = await bareLoop(nc, 'bare1');
    const bareIds = Array.from({ length: DOMAINS }, () => randomUUID());
    const bare = await drive(nc, 'bare1', bareIds, () => Array.from({ length: CYCLES }, () => CYCLE).flat());
    await stopBare();

    let qemu: unknown;
    if (process.env.VIRTFLOW_BENCH_QEMU !== '0') {
      try {
        const { agentQemuBench } = await import('./agent-qemu.ts');
        qemu = await agentQemuBench();
      } catch (e) {
        qemu = { skipped: `QEMU part not run: ${e instanceof Error ? e.message : String(e)}` };
      }
    } else qemu = { skipped: 'VIRTFLOW_BENCH_QEMU=0' };

    const row = (name: string, r: Run) => [name, String(r.commands), r.perS.toFixed(0), r.p50Ms.toFixed(1), r.p99Ms.toFixed(1)];
    table([
      ['what', 'commands', 'commands/s', 'p50 ms', 'p99 ms'],
      row('agent (test hypervisor): define', define),
      row('agent (test hypervisor): start/suspend/resume/destroy', lifecycle),
      row('bare JetStream command loop (reference)', bare),
    ]);
    const ratio = lifecycle.perS / bare.perS;
    console.log(`agent lifecycle commands at ${(ratio * 100).toFixed(0)}% of the bare command loop (${DOMAINS} domains, ${CONCURRENCY} at once in the agent; load average ${loadavg()[0]!.toFixed(2)})`);
    writeResult('agent', {
      domains: DOMAINS, cycles: CYCLES, concurrency: CONCURRENCY, natsServer: nc.info?.version, loadavg: loadavg()[0],
      define, lifecycle, reference: { bareCommandLoop: bare }, ratioToBare: ratio, qemu,
    });
  } finally {
    await nc.close();
    await servers.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await agentBench();
