/**
 * The commands that change domains, each one job: define, undefine, the
 * lifecycle (start ... resume), attach-device, detach-device, migrate,
 * evacuate. Messages are virsh's (`Domain 'web' started`, and on failure
 * `error: Failed to start domain 'web'` then the reason).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { defaultRegistry, defineDomain, formatDomainXML, type JobResult } from '@virtflow/model';
import { hostCapabilities } from '@virtflow/runtime';
import { run, type Context } from '../cli/context.ts';
import { indicator } from '../cli/progress.ts';
import { explain } from './domxml.ts';
import type { OpResult, RunOptions } from '../sdk/index.ts';

type CtxOf = (cmd: Command) => Context;

/** A job with a progress indicator on a terminal. */
async function withProgress<T>(ctx: Context, what: string, f: (o: RunOptions) => Promise<T>): Promise<T> {
  const ind = indicator(ctx.tty && !ctx.json, ctx.io.stderr, what);
  try {
    return await f({ onProgress: (p) => ind.step(p) });
  } finally {
    ind.done();
  }
}

function defineCommand(program: Command, ctxOf: CtxOf): void {
  program
    .command('define')
    .description('define domains from XML files (several files: one job each, with a progress bar)')
    .argument('<file...>', 'domain XML files')
    .option('--dry-run', "post-parse locally with this host's capabilities and print the result; nothing is submitted")
    .option('--explain', 'print why each value the drivers filled got its value')
    .action(async (files: string[], opts: { dryRun?: boolean; explain?: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      let current = files[0]!;
      await run(ctx, async () => {
        const inputs = files.map((f) => ({ file: f, xml: readFileSync(f, 'utf8') }));
        if (opts.dryRun) {
          const env = { caps: await hostCapabilities(), registry: defaultRegistry() };
          for (const { file, xml } of inputs) {
            current = file;
            const r = defineDomain(xml, env);
            ctx.print({ file, uuid: r.def.uuid, name: r.def.name, xml: formatDomainXML(r.def), ...(opts.explain ? { provenance: r.provenance } : {}) }, (v) =>
              `${v.xml}${opts.explain ? explain(r.provenance) : ''}Domain '${v.name}' would be defined from ${file} (dry run: nothing submitted)\n`);
          }
          return 0;
        }
        const vf = await ctx.client();
        const bar = indicator(ctx.tty && !ctx.json && inputs.length > 1, ctx.io.stderr, 'define', inputs.length);
        let failed = 0;
        try {
          for (const { file, xml } of inputs) {
            current = file;
            try {
              const r = await vf.define(xml, inputs.length > 1 ? {} : { onProgress: (p) => bar.step(p) });
              const name = /<name>([^<]*)<\/name>/.exec(r.xml)?.[1] ?? r.uuid;
              ctx.print({ file, uuid: r.uuid, name, version: r.version, ...(opts.explain ? { provenance: r.provenance } : {}) }, () =>
                `${opts.explain ? explain(r.provenance as Parameters<typeof explain>[0]) : ''}Domain '${name}' defined from ${file}`);
            } catch (e) {
              if (inputs.length === 1) throw e;
              failed++;
              ctx.fail(e, `Failed to define domain from ${file}`);
            } finally {
              bar.tick(file);
            }
          }
        } finally {
          bar.done();
        }
        return failed > 0 ? 1 : 0;
      }, () => `Failed to define domain from ${current}`);
    });
}

interface Simple {
  readonly name: string;
  readonly description: string;
  readonly verb: string;
  readonly done: (name: string) => string;
  readonly call: (vf: Awaited<ReturnType<Context['client']>>, domain: string, o: RunOptions) => Promise<OpResult | JobResult>;
}

const SIMPLE: readonly Simple[] = [
  { name: 'undefine', description: 'undefine a domain (a running domain keeps running, transient)', verb: 'undefine', done: (n) => `Domain '${n}' has been undefined`, call: (vf, d, o) => vf.undefine(d, o) },
  { name: 'start', description: 'start a (previously defined) inactive domain', verb: 'start', done: (n) => `Domain '${n}' started`, call: (vf, d, o) => vf.start(d, o) },
  { name: 'shutdown', description: 'gracefully shut down a domain', verb: 'shutdown', done: (n) => `Domain '${n}' is being shutdown`, call: (vf, d, o) => vf.shutdown(d, o) },
  { name: 'destroy', description: 'destroy (stop) a domain', verb: 'destroy', done: (n) => `Domain '${n}' destroyed`, call: (vf, d, o) => vf.destroy(d, o) },
  { name: 'reboot', description: 'reboot a domain', verb: 'reboot', done: (n) => `Domain '${n}' is being rebooted`, call: (vf, d, o) => vf.reboot(d, o) },
  { name: 'suspend', description: 'suspend a domain', verb: 'suspend', done: (n) => `Domain '${n}' suspended`, call: (vf, d, o) => vf.suspend(d, o) },
  { name: 'resume', description: 'resume a suspended domain', verb: 'resume', done: (n) => `Domain '${n}' resumed`, call: (vf, d, o) => vf.resume(d, o) },
];

function simpleCommand(program: Command, ctxOf: CtxOf, s: Simple): void {
  program
    .command(s.name)
    .description(s.description)
    .argument('<domain>', 'domain name or uuid')
    .action(async (domain: string, _opts: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const vf = await ctx.client();
        const r = await withProgress(ctx, `${s.name} ${domain}`, (o) => s.call(vf, domain, o));
        ctx.print({ domain, ...r }, () => s.done(domain));
      }, () => `Failed to ${s.verb} domain '${domain}'`);
    });
}

