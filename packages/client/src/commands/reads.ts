/** The commands that read domains: list, dominfo, domstate, dumpxml, history, diff. */
import type { Command } from 'commander';
import { VirtError, formatDiff, type LifecycleState, LIFECYCLE_STATES } from '@virtflow/model';
import { run, type Context } from '../cli/context.ts';
import { STATE_NAME, domainTable, dominfo, table } from '../cli/format.ts';

type CtxOf = (cmd: Command) => Context;

function version(raw: string, path: string): number {
  if (!/^\d+$/.test(raw)) throw new VirtError('INVALID_ARG', `'${raw}' is not a definition version (see 'virtflow history')`, path);
  return Number(raw);
}

export function registerReads(program: Command, ctxOf: CtxOf): void {
  program
    .command('list')
    .description('list domains (active ones; --all adds the inactive)')
    .option('--all', 'list inactive and active domains')
    .option('--inactive', 'list inactive domains only')
    .option('--state <state>', `only domains in this state (${LIFECYCLE_STATES.join(', ')})`)
    .option('--host <host>', 'only domains on this host')
    .action(async (opts: { all?: boolean; inactive?: boolean; state?: string; host?: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        if (opts.state !== undefined && !(LIFECYCLE_STATES as readonly string[]).includes(opts.state)) {
          throw new VirtError('INVALID_ARG', `unknown state '${opts.state}' (known: ${LIFECYCLE_STATES.join(', ')})`, '--state');
        }
        const vf = await ctx.client();
        const state = (opts.state as LifecycleState | undefined) ?? (opts.inactive ? 'shutoff' : opts.all ? 'all' : 'active');
        const domains = await vf.list({ state, ...(opts.host ? { host: opts.host } : {}) });
        ctx.print(domains, domainTable);
      });
    });
  program
    .command('dominfo')
    .description('domain information')
    .argument('<domain>', 'domain name or uuid')
    .action(async (domain: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => ctx.print(await (await ctx.client()).get(domain), dominfo));
    });
  program
    .command('domstate')
    .description('domain state')
    .argument('<domain>', 'domain name or uuid')
    .option('--reason', 'also print the reason for the state')
    .action(async (domain: string, opts: { reason?: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const d = await (await ctx.client()).get(domain);
        ctx.print({ state: d.state, reason: d.reason }, (v) => `${STATE_NAME[v.state]}${opts.reason ? ` (${v.reason.toLowerCase().replace(/_/g, ' ')})` : ''}\n`);
      });
    });
  program
    .command('dumpxml')
    .description('domain information in XML (the definition it runs with; --inactive: the current definition)')
    .argument('<domain>', 'domain name or uuid')
    .option('--inactive', 'show the inactive (persistent) definition')
    .action(async (domain: string, opts: { inactive?: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const xml = await (await ctx.client()).dumpXML(domain, { inactive: opts.inactive ?? false });
        ctx.print({ xml }, (v) => v.xml);
      });
    });
  program
    .command('history')
    .description("every version of a domain's definition")
    .argument('<domain>', 'domain name or uuid')
    .action(async (domain: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const h = await (await ctx.client()).history(domain);
        ctx.print(h, (v) => table(['Version', 'Time', 'Change'], v.map((x) => [String(x.version), x.at, x.type])));
      });
    });
  program
    .command('diff')
    .description('what changed between two versions of a definition (see history)')
    .argument('<domain>', 'domain name or uuid')
    .argument('<v1>', 'older version')
    .argument('<v2>', 'newer version')
    .action(async (domain: string, v1: string, v2: string, _o: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const changes = await (await ctx.client()).diff(domain, version(v1, '/v1'), version(v2, '/v2'));
        ctx.print(changes, (c) => (c.length ? `${formatDiff(c)}\n` : 'no changes\n'));
      });
    });
}
