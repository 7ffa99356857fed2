/** The commands that read hosts and jobs: hosts, nodeinfo, capabilities, jobs. */
import type { Command } from 'commander';
import { run, type Context } from '../cli/context.ts';
import { capabilitiesXml, deadTable, hostTable, jobTable, nodeinfo } from '../cli/format.ts';

type CtxOf = (cmd: Command) => Context;

export function registerHosts(program: Command, ctxOf: CtxOf): void {
  program
    .command('hosts')
    .description('the hosts whose agents registered, with their state')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => ctx.print(await (await ctx.client()).hosts.list(), hostTable));
    });
  program
    .command('nodeinfo')
    .description("a host's CPUs and memory, as virsh nodeinfo")
    .argument('<host>', 'host id')
    .action(async (host: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const vf = await ctx.client();
        const [h, caps] = await Promise.all([vf.hosts.get(host), vf.capabilities(host)]);
        ctx.print({ ...h, arch: caps.host.arch, capabilitiesSource: caps.source }, () => nodeinfo(h, caps));
      });
    });
  program
    .command('capabilities')
    .description("a host's capabilities (XML as virsh capabilities)")
    .argument('<host>', 'host id')
    .action(async (host: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => ctx.print(await (await ctx.client()).capabilities(host), capabilitiesXml));
    });
  program
    .command('jobs')
    .description('recent jobs on virtflow.jobs and virtflow.schedule, newest first')
    .option('--failed', 'only failed jobs')
    .option('--dead', 'the dead-letter queue: jobs that ran out of attempts on an infrastructure fault (see redrive)')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (opts: { failed?: boolean; dead?: boolean; limit: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const vf = await ctx.client();
        if (opts.dead) return ctx.print(await vf.jobs.dead(), deadTable);
        const limit = Math.max(1, Number.parseInt(opts.limit, 10) || 50);
        ctx.print(await vf.jobs.list({ failed: opts.failed ?? false, limit }), jobTable);
      });
    });
  program
    .command('redrive')
    .description('run a job of the dead-letter queue again from the start, once its fault is gone (operators)')
    .argument('<job>', 'the job id `jobs --dead` lists')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const result = await (await ctx.client()).jobs.redrive(id);
        ctx.print({ id, result }, () => `Job ${id} re-driven: completed\n`);
      });
    });
}
