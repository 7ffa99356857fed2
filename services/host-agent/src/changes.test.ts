import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChangeBook, draftFor } from './changes.ts';
import { KeyedQueue } from './queue.ts';

const U = '4dea22b3-1d52-d8f3-2516-782e98a23fa0';

describe('change book', () => {
  it('absorbs the changes a command records itself, once, and nothing else', () => {
    const b = new ChangeBook();
    b.expect(U, ['started', 'stopped:DESTROYED']);
    assert.equal(b.absorb({ uuid: U, event: 'started', detail: 'BOOTED' }), true);
    assert.equal(b.absorb({ uuid: U, event: 'started', detail: 'BOOTED' }), false, 'once');
    assert.equal(b.absorb({ uuid: U, event: 'stopped', detail: 'CRASHED' }), false, 'a crash is not a destroy');
    assert.equal(b.absorb({ uuid: U, event: 'stopped', detail: 'DESTROYED' }), true);
  });

  it('keeps an open expectation for as long as the action runs, then for the TTL', async () => {
    const b = new ChangeBook(20);
    b.expect(U, ['stopped', 'started'], { open: true });
    await new Promise((r) => setTimeout(r, 40));
    // A destroy (3 s SIGTERM grace, then SIGKILL) or a TCG start can outlast the TTL: its change is still ours.
    assert.equal(b.absorb({ uuid: U, event: 'stopped', detail: 'DESTROYED' }), true);
    b.settle(U);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(b.absorb({ uuid: U, event: 'started', detail: 'BOOTED' }), false, 'expired TTL after settle');
  });

  it('gives a follow-up its command\'s ids until the change that ends it', () => {
    const b = new ChangeBook();
    b.noteCommand(U, 'c0', 'job-0');
    assert.deepEqual(b.idsFor({ uuid: U, event: 'stopped', detail: 'CRASHED' }), { correlationId: 'job-0', causationId: 'agent' });
    b.followUp(U, { commandId: 'c1', correlationId: 'job-1', endsWith: ['stopped'] });
    assert.deepEqual(b.idsFor({ uuid: U, event: 'shutdown', detail: 'GUEST' }), { correlationId: 'job-1', causationId: 'c1' });
    assert.deepEqual(b.idsFor({ uuid: U, event: 'stopped', detail: 'SHUTDOWN' }), { correlationId: 'job-1', causationId: 'c1' });
    assert.deepEqual(b.idsFor({ uuid: U, event: 'stopped', detail: 'SHUTDOWN' }), { correlationId: 'job-0', causationId: 'agent' }, 'ended');
  });

  it('turns changes into events, a reset into none', () => {
    assert.deepEqual(draftFor({ uuid: U, event: 'stopped', detail: 'CRASHED', message: 'gone' }, 'h1'), {
      type: 'DomainStopped', data: { uuid: U, hostId: 'h1', detail: 'CRASHED', error: { code: 'INTERNAL_ERROR', message: 'internal error: gone', detail: 'gone' } },
    });
    assert.deepEqual(draftFor({ uuid: U, event: 'resumed', detail: 'MIGRATED' }, 'h2'), { type: 'DomainResumed', data: { uuid: U, hostId: 'h2', detail: 'MIGRATED' } });
    assert.equal(draftFor({ uuid: U, event: 'reset' }, 'h1'), undefined);
  });
});

describe('keyed queue', () => {
  it('runs one key in order and different keys at once', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const step = (k: string, n: number, ms: number) => q.run(k, async () => {
      log.push(`${k}${n}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${k}${n}-`);
    });
    await Promise.all([step('a', 1, 30), step('a', 2, 1), step('b', 1, 1)]);
    assert.ok(log.indexOf('a1-') < log.indexOf('a2+'), 'a2 waits for a1');
    assert.ok(log.indexOf('b1-') < log.indexOf('a1-'), 'b does not wait for a');
    await assert.rejects(q.run('a', async () => { throw new Error('x'); }), /x/);
    assert.equal(await q.run('a', async () => 7), 7, 'a failure does not block the key');
    await q.idle();
    assert.equal(q.size, 0);
  });
});
