/**
 * `virtflow domxml [--out DIR] FILE...`: parse and format each file.
 * With --out, writes DIR/NAME.xml or DIR/NAME.err per file (as libvirt's
 * oracle define.py does) and prints `N defined, M rejected`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { formatDomainXML, isVirtError, parseDomain } from '@virtflow/model';

export interface DomxmlOptions {
  readonly out?: string;
  readonly warnings?: boolean;
}

export interface Io {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

/** Runs the command; returns the process exit code. */
export function domxml(files: readonly string[], opts: DomxmlOptions, io: Io): number {
  if (opts.out) mkdirSync(opts.out, { recursive: true });
  let ok = 0;
  let bad = 0;
  for (const file of files) {
    const name = basename(file, extname(file));
    try {
      const { def, warnings } = parseDomain(readFileSync(file));
      const xml = formatDomainXML(def);
      if (opts.out) writeFileSync(join(opts.out, `${name}.xml`), xml);
      else io.stdout(xml);
      if (opts.warnings) for (const w of warnings) io.stderr(`warning: ${file}: ${w.path}: ${w.message}\n`);
      ok++;
    } catch (e) {
      const line = errorLine(e);
      if (opts.out) writeFileSync(join(opts.out, `${name}.err`), `${line}\n`);
      else io.stderr(`error: ${files.length > 1 ? `${file}: ` : ''}${line}\n`);
      bad++;
    }
  }
  if (opts.out) io.stdout(`${ok} defined, ${bad} rejected\n`);
  return bad > 0 && !opts.out ? 1 : 0;
}

/** An error as one line: libvirt's message, then the path where there is one. */
export function errorLine(e: unknown): string {
  if (isVirtError(e)) return e.describe().replace(/\n/g, ' ');
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return `failed to open file: ${(e as Error).message}`;
  throw e;
}
