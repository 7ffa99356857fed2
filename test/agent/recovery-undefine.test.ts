/**
 * An agent killed between an undefine's DomainUndefined and the release of
 * the domain's name (two writes: the event on the domain, the release on the
 * name's subject), made deterministic: the command's pending record and its
 * DomainUndefined are written by hand, then the command is redelivered to a
 * new agent. Its recovery must free the name; before, it reported the lone
 * DomainUndefined as the result and the name stayed held by a domain that no
 * longer exists, so no define of another uuid could ever take it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { makeCommand, type CommandOutcome } from '@virtflow/model';
import { awaitCommandResult, commandResultKey, domainRef, openCommandResults, sendCommand } from '@virtflow/runtime';
import { TIMEOUT, command, domainState, domainXml, events, startAgent, startNats, type Nats } from './support.ts';

describe('host agent: recovery of an undefine cut short', { timeout: 120_000 }, () => {
  let nats: Nats;
  before(async () => {
    nats = await startNats();
  });
  after(async () => nats?.close());

  it('cut between DomainUndefined and the release of the name: the recovery frees the name', async () => {
    const first = await startAgent(nats, 'ru1');
    const uuid = randomUUID();
    assert.equal((await command(first.nc, 'ru1', 'define', uuid, { xml: domainXml('cut-undef', uuid) })).outcome.status, 'completed');
    assert.equal(await first.store.nameOwner('cut-undef'), uuid);
    await first.agent.stop();

    // What the killed agent left: the pending record, DomainUndefined, the name still held, the command unacked.
    const undefine = makeCommand('undefine', { hostId: 'ru1', uuid }, {}, { correlationId: `job-${randomUUID()}`, now: () => new Date(), newId: randomUUID });
    const results = await openCommandResults(first.nc);
    const pending: CommandOutcome = { id: undefine.id, type: 'undefine', hostId: 'ru1', uuid, correlationId: undefine.correlationId, at: new Date().toISOString(), status: 'pending' };
    await results.put(commandResultKey('ru1', undefine.id), JSON.stringify(pending));
    const { version } = await first.store.load(domainRef(uuid));
    const ids = { correlationId: undefine.correlationId, causationId: undefine.id };
    await first.store.append(domainRef(uuid), first.store.makeEvents([{ type: 'DomainUndefined', data: { uuid, name: 'cut-undef' } }], version, ids), version);
    await sendCommand(first.nc, undefine);

    const second = await startAgent(nats, 'ru1');
    try {
      const o = await awaitCommandResult(second.nc, undefine, { timeoutMs: TIMEOUT });
      assert.equal(o.status, 'completed', JSON.stringify(o.error));
      assert.deepEqual(o.events?.map((e) => e.type), ['DomainUndefined']);
      assert.equal((await domainState(second.store, uuid))?.defined, false);
      assert.deepEqual((await events(second.store, uuid)).map((e) => e.type), ['DomainDefined', 'DomainUndefined']);
      assert.equal(await second.store.nameOwner('cut-undef'), undefined, 'the name is free again');
      const other = randomUUID();
      assert.equal((await command(second.nc, 'ru1', 'define', other, { xml: domainXml('cut-undef', other) })).outcome.status, 'completed');
      assert.equal(await second.store.nameOwner('cut-undef'), other);
    } finally {
      await second.agent.stop();
    }
  });
});
