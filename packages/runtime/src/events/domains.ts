/**
 * Define and undefine through the event store, with libvirt's rule that a
 * name belongs to one domain in the cluster: the name is claimed (a write the
 * server arbitrates) before the definition is appended, and released after
 * the undefine. A define that loses the name race fails with NameTakenError
 * and appends nothing.
 */
import { checkTransition, type AnyEvent, type DomainDefinedData } from '@virtflow/model';
import { domainRef } from './aggregate.ts';
import { NameTakenError, isConcurrencyError } from './errors.ts';
import type { AppendResult, EventStore, UpdateOptions } from './store.ts';

export interface DefineResult extends AppendResult {
  readonly event: AnyEvent;
  /** DomainDefined for a new (or undefined) uuid, DomainRedefined for a defined one. */
  readonly redefined: boolean;
}

export interface DefineOptions extends UpdateOptions {
  /**
   * The caller drew the uuid itself just now, so nothing of the domain can be stored yet: the
   * name is claimed and DomainDefined appended blind at version 0 (two requests, where a load
   * first reads the aggregate's heads: one per event type on nats-server 2.9). Should the uuid
   * hold events after all, the append's expected sequence refuses it and the define goes the
   * checked way.
   */
  readonly fresh?: boolean;
}

export async function defineDomain(store: EventStore, def: DomainDefinedData, opts: DefineOptions = {}): Promise<DefineResult> {
  const heldBefore = opts.fresh ? false : (await store.nameOwner(def.name)) === def.uuid;
  await store.claimName(def.name, def.uuid);
  let redefined = false;
  // The domain as the last decision saw it (unread until the update ran): whether the name is its by definition.
  const seen: { read: boolean; state?: { readonly defined: boolean; readonly name: string } | undefined } = { read: false };
  try {
    if (opts.fresh) {
      const events = store.makeEvents([{ type: 'DomainDefined', data: def }], 0, opts);
      checkTransition(undefined, events[0]!);
      try {
        const r = await store.append(domainRef(def.uuid), events, 0);
        return { ...r, event: events[0]!, redefined: false };
      } catch (e) {
        if (!isConcurrencyError(e)) throw e;
      }
    }
    const r = await store.update(domainRef(def.uuid), ({ state }) => {
      seen.read = true;
      seen.state = state;
      redefined = state?.defined === true;
      const draft = { type: redefined ? 'DomainRedefined' : 'DomainDefined', data: def } as const;
      // The guard: a rename by redefinition, a define over a live domain, ... are refused before anything is written.
      const [event] = store.makeEvents([draft], state?.version ?? 0, opts);
      checkTransition(state, event!);
      return [draft];
    }, opts);
    return { ...r, event: r.events[0]!, redefined };
  } catch (e) {
    // Give the name back unless the domain holds it by its definition. Whether the name was ours before
    // this call is not enough: an earlier try of the same define killed between its claim and its
    // refusal (a rename by redefinition) left the claim, and every retry would then keep it for good.
    const keep = seen.read ? seen.state?.defined === true && seen.state.name === def.name : heldBefore;
    if (!keep) await store.releaseName(def.name, def.uuid).catch(() => undefined);
    throw e;
  }
}

/**
 * Appends DomainUndefined (the domain must be shut off) and frees its name.
 * The two are separate writes: a run killed between them left the domain
 * undefined and its name held by it, which no define of another uuid can ever
 * take. Run again under the same correlationId (the job's retry), it finds its
 * own DomainUndefined at the head and completes the release instead of
 * refusing a domain that is no longer defined.
 */
export async function undefineDomain(store: EventStore, uuid: string, opts: UpdateOptions = {}): Promise<AppendResult> {
  let name = '';
  const r = await store.update(domainRef(uuid), async ({ state }) => {
    name = state?.name ?? '';
    // Done by an earlier run of this job: nothing to append, the name still to free.
    if (state && !state.defined && opts.correlationId !== undefined && (await ownUndefineAtHead(store, uuid, opts.correlationId))) return [];
    const draft = { type: 'DomainUndefined', data: { uuid, name } } as const;
    const [event] = store.makeEvents([draft], state?.version ?? 0, opts);
    checkTransition(state, event!);
    return [draft];
  }, opts);
  await store.releaseName(name, uuid);
  return r;
}

/** Whether the domain's last event is a DomainUndefined of this correlationId (an earlier run of the same job). */
async function ownUndefineAtHead(store: EventStore, uuid: string, correlationId: string): Promise<boolean> {
  const last = (await store.events(domainRef(uuid))).at(-1)?.event;
  return last?.type === 'DomainUndefined' && last.correlationId === correlationId;
}

export { NameTakenError };