function deviceCommand(program: Command, ctxOf: CtxOf, name: 'attach-device' | 'detach-device'): void {
  const attach = name === 'attach-device';
  program
    .command(name)
    .description(`${attach ? 'attach a device to' : 'detach a device from'} a domain's persistent definition, from an XML file`)
    .argument('<domain>', 'domain name or uuid')
    .argument('<file>', 'device XML file')
    .option('--config', "affect the persistent definition (the default; virtflow's device edits are --config edits)")
    .action(async (domain: string, file: string, _opts: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const xml = readFileSync(file, 'utf8');
        const vf = await ctx.client();
        const r = await withProgress(ctx, `${name} ${domain}`, (o) => (attach ? vf.attachDevice(domain, xml, o) : vf.detachDevice(domain, xml, o)));
        ctx.print({ domain, uuid: r.uuid, version: r.version }, () => `Device ${attach ? 'attached' : 'detached'} successfully`);
      }, () => `Failed to ${attach ? 'attach' : 'detach'} device from ${file}`);
    });
}

function moveCommands(program: Command, ctxOf: CtxOf): void {
  program
    .command('migrate')
    .description('live-migrate a domain to another host')
    .argument('<domain>', 'domain name or uuid')
    .argument('[host]', 'the target host (default: the scheduler picks one)')
    .option('--offline', 'not a live migration')
    .action(async (domain: string, host: string | undefined, opts: { offline?: boolean }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const vf = await ctx.client();
        const r = await withProgress(ctx, `migrate ${domain}`, (o) => vf.migrate(domain, host, { ...o, live: !opts.offline }));
        ctx.print({ domain, ...r }, () => `Domain '${domain}' migrated${host ? ` to host '${host}'` : ''}`);
      }, () => `Failed to migrate domain '${domain}'`);
    });
  program
    .command('evacuate')
    .description('move every domain off a host')
    .argument('<host>', 'host id')
    .action(async (host: string, _opts: unknown, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const vf = await ctx.client();
        const r = await withProgress(ctx, `evacuate ${host}`, (o) => vf.evacuate(host, o));
        ctx.print({ host, ...r }, () => `Host '${host}' evacuated`);
      }, () => `Failed to evacuate host '${host}'`);
    });
}

export function registerDomainOps(program: Command, ctxOf: CtxOf): void {
  defineCommand(program, ctxOf);
  for (const s of SIMPLE) simpleCommand(program, ctxOf, s);
  deviceCommand(program, ctxOf, 'attach-device');
  deviceCommand(program, ctxOf, 'detach-device');
  moveCommands(program, ctxOf);
}
