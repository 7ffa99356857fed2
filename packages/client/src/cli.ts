#!/usr/bin/env node
/** The `virtflow` command, shaped like virsh. */
import { Command } from 'commander';
import { defaultRegistry } from '@virtflow/model';
import { hostCapabilities } from '@virtflow/runtime';
import { domxml } from './commands/domxml.ts';
import { registerDomainOps } from './commands/domain-ops.ts';
import { registerReads } from './commands/reads.ts';
import { registerHosts } from './commands/hosts.ts';
import { registerEvent } from './commands/event.ts';
import { registerUp } from './up/command.ts';
import { Context, type GlobalOptions } from './cli/context.ts';

const io = { stdout: (s: string) => process.stdout.write(s), stderr: (s: string) => process.stderr.write(s) };

export function buildProgram(): Command {
  const program = new Command('virtflow')
    .description('virtflow: libvirt domains on an event-sourced cluster')
    .option('--redis <url>', 'Redis URL (default: VIRTFLOW_REDIS_URL, then redis://127.0.0.1:6379)')
    .option('--nats <url>', 'NATS URL(s), comma-separated (default: VIRTFLOW_NATS_URL, then nats://127.0.0.1:4222)')
    .option('--json', 'print results as JSON, for scripts')
    .option('--job-timeout <seconds>', 'how long a job may take (default 120)')
    .showHelpAfterError()
    // Usage errors exit 1, as every other failure.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));
  const ctxOf = (cmd: Command) => new Context(io, cmd.optsWithGlobals<GlobalOptions>());
  program
    .command('domxml')
    .description("parse domain XML files and print their canonical XML; with --postparse, as the domain's driver defines it")
    .argument('<file...>', 'domain XML files')
    .option('--out <dir>', 'write DIR/NAME.xml or DIR/NAME.err per file')
    .option('--postparse', "run the driver's post-parse (defaults and checks) for the domain type, with this host's capabilities")
    .option('--explain', 'with --postparse: print why each filled value got its value')
    .option('--warnings', 'list what was kept without being modelled')
    .action(async (files: string[], opts: { out?: string; warnings?: boolean; postparse?: boolean; explain?: boolean }) => {
      const postparse = opts.postparse || opts.explain ? { caps: await hostCapabilities(), registry: defaultRegistry() } : undefined;
      const { out, warnings, explain } = opts;
      process.exitCode = domxml(files, { ...(out ? { out } : {}), warnings: warnings ?? false, explain: explain ?? false, ...(postparse ? { postparse } : {}) }, io);
    });
  registerDomainOps(program, ctxOf);
  registerReads(program, ctxOf);
  registerHosts(program, ctxOf);
  registerEvent(program, ctxOf);
  registerUp(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
