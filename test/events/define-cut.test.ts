/**
 * A define is two writes: the name claimed, then the definition appended
 * (domains.ts). A define refused after its claim — a rename by redefinition —
 * gives the name back; but one killed between the claim and the refusal left
 * the claim, and its retry (the same job again) took the name for its own
 * from before and kept it: the renamed-to name stayed held by a domain that
 * does not carry it. Made deterministic by claiming the name by hand, as the
 * killed try did.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { defineDomain, type EventStore } from '@virtflow/runtime';
import { VirtError, type DomainDefinedData } from '@virtflow/model';
import { domainXml } from '../support/events.ts';
import { startNats, type Nats } from './support.ts';

const def = (uuid: string, name: string): DomainDefinedData => ({ uuid, name, domainType: 'kvm', driver: 'qemu', xml: domainXml(name, uuid, 1048576) });

describe('event store: a define refused after a cut claim', () => {
  let nats: Nats;
  let store: EventStore;
  before(async () => {
    nats = await startNats();
    store = await nats.store();
  });
  after(async () => nats?.close());

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
