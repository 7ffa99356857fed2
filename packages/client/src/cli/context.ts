/**
 * What every networked command shares: the connection (made on first use,
 * from --redis/--nats or VIRTFLOW_REDIS_URL/VIRTFLOW_NATS_URL), output, and
 * the one way an error is reported: `error: <message> (at <path>)` on stderr
 * and exit code 1, as virsh reports a failed call.
 */
import { isVirtError } from '@virtflow/model';
import { connect, type VirtflowClient } from '../sdk/index.ts';
import type { Io } from '../commands/domxml.ts';

export interface GlobalOptions {
  readonly redis?: string;
  readonly nats?: string;
  readonly json?: boolean;
  /** Seconds a job may take (--job-timeout). */
  readonly jobTimeout?: string;
}

export class Context {
  readonly io: Io;
  readonly opts: GlobalOptions;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Standard error is a terminal: progress is drawn there. */
  readonly tty: boolean;
  #client: Promise<VirtflowClient> | undefined;

  constructor(io: Io, opts: GlobalOptions, env: Readonly<Record<string, string | undefined>> = process.env, tty = Boolean(process.stderr.isTTY)) {
    this.io = io;
    this.opts = opts;
    this.env = env;
    this.tty = tty;
  }

  get json(): boolean {
    return this.opts.json === true;
  }

  client(): Promise<VirtflowClient> {
    const timeoutMs = this.opts.jobTimeout ? Number(this.opts.jobTimeout) * 1000 : undefined;
    return (this.#client ??= connect({
      ...(this.opts.redis ? { redis: this.opts.redis } : {}),
      ...(this.opts.nats ? { nats: this.opts.nats } : {}),
      ...(timeoutMs && Number.isFinite(timeoutMs) && timeoutMs > 0 ? { timeoutMs } : {}),
      env: this.env,
    }));
  }

  out(text: string): void {
    this.io.stdout(text.endsWith('\n') || text === '' ? text : `${text}\n`);
  }

  /** Prints a value as JSON (with --json) or as the text the command makes of it. */
  print<T>(value: T, text: (v: T) => string): void {
    this.out(this.json ? JSON.stringify(value, null, 2) : text(value));
  }

  /** Reports an error as virsh does: first what failed, then why. Returns the exit code. */
  fail(e: unknown, what?: string): number {
    if (what) this.io.stderr(`error: ${what}\n`);
    this.io.stderr(`error: ${describe(e)}\n`);
    return 1;
  }

  async close(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    if (c) await c.then((x) => x.close(), () => undefined);
  }
}

export function describe(e: unknown): string {
  if (isVirtError(e)) return e.describe().replace(/\n/g, ' ');
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT' && err.path) return `Failed to open file '${err.path}': No such file or directory`;
  if (err?.code === 'EISDIR' && err.path) return `Failed to open file '${err.path}': Is a directory`;
  return err instanceof Error ? err.message : String(e);
}

/** Runs a command body, turning a thrown error into `error:` lines and exit code 1. */
export async function run(ctx: Context, body: () => Promise<number | void>, what?: (e: unknown) => string | undefined): Promise<void> {
  try {
    process.exitCode = (await body()) ?? 0;
  } catch (e) {
    process.exitCode = ctx.fail(e, what?.(e));
  } finally {
    await ctx.close();
  }
}
