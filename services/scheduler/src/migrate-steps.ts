/**
 * The steps a migration is made of, each one I/O call against the event
 * store or an agent: record the decision (DomainMigrating), command an agent
 * and wait for its outcome, wait until the domain's log says something, and
 * call a migration off while it has not reached either end.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { updateChecked } from './update-checked.ts';
import {
  VirtError, makeCommand,
  type CommandArgs, type CommandOutcome, type CommandType, type DomainState, type VirtErrorJSON,
} from '@virtflow/model';
import { awaitCommandResult, domainRef, sendCommand, type CommandResultWatcher, type EventDraft, type EventStore } from '@virtflow/runtime';

export interface Ids {
  readonly correlationId: string;
  readonly causationId?: string;
}

export interface StepContext {
  readonly store: EventStore;
  readonly nc: NatsConnection;
  /** One watch over every command outcome (a scheduler has many in flight); else one watch per command. */
  readonly watcher?: CommandResultWatcher;
  readonly newId: () => string;
  readonly now: () => Date;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Appends drafts to a domain after checking each is a legal step (the model's rules), reloading on a concurrent write. */
export async function appendChecked(ctx: StepContext, uuid: string, decide: (s: DomainState | undefined) => readonly EventDraft[], ids: Ids): Promise<readonly string[]> {
  const r = await updateChecked(ctx.store, uuid, decide, ids);
  return r.events.map((e) => e.id);
}

/** Sends a command to a host's agent and waits for its outcome (completed or failed: a failure is a value). */
export async function command<T extends CommandType>(
  ctx: StepContext, hostId: string, type: T, uuid: string, args: CommandArgs[T], ids: Ids, timeoutMs: number,
): Promise<{ readonly id: string; readonly outcome: CommandOutcome }> {
  const cmd = makeCommand(type, { hostId, uuid }, args, { correlationId: ids.correlationId, now: ctx.now, newId: ctx.newId });
  // The watcher must be waiting before the agent can answer: wait() registers synchronously.
  const pending = ctx.watcher ? ctx.watcher.wait(cmd, timeoutMs) : undefined;
  // A send that throws leaves the wait unawaited: its timeout must not surface as an unhandled rejection.
  pending?.catch(() => undefined);
  await sendCommand(ctx.nc, cmd);
  const outcome = pending ? await pending : await awaitCommandResult(ctx.nc, cmd, { timeoutMs });
  return { id: cmd.id, outcome };
}

/** The outcome's error as a VirtError, naming the host and the command. */
export function outcomeError(hostId: string, type: string, o: CommandOutcome): VirtError {
  const e: VirtErrorJSON | undefined = o.error;
  return new VirtError(e?.code ?? 'INTERNAL_ERROR', `${type} on host '${hostId}' failed: ${e?.detail ?? e?.message ?? 'no error recorded'}`, e?.path ?? `/commands/${hostId}/${o.id}`);
}

/** An error's own words, without its code's prefix, for nesting in another error's message. */
export function detailOf(e: unknown): string {
  if (e instanceof VirtError) return e.detail ?? e.message;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Polls the domain until `done` says yes (or gives up at the deadline with
 * OPERATION_TIMEOUT naming `what`). Gentle backoff: an evacuation waits on
 * many domains at once on a shared machine.
 */
export async function waitForDomain(ctx: StepContext, uuid: string, what: string, done: (s: DomainState | undefined) => boolean, timeoutMs: number): Promise<DomainState | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 25; ; pause = Math.min(500, pause * 2)) {
    const s = (await ctx.store.load(domainRef(uuid))).state;
    if (done(s)) return s;
    if (Date.now() > deadline) throw new VirtError('OPERATION_TIMEOUT', `${what} did not happen within ${timeoutMs} ms`, `/domains/${uuid}`);
    await sleep(pause);
  }
}

/**
 * Calls off a migration to `toHost` that neither end has completed: the
 * incoming copy on the destination is recorded as stopped (FAILED), which
 * leaves the domain where it was, running on its source. Nothing is
 * appended when the migration is already over, called off (the destination's
 * agent reports its failed incoming qemu itself) or past the point of no
 * return; the state found is returned.
 */
export async function callOff(ctx: StepContext, uuid: string, toHost: string, error: VirtError, ids: Ids): Promise<DomainState | undefined> {
  let found: DomainState | undefined;
  await appendChecked(ctx, uuid, (s) => {
    found = s;
    const m = s?.migration;
    if (!m || m.toHost !== toHost || m.targetStarted || m.sourceStopped) return [];
    return [{ type: 'DomainStopped', data: { uuid, hostId: toHost, detail: 'FAILED', error: error.toJSON() } }];
  }, ids);
  return found;
}
