/**
 * The `virtflow up` command: brings the cluster up (up.ts), defines and
 * starts the examples, prints events until Ctrl-C or SIGTERM, then stops
 * every child and exits 0.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { isVirtError } from '@virtflow/model';
import { describe } from '../cli/context.ts';
import { lifecycleWords } from '../commands/event.ts';
import { connect, type VirtflowClient } from '../sdk/index.ts';
import { exampleFiles, up, type Cluster } from './up.ts';

interface UpFlags {
  dir: string;
  redisPort: string;
  natsPort: string;
  agents: string;
  qemu: boolean;
  examples: boolean;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Defines each example (unless its name is taken already: a second `up`) and starts it when a scheduler runs. */
async function examples(vf: VirtflowClient, start: boolean): Promise<void> {
  for (const file of exampleFiles()) {
    const xml = readFileSync(file, 'utf8');
    const name = /<name>([^<]*)<\/name>/.exec(xml)?.[1] ?? basename(file);
    try {
      const existing = await vf.domains.resolve(name).catch(() => undefined);
      if (existing) say(`example ${name} is defined already`);
      else await vf.define(xml);
      if (start && (await vf.get(name)).state === 'shutoff') await vf.start(name);
    } catch (e) {
      say(`example ${name} (${basename(file)}): ${describe(e)}`);
      if (!isVirtError(e)) throw e;
    }
  }
}

async function stream(vf: VirtflowClient, stopped: Promise<void>): Promise<void> {
  const sub = await vf.events.subscribe({ from: 'new' });
  void stopped.then(() => sub.stop());
  const names = new Map<string, string>();
  for await (const { seq, event } of sub) {
    const d = event.data as { uuid?: string; name?: string; hostId?: string };
    if (d.uuid && d.name) names.set(d.uuid, d.name);
    const about = d.uuid ? `domain '${names.get(d.uuid) ?? d.uuid}'` : `host '${d.hostId ?? '?'}'`;
    const words = lifecycleWords(event);
    say(`[${seq}] event '${words ? 'lifecycle' : event.type}' for ${about}${words ? `: ${words}` : ''}${d.hostId && d.uuid ? ` on '${d.hostId}'` : ''}`);
  }
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run a whole cluster on this machine (Redis, NATS, parser, scheduler, host agents), define and start examples/, print events; Ctrl-C stops it')
    .option('--dir <dir>', 'data and logs', '.virtflow')
    .option('--redis-port <port>', 'port of the redis-server it starts (taken or 0: any free port)', '6379')
    .option('--nats-port <port>', 'port of the nats-server it starts (taken or 0: any free port)', '4222')
    .option('--agents <n>', 'host agents on the test hypervisor', '3')
    .option('--no-qemu', 'no QEMU agent, even where qemu-system-x86_64 is installed')
    .option('--no-examples', 'do not define and start examples/')
    .action(async (flags: UpFlags) => {
      let cluster: Cluster | undefined;
      let vf: VirtflowClient | undefined;
      let signalled!: () => void;
      const stopped = new Promise<void>((r) => (signalled = r));
      const onSignal = (sig: string) => {
        say(`${sig}: stopping`);
        signalled();
      };
      process.on('SIGINT', () => onSignal('SIGINT'));
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      let code = 0;
      try {
        const upping = up({
          dir: flags.dir, redisPort: Number(flags.redisPort), natsPort: Number(flags.natsPort), agents: Math.max(0, Number(flags.agents) || 0),
          qemu: flags.qemu, env: process.env, print: say,
        });
        cluster = await Promise.race([upping, stopped.then(async () => {
          await (await upping.catch(() => undefined))?.stop();
          return undefined;
        })]);
        if (cluster) {
          say(`cluster up: export VIRTFLOW_REDIS_URL=${cluster.redisUrl} VIRTFLOW_NATS_URL=${cluster.natsUrl}`);
          vf = await connect({ redis: cluster.redisUrl, nats: cluster.natsUrl });
          const events = stream(vf, stopped);
          if (flags.examples) await Promise.race([examples(vf, cluster.scheduler), stopped]);
          say('streaming events; Ctrl-C stops the cluster');
          await Promise.all([events, stopped]);
        }
      } catch (e) {
        process.stderr.write(`error: ${describe(e)}\n`);
        code = 1;
      } finally {
        await vf?.close().catch(() => undefined);
        await cluster?.stop();
        say('stopped');
      }
      process.exit(code);
    });
}
