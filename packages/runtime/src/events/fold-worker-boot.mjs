// Worker entry: the fold worker is TypeScript, run through tsx like the rest
// of virtflow; a compiled build would point `entry` at JavaScript instead.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
