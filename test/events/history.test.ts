/**
 * History, which libvirt and Nova lack: every version of a definition is
 * kept in the event store, readable as a list, as of an instant, and as a
 * structural diff between two versions.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { domainRef, type EventStore } from '@virtflow/runtime';
import type { DomainDefinedData } from '@virtflow/model';
import { domainXml } from '../support/events.ts';
import { startNats, type Nats } from './support.ts';

const def = (uuid: string, memKiB: number): DomainDefinedData => ({ uuid, name: `hist-${uuid.slice(0, 8)}`, domainType: 'kvm', driver: 'qemu', xml: domainXml(`hist-${uuid.slice(0, 8)}`, uuid, memKiB) });

describe('event store: definition history', () => {
  let nats: Nats;
  let store: EventStore;
  before(async () => {
    nats = await startNats();
    store = await nats.store();
  });
  after(async () => nats?.close());

  it('keeps every version, answers as of an instant, and diffs two versions', async () => {
    const uuid = randomUUID();
    await store.append(domainRef(uuid), store.makeEvents([{ type: 'DomainDefined', data: def(uuid, 1048576) }], 0), 0);
    const between = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await store.append(domainRef(uuid), store.makeEvents([{ type: 'DomainRedefined', data: def(uuid, 2097152) }], 1), 1);

    const versions = await store.history(uuid);
    assert.deepEqual(versions.map((v) => v.version), [1, 2]);
    assert.match(versions[0]!.xml, /1048576/);
    assert.match(versions[1]!.xml, /2097152/);

    const then = await store.asOf(uuid, between);
    assert.match(then?.xml ?? '', /1048576/);
    assert.equal(await store.asOf(uuid, new Date(0)), undefined);

    const changes = await store.diff(uuid, 1, 2);
    assert.ok(changes.some((c) => c.path.startsWith('/domain/memory') && JSON.stringify(c).includes('2097152')), JSON.stringify(changes));
  });
});
