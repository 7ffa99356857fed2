/**
 * A domain update whose events are checked against the model's transitions
 * before they are stored: the scheduler appends placement, fence and
 * migration events on behalf of hosts, so it must never write a step the
 * lifecycle forbids. A concurrent write reloads and decides again.
 */
import { checkTransition, reduceDomain, type DomainState } from '@virtflow/model';
import { domainRef, type EventDraft, type EventStore } from '@virtflow/runtime';
import type { Ids } from './claims.ts';

export function updateChecked(store: EventStore, uuid: string, decide: (s: DomainState | undefined) => readonly EventDraft[], ids: Ids) {
  return store.update(domainRef(uuid), ({ state, version }) => {
    const drafts = decide(state);
    let s = state;
    for (const e of store.makeEvents(drafts, version, ids)) {
      checkTransition(s, e);
      s = reduceDomain(s, e);
    }
    return drafts;
  }, ids);
}
