/**
 * The floor worker (pipeline-floor-worker.ts) as a child process, and the
 * queue its jobs go on: shared by the pipeline bench's floor and the cluster
 * bench's path floor.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

const WORKER = fileURLToPath(new URL('./pipeline-floor-worker.ts', import.meta.url));

export interface FloorWorker {
  /** Resolves once the worker said it is ready; rejects if it exits first. */
  readonly ready: Promise<void>;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
}

/** `env`: REDIS_URL, and NATS_URL for the cluster's path floor (the worker's header says what each does). */
export function spawnFloorWorker(env: Readonly<Record<string, string>>): FloorWorker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], { env: { ...process.env, CONCURRENCY: '32', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`the floor worker exited with ${code}`)));
  });
  ready.catch(() => undefined);
  return {
    ready,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The queue the floor's define (and start) jobs are submitted on, with the client's job options. */
export const floorJobsQueue = (connection: Redis): Queue =>
  new Queue('floor.jobs', { connection, prefix: 'floor', defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: { age: 3600 } } });
