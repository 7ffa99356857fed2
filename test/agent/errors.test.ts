/**
 * Bad commands fail with libvirt's codes and messages, as DomainCommandFailed
 * on the host's subject and a failed outcome, and nothing else changes; a
 * redelivered command has no second effect.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { VirtError, encodeCommand, makeCommand, subjects } from '@virtflow/model';
import { awaitCommandResult, hostRef } from '@virtflow/runtime';
import { TIMEOUT, command, domainState, domainXml, events, startAgent, startNats, waitFor, type Nats, type TestAgent } from './support.ts';

describe('host agent: bad commands and redelivery', { timeout: 120_000 }, () => {
  let nats: Nats;
  let a: TestAgent;
  let uuid: string;
  before(async () => {
    nats = await startNats();
    a = await startAgent(nats, 'node1');
    uuid = randomUUID();
    await command(a.nc, 'node1', 'define', uuid, { xml: domainXml('web', uuid) });
    await command(a.nc, 'node1', 'start', uuid, {});
  });
  after(async () => {
    await a?.agent.stop();
    await nats?.close();
  });

  const failures = async () => (await a.store.events(hostRef('node1'))).map((e) => e.event).filter((e) => e.type === 'DomainCommandFailed');

  it('an unknown domain: NO_DOMAIN', async () => {
    const ghost = randomUUID();
    const r = await command(a.nc, 'node1', 'start', ghost, {});
    assert.equal(r.outcome.status, 'failed');
    assert.equal(r.outcome.error?.code, 'NO_DOMAIN');
    assert.equal(r.outcome.error?.message, `Domain not found: no domain with matching uuid '${ghost}'`);
    const f = (await failures()).find((e) => e.causationId === r.id);
    assert.ok(f && f.type === 'DomainCommandFailed');
    assert.equal(f.correlationId, r.correlationId);
    assert.deepEqual(f.data, { hostId: 'node1', command: 'start', uuid: ghost, error: r.outcome.error });
    assert.deepEqual(await events(a.store, ghost), [], 'no domain came into being');
  });

  it('resume of a running domain: OPERATION_INVALID, domain is not paused; nothing else changes', async () => {
    const before = await domainState(a.store, uuid);
    const r = await command(a.nc, 'node1', 'resume', uuid, {});
    assert.equal(r.outcome.status, 'failed');
    assert.equal(r.outcome.error?.code, 'OPERATION_INVALID');
    assert.equal(r.outcome.error?.message, 'Requested operation is not valid: domain is not paused');
    const after = await domainState(a.store, uuid);
    assert.equal(after?.version, before?.version);
    assert.equal(after?.state, 'running');
    assert.deepEqual((await a.hv.list()).map((d) => d.state), ['running']);
  });

  it('start of a running domain and suspend of a shut-off one: libvirt\'s words', async () => {
    const r = await command(a.nc, 'node1', 'start', uuid, {});
    assert.equal(r.outcome.error?.message, 'Requested operation is not valid: domain is already running');
    const off = randomUUID();
    await command(a.nc, 'node1', 'define', off, { xml: domainXml('off', off) });
    for (const type of ['suspend', 'destroy', 'shutdown', 'reset'] as const) {
      const x = await command(a.nc, 'node1', type, off, {});
      assert.equal(x.outcome.error?.message, 'Requested operation is not valid: domain is not running', type);
    }
    assert.equal((await domainState(a.store, off))?.version, 1, 'only its DomainDefined');
  });

  it('a hypervisor failure fails the command and records nothing of it', async () => {
    const other = randomUUID();
    await command(a.nc, 'node1', 'define', other, { xml: domainXml('flaky', other) });
    a.hv.failNext('start', new VirtError('OPERATION_INVALID', "unable to start: the test hypervisor was told to fail"));
    const r = await command(a.nc, 'node1', 'start', other, {});
    assert.equal(r.outcome.status, 'failed');
    assert.match(r.outcome.error?.message ?? '', /told to fail/);
    const s = await domainState(a.store, other);
    assert.equal(s?.state, 'shutoff');
    assert.equal(s?.hostId, undefined, 'not even placed');
    assert.equal((await command(a.nc, 'node1', 'start', other, {})).outcome.status, 'completed', 'the next start works');
  });

  it('a malformed command is refused with the field at fault', async () => {
    const js = jetstream(a.nc);
    const id = randomUUID();
    await js.publish(subjects.hostCommands('node1'), JSON.stringify({ id, type: 'explode', hostId: 'node1', uuid, correlationId: 'c1', at: new Date().toISOString(), args: {}, v: 1 }));
    const o = await awaitCommandResult(a.nc, { hostId: 'node1', id }, { timeoutMs: TIMEOUT });
    assert.equal(o.status, 'failed');
    assert.equal(o.error?.code, 'INVALID_ARG');
    assert.equal(o.error?.path, '/type');
  });

  it('a redelivered command has no second effect', async () => {
    const d = randomUUID();
    await command(a.nc, 'node1', 'define', d, { xml: domainXml('once', d) });
    const cmd = makeCommand('start', { hostId: 'node1', uuid: d }, {}, { correlationId: 'job-once', now: () => new Date(), newId: randomUUID });
    const js = jetstream(a.nc);
    // Twice on the stream (no msg id: past the stream's de-duplication), as after a lost ack.
    await js.publish(subjects.hostCommands('node1'), encodeCommand(cmd));
    const first = await awaitCommandResult(a.nc, cmd, { timeoutMs: TIMEOUT });
    const duplicates = async () => (await a.agent.metrics.commands.get()).values.find((v) => v.labels.outcome === 'duplicate')?.value ?? 0;
    const before = await duplicates();
    await js.publish(subjects.hostCommands('node1'), encodeCommand(cmd));
    await waitFor('the second copy to be taken', async () => ((await duplicates()) > before ? true : undefined));
    assert.equal(first.status, 'completed');
    assert.equal(a.hv.boots(d), 1);
    assert.deepEqual((await events(a.store, d)).map((e) => e.type), ['DomainDefined', 'DomainPlaced', 'DomainStarted']);
    assert.equal((await awaitCommandResult(a.nc, cmd, { timeoutMs: TIMEOUT })).at, first.at, 'the outcome is the first one');
  });
});
