/**
 * A domain update whose events are checked against the model's transitions
 * before they are stored: the scheduler appends placement, fence and
 * migration events on behalf of hosts, so it must never write a step the
 * lifecycle forbids. A concurrent write reloads and decides again.
 */
import { checkTransition, reduceDomain, type AnyEvent, type DomainState } from '@virtflow/model';
import { domainRef, isConcurrencyError, type EventDraft, type EventStore } from '@virtflow/runtime';
import type { Ids } from './claims.ts';

/** The domain as a caller last read or wrote it. */
export interface KnownDomain {
  readonly state: DomainState | undefined;
  readonly version: number;
}

type Decide = (s: DomainState | undefined) => readonly EventDraft[];

/** The events of `drafts` after `version`, each checked against the state before it; and the state after them. */
function checked(store: EventStore, state: DomainState | undefined, version: number, drafts: readonly EventDraft[], ids: Ids): { events: AnyEvent[]; state: DomainState | undefined } {
  const events = store.makeEvents(drafts, version, ids);
  let s = state;
  for (const e of events) {
    checkTransition(s, e);
    s = reduceDomain(s, e);
  }
  return { events, state: s };
}

/** load → decide (checked) → append, again on a conflict; with the domain as it stands after the append. */
export async function updateChecked(store: EventStore, uuid: string, decide: Decide, ids: Ids) {
  let after: KnownDomain | undefined;
  const r = await store.update(domainRef(uuid), ({ state, version }) => {
    const drafts = decide(state);
    after = { state: checked(store, state, version, drafts, ids).state, version: version + drafts.length };
    return drafts;
  }, ids);
  return { ...r, known: after! };
}

/**
 * updateChecked from a state the caller already holds: decided on `known` and
 * appended at its version without reading the domain again (the store's own
 * check refuses the append if anything was written since); only a conflict
 * costs the load, then it is updateChecked. A start reads its domain once
 * and writes DomainPlaced on that read.
 */
export async function appendChecked(store: EventStore, uuid: string, known: KnownDomain | undefined, decide: Decide, ids: Ids): Promise<{ readonly events: readonly AnyEvent[]; readonly known: KnownDomain }> {
  if (known) {
    const drafts = decide(known.state);
    if (drafts.length === 0) return { events: [], known };
    const c = checked(store, known.state, known.version, drafts, ids);
    try {
      await store.append(domainRef(uuid), c.events, known.version);
      return { events: c.events, known: { state: c.state, version: known.version + c.events.length } };
    } catch (e) {
      if (!isConcurrencyError(e)) throw e;
    }
  }
  const r = await updateChecked(store, uuid, decide, ids);
  return { events: r.events, known: r.known };
}
