/**
 * An undefine is two writes, DomainUndefined then the release of the name
 * (domains.ts). A run killed between them, made deterministic by appending
 * the DomainUndefined alone by hand: its retry (the parser's BullMQ job, same
 * correlationId) must free the name. Before, the retry was refused ("domain
 * is not defined") and failed for good, and the name stayed held by the
 * undefined domain: no define of another uuid could ever take it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NameTakenError, defineDomain, domainRef, undefineDomain, type EventStore } from '@virtflow/runtime';
import { VirtError, type DomainDefinedData } from '@virtflow/model';
import { domainXml } from '../support/events.ts';
import { startNats, type Nats } from './support.ts';

const def = (uuid: string, name: string): DomainDefinedData => ({ uuid, name, domainType: 'kvm', driver: 'qemu', xml: domainXml(name, uuid, 1048576) });

describe('event store: an undefine cut between its event and the release of the name', () => {
  let nats: Nats;
  let store: EventStore;
  before(async () => {
    nats = await startNats();
    store = await nats.store();
  });
  after(async () => nats?.close());

  /** The log as an undefine killed after its DomainUndefined leaves it: the event, the name still held. */
  async function cutUndefine(uuid: string, name: string, correlationId: string): Promise<void> {
    const { version } = await store.load(domainRef(uuid));
    await store.append(domainRef(uuid), store.makeEvents([{ type: 'DomainUndefined', data: { uuid, name } }], version, { correlationId }), version);
    assert.equal(await store.nameOwner(name), uuid);
  }

  it('the retry of the same job frees the name and reports the undefine done', async () => {
    const uuid = randomUUID();
    await defineDomain(store, def(uuid, 'cut-undefine'));
    await cutUndefine(uuid, 'cut-undefine', 'job-undefine-1');
    // What the cut does to everyone else: the name is taken by a domain that no longer exists.
    await assert.rejects(defineDomain(store, def(randomUUID(), 'cut-undefine')), NameTakenError);

    const r = await undefineDomain(store, uuid, { correlationId: 'job-undefine-1' });
    assert.equal(r.version, 2);
    assert.equal(await store.nameOwner('cut-undefine'), undefined);
    const other = randomUUID();
    await defineDomain(store, def(other, 'cut-undefine'));
    assert.equal(await store.nameOwner('cut-undefine'), other);
    // Nothing appended by the retry.
    assert.deepEqual((await store.events(domainRef(uuid))).map((e) => e.event.type), ['DomainDefined', 'DomainUndefined']);
  });

  it('another job undefining an undefined domain is still refused', async () => {
    const uuid = randomUUID();
    await defineDomain(store, def(uuid, 'cut-undefine-2'));
    await cutUndefine(uuid, 'cut-undefine-2', 'job-undefine-2');
    await assert.rejects(undefineDomain(store, uuid, { correlationId: 'job-other' }), (e: unknown) => e instanceof VirtError && /is not defined/.test(e.message));
    await assert.rejects(undefineDomain(store, uuid), (e: unknown) => e instanceof VirtError && /is not defined/.test(e.message));
  });
});
