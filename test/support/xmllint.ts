/** Schema validation with libxml2's xmllint against libvirt's RelaxNG schema, many files per run. */
import { spawnSync } from 'node:child_process';

/** Returns the set of files that failed to validate (with xmllint's first message for each). */
export function validateWithSchema(schema: string, files: readonly string[]): Map<string, string> {
  const failed = new Map<string, string>();
  for (let i = 0; i < files.length; i += 200) {
    const batch = files.slice(i, i + 200);
    const r = spawnSync('xmllint', ['--noout', '--relaxng', schema, ...batch], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.error) throw new Error(`xmllint could not run (scripts/bootstrap installs libxml2-utils): ${r.error.message}`);
    const messages = new Map<string, string>();
    for (const line of r.stderr.split('\n')) {
      const m = /^(.+?):\d+: .*/.exec(line);
      if (m && !messages.has(m[1]!)) messages.set(m[1]!, line);
      const f = /^(.+) fails to validate$/.exec(line);
      if (f) failed.set(f[1]!, messages.get(f[1]!) ?? 'fails to validate');
    }
  }
  return failed;
}
