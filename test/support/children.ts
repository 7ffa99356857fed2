/**
 * The child processes a test module started, so an after() hook can SIGKILL
 * whatever is left, whatever failed. Each module keeps its own set.
 */
import type { ChildProcess } from 'node:child_process';

export interface Children {
  add(child: ChildProcess): void;
  delete(child: ChildProcess): void;
  /** SIGKILLs every child still running and waits for each to exit. */
  killAll(): Promise<void>;
}

export function children(): Children {
  const set = new Set<ChildProcess>();
  return {
    add: (c) => void set.add(c),
    delete: (c) => void set.delete(c),
    async killAll() {
      await Promise.all([...set].map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      })));
      set.clear();
    },
  };
}
