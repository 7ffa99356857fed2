/**
 * Property-style tests over seeded simulations (simulate.ts, mulberry32; no
 * dependency): projections built incrementally, with redeliveries and resumes
 * from JSON, equal the projection built from scratch; and on a legal stream
 * they agree with the aggregates' own folds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { foldDomain, toRow } from './domain.ts';
import { foldHost } from './host.ts';
import { occupiedHosts } from './lifecycle.ts';
import { projectDomains, type DomainsProjection } from './project-domains.ts';
import { projectHosts, type HostsProjection } from './project-hosts.ts';
import { prng, simulateCluster, type SimulatedItem } from './simulate.ts';
import { decodeEvent, encodeEvent } from './validate.ts';
import type { AnyEvent } from './types.ts';

const COUNT = 10_000;

/** Every entry through the wire and back, as a projector would receive it. */
function received(items: readonly SimulatedItem[]) {
  return items.map((it) => ({ seq: it.seq, event: it.wire !== undefined ? decodeEvent(it.wire, it.subject) : decodeEvent(encodeEvent(it.event), it.subject) }));
}

/**
 * Applies the stream one event at a time as an unreliable projector would:
 * now and then it re-applies a window it had already applied (a redelivery),
 * or stores its projection as JSON and restarts from it (a resume), or takes a
 * fetched batch at once.
 */
function incremental(items: ReturnType<typeof received>, seed: number) {
  const rnd = prng(seed);
  let d: DomainsProjection = projectDomains.empty();
  let h: HostsProjection = projectHosts.empty();
  let redelivered = 0;
  let resumed = 0;
  let batches = 0;
  for (let i = 0; i < items.length; ) {
    const r = rnd();
    if (r < 0.02 && i > 0) {
      const from = Math.max(0, i - 1 - Math.floor(rnd() * 50));
      const before = [d, h] as const;
      for (const it of items.slice(from, i)) {
        d = projectDomains.apply(d, it.event, it.seq);
        h = projectHosts.apply(h, it.event, it.seq);
      }
      assert.equal(d, before[0], 'a redelivery changes nothing');
      assert.equal(h, before[1], 'a redelivery changes nothing');
      redelivered += i - from;
    } else if (r < 0.03) {
      d = projectDomains.fromJSON(JSON.parse(JSON.stringify(projectDomains.toJSON(d))));
      h = projectHosts.fromJSON(JSON.parse(JSON.stringify(projectHosts.toJSON(h))));
      resumed++;
    } else if (r < 0.05) {
      const batch = items.slice(i, i + 1 + Math.floor(rnd() * 200));
      d = projectDomains.applyAll(d, batch);
      h = projectHosts.applyAll(h, batch);
      i += batch.length;
      batches++;
    } else {
      const it = items[i++]!;
      d = projectDomains.apply(d, it.event, it.seq);
      h = projectHosts.apply(h, it.event, it.seq);
    }
  }
  return { d, h, redelivered, resumed, batches };
}

describe('projections over 10,000 mixed events (seeded)', () => {
  const items = [...simulateCluster({ seed: 20240501, count: COUNT, illegal: 0.03, poison: 0.01 })];
  const stream = received(items);

  it('the simulated stream is mixed: every domain and host event type, illegal events and poison messages', () => {
    const types = new Set(stream.map((s) => (s.event instanceof VirtError ? 'poison' : s.event.type)));
    assert.equal(types.size, 19, [...types].join(' '));
    assert.ok(stream.filter((s) => s.event instanceof VirtError).length > 50);
  });

  it('incrementally, with redeliveries and resumes, equals the projection built from scratch', () => {
    const scratchD = projectDomains(stream);
    const scratchH = projectHosts(stream);
    const run = incremental(stream, 7);
    assert.ok(run.redelivered > 0 && run.resumed > 0 && run.batches > 0, JSON.stringify({ ...run, d: undefined, h: undefined }));
    assert.equal(run.d.seq, COUNT);
    assert.deepEqual(projectDomains.toJSON(run.d), projectDomains.toJSON(scratchD));
    assert.deepEqual(projectHosts.toJSON(run.h), projectHosts.toJSON(scratchH));
  });

  it('resuming from any point gives the same result as the pass it interrupted', () => {
    const scratch = JSON.stringify(projectDomains.toJSON(projectDomains(stream)));
    const rnd = prng(99);
    for (let k = 0; k < 5; k++) {
      const cut = Math.floor(rnd() * COUNT);
      const stored = JSON.parse(JSON.stringify(projectDomains.toJSON(projectDomains(stream.slice(0, cut)))));
      // The projector does not know exactly where it stopped: it re-reads from a little before.
      const tail = stream.slice(Math.max(0, cut - 100));
      assert.equal(JSON.stringify(projectDomains.toJSON(projectDomains.applyAll(projectDomains.fromJSON(stored), tail))), scratch, `cut at ${cut}`);
    }
  });
});

describe('projections over a legal stream agree with the aggregates (seeded)', () => {
  const items = [...simulateCluster({ seed: 7, count: COUNT })];
  const events = items.map((i) => i.event as AnyEvent);
  const stream = received(items);
  const d = projectDomains(stream);
  const h = projectHosts(stream);

  it('every row is the fold of its domain\'s events', () => {
    const byDomain = new Map<string, AnyEvent[]>();
    for (const e of events) if (e.type.startsWith('Domain')) {
      const u = (e.data as { uuid: string }).uuid;
      (byDomain.get(u) ?? byDomain.set(u, []).get(u)!).push(e);
    }
    let defined = 0;
    for (const [uuid, list] of byDomain) {
      const s = foldDomain(list)!;
      if (!s.defined) {
        assert.equal(d.domains.get(uuid), undefined);
        continue;
      }
      defined++;
      assert.deepEqual(d.domains.get(uuid), toRow(s), uuid);
      assert.equal(d.byName.get(s.name), uuid, 'names are unique among defined domains');
    }
    assert.equal(d.domains.size, defined);
  });

  it('each host lists the domains its own fold lists, and uses what they claim', () => {
    for (const view of projectHosts.views(h)) {
      const s = foldHost(events, view.hostId)!;
      assert.deepEqual([view.domains, view.transit], [s.domains, s.transit], view.hostId);
      let memoryKiB = 0;
      let vcpus = 0;
      for (const row of d.domains.values()) {
        if (!occupiedHosts(row).includes(view.hostId) || !row.resources) continue;
        memoryKiB += row.resources.memoryKiB;
        vcpus += row.resources.vcpus;
      }
      assert.deepEqual(view.used, { memoryKiB, vcpus }, view.hostId);
      assert.deepEqual(view.free, { memoryKiB: view.resources.memoryKiB - memoryKiB, cpus: view.resources.cpus - vcpus });
    }
  });

  it('the domains on a host are the rows placed there', () => {
    for (const view of projectHosts.views(h)) {
      assert.deepEqual(view.domains, projectDomains.onHost(d, view.hostId).map((r) => r.uuid), view.hostId);
    }
  });

  it('the simulation is deterministic', () => {
    const again = [...simulateCluster({ seed: 7, count: 500 })];
    assert.deepEqual(again, items.slice(0, 500));
  });
});
