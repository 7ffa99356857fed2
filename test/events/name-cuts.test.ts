/**
 * Define and undefine are two writes each (domains.ts): the name claimed then
 * the definition appended; DomainUndefined then the name released. Runs cut
 * between the two, made deterministic by writing the first alone by hand:
 * - an undefine's retry (the parser's BullMQ job, same correlationId) must
 *   free the name. Before, the retry was refused ("domain is not defined") and
 *   failed for good, and the name stayed held by the undefined domain: no
 *   define of another uuid could ever take it;
 * - a define refused after its claim (a rename by redefinition) gives the name
 *   back; one killed between the claim and the refusal left the claim, and its
 *   retry took the name for its own from before and kept it for good.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NameTakenError, defineDomain, domainRef, undefineDomain, type EventStore } from '@virtflow/runtime';
import { VirtError, type DomainDefinedData } from '@virtflow/model';
import { domainXml } from '../support/events.ts';
import { startNats, type Nats } from './support.ts';

const def = (uuid: string, name: string): DomainDefinedData => ({ uuid, name, domainType: 'kvm', driver: 'qemu', xml: domainXml(name, uuid, 1048576) });

describe('event store: a define or undefine cut between its two writes', () => {
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

  it('a rename by redefinition, retried after its first try left the new name claimed, gives the name back', async () => {
    const uuid = randomUUID();
    await defineDomain(store, def(uuid, 'cut-define-old'));
    // The first try of the rename, killed right after its claim.
    await store.claimName('cut-define-new', uuid);
    await assert.rejects(defineDomain(store, def(uuid, 'cut-define-new')), (e: unknown) => e instanceof VirtError);
    assert.equal(await store.nameOwner('cut-define-new'), undefined, 'the name the domain does not carry is free again');
    assert.equal(await store.nameOwner('cut-define-old'), uuid, 'its own name stays its');
    await defineDomain(store, def(randomUUID(), 'cut-define-new'));
  });

  it('a redefine under its own name that fails keeps the name', async () => {
    const uuid = randomUUID();
    await defineDomain(store, def(uuid, 'cut-define-same'));
    // Refused after the decision read the domain (an invalid event: an empty domain type): the name is the domain's, kept.
    await assert.rejects(defineDomain(store, { ...def(uuid, 'cut-define-same'), domainType: '' }), (e: unknown) => e instanceof VirtError);
    assert.equal(await store.nameOwner('cut-define-same'), uuid);
  });
});
