#!/usr/bin/env node
/** The `virtflow` command, shaped like virsh. */
import { Command } from 'commander';
import { domxml } from './commands/domxml.ts';

const io = { stdout: (s: string) => process.stdout.write(s), stderr: (s: string) => process.stderr.write(s) };

export function buildProgram(): Command {
  const program = new Command('virtflow').description('virtflow: libvirt domains on an event-sourced cluster').showHelpAfterError();
  program
    .command('domxml')
    .description('parse domain XML files and print their canonical XML')
    .argument('<file...>', 'domain XML files')
    .option('--out <dir>', 'write DIR/NAME.xml or DIR/NAME.err per file')
    .option('--warnings', 'list what was kept without being modelled')
    .action((files: string[], opts: { out?: string; warnings?: boolean }) => {
      process.exitCode = domxml(files, opts, io);
    });
  return program;
}

await buildProgram().parseAsync(process.argv);
