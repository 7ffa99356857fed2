/**
 * The failures already found and reported: test/fuzz/crashers/NAME.json
 * (what failed, its signature) beside NAME.xml or NAME.bin (the minimal
 * input, byte for byte). crashers.test.ts runs each as a `todo` test until the
 * model is fixed; fuzzing runs count them without failing on them again.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FailureKind } from './check.ts';
import type { FuzzInput } from './mutators.ts';

export const crashersDir = join(import.meta.dirname, 'crashers');

export interface Crasher {
  readonly name: string;
  readonly kind: FuzzInput['kind'];
  /** For a device: the index of the base domain it is attached to (check.ts's bases). */
  readonly base?: number;
  /** Whether the model is handed bytes (as they are in the file) or the file's text. */
  readonly asBytes?: boolean;
  readonly failure: FailureKind;
  readonly signature: string;
  /** The error or difference as found, for the report. */
  readonly found: string;
  /** false once the model is fixed: the regression test then runs as a test, not a todo. */
  readonly todo?: boolean;
  /**
   * The real libvirt does the same on this input (checked with ../shared/oracle): the property
   * fails in libvirt too, so the test pins our first output to libvirt's (`output`, beside the
   * crasher, UUID and MAC lines removed) instead of asking for the property.
   */
  readonly libvirt?: { readonly same: string; readonly output: string };
}

export function loadCrashers(): { crasher: Crasher; input: FuzzInput }[] {
  if (!existsSync(crashersDir)) return [];
  return readdirSync(crashersDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const crasher = { name: f.slice(0, -5), ...JSON.parse(readFileSync(join(crashersDir, f), 'utf8')) } as Crasher;
      const file = ['.xml', '.bin'].map((ext) => join(crashersDir, crasher.name + ext)).find(existsSync);
      if (!file) throw new Error(`crasher ${crasher.name} has no .xml or .bin beside its .json`);
      const bytes = readFileSync(file);
      const data = crasher.asBytes ? new Uint8Array(bytes) : bytes.toString('utf8');
      return { crasher, input: { kind: crasher.kind, base: crasher.base ?? 0, data } };
    });
}

export function knownSignatures(): Set<string> {
  return new Set(loadCrashers().map((c) => c.crasher.signature));
}
