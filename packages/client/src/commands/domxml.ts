/**
 * `virtflow domxml [--postparse] [--explain] [--out DIR] FILE...`: parse
 * (and with --postparse, run the domain driver's post-parse) and format each
 * file. With --out, writes DIR/NAME.xml or DIR/NAME.err per file (as
 * libvirt's oracle define.py does) and prints `N defined, M rejected`;
 * --explain adds why each filled value got its value (DIR/NAME.why with --out).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { type Capabilities, type DriverRegistry, type Provenance, type Warning, defineDomain, formatDomainXML, isVirtError, parseDomain } from '@virtflow/model';

export interface DomxmlOptions {
  readonly out?: string;
  readonly warnings?: boolean;
  /** Run the driver's post-parse (needs caps and registry). */
  readonly postparse?: { caps: Capabilities; registry: DriverRegistry };
  readonly explain?: boolean;
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
      const { xml, warnings, provenance } = run(readFileSync(file), opts);
      if (opts.out) writeFileSync(join(opts.out, `${name}.xml`), xml);
      else io.stdout(xml);
      if (opts.explain && provenance) {
        const text = explain(provenance);
        if (opts.out) writeFileSync(join(opts.out, `${name}.why`), text);
        else io.stdout(text);
      }
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

function run(input: Buffer, opts: DomxmlOptions): { xml: string; warnings: readonly Warning[]; provenance?: readonly Provenance[] } {
  if (!opts.postparse) {
    const { def, warnings } = parseDomain(input);
    return { xml: formatDomainXML(def), warnings };
  }
  const r = defineDomain(input, opts.postparse);
  return { xml: formatDomainXML(r.def), warnings: r.warnings, provenance: r.provenance };
}

/** Provenance as lines a user reads: path = value, then who filled it and why. */
export function explain(provenance: readonly Provenance[]): string {
  return provenance.map((p) => `${p.path} = ${p.value === null ? '(removed)' : `'${p.value}'`}  [${p.driver}/${p.rule}] ${p.why}\n`).join('');
}

/** An error as one line: libvirt's message, then the path where there is one. */
export function errorLine(e: unknown): string {
  if (isVirtError(e)) return e.describe().replace(/\n/g, ' ');
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return `failed to open file: ${(e as Error).message}`;
  throw e;
}
