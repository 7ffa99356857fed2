/**
 * What the hypervisor reports, as events. A hypervisor reports every change,
 * including those its own methods cause; the agent records the ones a command
 * caused itself (with the command's ids), so those are *expected* and dropped
 * here, and every other change — a guest powering off, a qemu dying, the end
 * of an ACPI shutdown or of an incoming migration — becomes an event.
 */
import { VirtError } from '@virtflow/model';
import type { EventDraft } from '@virtflow/runtime';
import type { LifecycleChange } from './hypervisor/types.ts';

/** The event a change is, or undefined for changes with no state (a reset). */
export function draftFor(change: LifecycleChange, hostId: string): EventDraft | undefined {
  const { uuid } = change;
  switch (change.event) {
    case 'started':
      return { type: 'DomainStarted', data: { uuid, hostId, detail: change.detail } };
    case 'suspended':
      return { type: 'DomainSuspended', data: { uuid, hostId, detail: change.detail } };
    case 'resumed':
      return { type: 'DomainResumed', data: { uuid, hostId, detail: change.detail } };
    case 'shutdown':
      return { type: 'DomainShutdown', data: { uuid, hostId, detail: change.detail } };
    case 'stopped': {
      const error = change.message ? new VirtError('INTERNAL_ERROR', change.message).toJSON() : undefined;
      return { type: 'DomainStopped', data: { uuid, hostId, detail: change.detail, ...(error ? { error } : {}) } };
    }
    case 'reset':
      return undefined;
  }
}

type ChangeKey = `${LifecycleChange['event']}${'' | `:${string}`}`;
const keyOf = (c: LifecycleChange): ChangeKey => ('detail' in c ? `${c.event}:${c.detail}` : c.event);

/** A command whose end the guest decides (shutdown) or a later handover completes (migrate-in). */
export interface FollowUp {
  readonly commandId: string;
  readonly correlationId: string;
  /** The change keys that end it (`stopped`, `resumed:MIGRATED`, ...): prefixes of keyOf. */
  readonly endsWith: readonly string[];
}

/**
 * Which changes the agent awaits per domain: expected ones (a command records
 * them itself) and follow-ups (recorded when they come, with the command's ids).
 */
export class ChangeBook {
  readonly #expected = new Map<string, Array<{ key: string; until: number }>>();
  readonly #followUps = new Map<string, FollowUp>();
  readonly #last = new Map<string, { commandId: string; correlationId: string }>();
  readonly #ttlMs: number;

  constructor(ttlMs = 10_000) {
    this.#ttlMs = ttlMs;
  }

  /**
   * The command about to act on `uuid` will record these changes itself (`started`, `stopped:DESTROYED`, ...).
   * `open`: they stay expected until settle(uuid), then for the TTL (the action may take longer than the TTL).
   */
  expect(uuid: string, keys: readonly string[], o: { open?: boolean } = {}): void {
    const until = o.open ? Infinity : Date.now() + this.#ttlMs;
    const now = (this.#expected.get(uuid) ?? []).filter((e) => e.until > Date.now());
    this.#expected.set(uuid, [...now, ...keys.map((key) => ({ key, until }))]);
  }

  /** The action is done: its open expectations last the TTL from now. */
  settle(uuid: string): void {
    const until = Date.now() + this.#ttlMs;
    for (const e of this.#expected.get(uuid) ?? []) if (e.until === Infinity) e.until = until;
  }

  /** Forget expectations the command did not meet (it failed before the hypervisor acted). */
  unexpect(uuid: string): void {
    this.#expected.delete(uuid);
  }

  /** True (and consumed) when a command is recording this change itself. */
  absorb(change: LifecycleChange): boolean {
    const list = this.#expected.get(change.uuid);
    if (!list) return false;
    const k = keyOf(change);
    const now = Date.now();
    const i = list.findIndex((e) => e.until > now && (k === e.key || k.startsWith(`${e.key}:`)));
    if (i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.#expected.delete(change.uuid);
    return true;
  }

  followUp(uuid: string, f: FollowUp): void {
    this.#followUps.set(uuid, f);
  }

  noteCommand(uuid: string, commandId: string, correlationId: string): void {
    this.#last.set(uuid, { commandId, correlationId });
  }

  /**
   * The ids an unasked-for change is recorded with: the follow-up command's
   * (consumed when the change ends it), else the correlation of the last
   * command on the domain with causation 'agent', else 'agent'.
   */
  idsFor(change: LifecycleChange): { correlationId: string; causationId: string } {
    const f = this.#followUps.get(change.uuid);
    if (f) {
      const k = keyOf(change);
      if (f.endsWith.some((e) => k === e || k.startsWith(`${e}:`))) this.#followUps.delete(change.uuid);
      return { correlationId: f.correlationId, causationId: f.commandId };
    }
    const last = this.#last.get(change.uuid);
    return { correlationId: last?.correlationId ?? 'agent', causationId: 'agent' };
  }
}
