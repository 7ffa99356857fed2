#!/usr/bin/env node
/** The `virtflow` command, shaped like virsh. */
import { Command } from 'commander';
import { defaultRegistry } from '@virtflow/model';
import { hostCapabilities } from '@virtflow/runtime';
import { domxml } from './commands/domxml.ts';

const io = { stdout: (s: string) => process.stdout.write(s), stderr: (s: string) => process.stderr.write(s) };

export function buildProgram(): Command {
  const program = new Command('virtflow').description('virtflow: libvirt domains on an event-sourced cluster').showHelpAfterError();
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
  return program;
}

await buildProgram().parseAsync(process.argv);
