/**
 * `npm run bench -- events`: the event store on a private nats-server -js
 * (file storage), three numbers measured in one run:
 *
 * 1. the raw JetStream async publish rate: the same encoded events, many
 *    publishes in flight, no headers, to a stream configured like VIRT_EVENTS;
 * 2. the append rate with the optimistic-concurrency checks: EventStore.append
 *    of batches of consecutive events of many aggregates at once (the same
 *    number in flight), every event carrying its expected-sequence header(s)
 *    and, in msg-id mode, its `<kind>.<id>@<version>` msg id;
 * 3. the rebuild of the projections from 1,000,000 events: Projector.rebuild()
 *    on a second server holding exactly that many.
 *
 * Also shown: an append through a store that has not seen the aggregate (it
 * reads the head first) and a load, one at a time.
 *
 * Targets: append ≥ 50% of raw publish; 1,000,000-event rebuild ≤ 20 s.
 */
import { availableParallelism, loadavg } from 'node:os';
import { jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, EventStore, Projector, aggregateOfEvent, eventStreamConfig, type RebuildStats } from '@virtflow/runtime';
import { encodeEvent, type AnyEvent } from '@virtflow/model';
import { startServers, type Servers } from '../test/harness/index.ts';
import { World, byAggregate } from '../test/support/events.ts';
import { table, writeResult } from './common.ts';

const APPEND_EVENTS = Number(process.env.VIRTFLOW_BENCH_APPEND_EVENTS ?? 60_000);
const REPLAY_EVENTS = Number(process.env.VIRTFLOW_BENCH_REPLAY_EVENTS ?? 1_000_000);
const IN_FLIGHT = 512;
const BATCH = 10;

interface Rate {
  readonly events: number;
  readonly seconds: number;
  readonly perS: number;
}

const rate = (events: number, t0: number): Rate => {
  const seconds = (performance.now() - t0) / 1000;
  return { events, seconds, perS: events / seconds };
};

/** js.publish of every payload, IN_FLIGHT at a time, to a stream like VIRT_EVENTS without the checks. */
async function rawPublish(js: JetStreamClient, events: readonly AnyEvent[]): Promise<Rate> {
  const payloads = events.map((e) => ({ subject: `raw.${e.subject}`, data: encodeEvent(e) }));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < payloads.length) {
      const p = payloads[next++]!;
      await js.publish(p.subject, p.data);
    }
  }));
  return rate(payloads.length, t0);
}

/** EventStore.append of up to BATCH consecutive events of an aggregate, IN_FLIGHT aggregates at a time. */
async function appendAll(store: EventStore, events: readonly AnyEvent[]): Promise<Rate> {
  const work: AnyEvent[][] = [];
  // Batches in log order per aggregate; aggregates interleaved so the lanes share them out.
  const lists = [...byAggregate(events).values()];
  for (const list of lists) for (let i = 0; i < list.length; i += BATCH) work.push(list.slice(i, i + BATCH));
  const queues = new Map<string, AnyEvent[][]>();
  for (const w of work) {
    const k = w[0]!.subject.split('.').slice(0, 4).join('.');
    queues.set(k, [...(queues.get(k) ?? []), w]);
  }
  const agg = [...queues.values()];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, agg.length) }, async () => {
    while (next < agg.length) {
      for (const batch of agg[next++]!) await store.append(aggregateOfEvent(batch[0]!), batch, batch[0]!.version - 1);
    }
  }));
  return rate(events.length, t0);
}

/** One append to each of `n` existing domains through a store that has never seen them: each reads the head first. */
async function coldAppends(nc: NatsConnection, world: World, n: number): Promise<Rate> {
  const store = await EventStore.open(nc, { onPoison: () => undefined });
  const rows = [...world.domains.values()].filter((r) => r !== undefined).slice(0, n);
  const t0 = performance.now();
  for (const row of rows) {
    const events = store.makeEvents([{ type: 'DomainDeviceAttached', data: { uuid: row.uuid, path: '/domain/devices/disk[3]', xml: '<disk/>', definition: row.xml || '<domain/>' } }], row.version);
    await store.append({ kind: 'domain', id: row.uuid }, events, row.version);
  }
  return rate(rows.length, t0);
}

/** Loads of `n` existing domains (snapshot + tail) through a fresh store. */
async function loads(nc: NatsConnection, world: World, n: number): Promise<Rate> {
  const store = await EventStore.open(nc, { onPoison: () => undefined });
  const uuids = [...world.domains.keys()].slice(0, n);
  const t0 = performance.now();
  for (const u of uuids) await store.load({ kind: 'domain', id: u });
  return rate(uuids.length, t0);
}

async function measureAppend(servers: Servers) {
  const nc = await connectNats(servers.natsUrl);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ ...eventStreamConfig({ stream: 'RAW_EVENTS' }), subjects: ['raw.>'] });
  const store = await EventStore.open(nc, { onPoison: () => undefined });
  const worlds = [1, 2].map((seed) => new World({ seed, hosts: 32, domains: 4_000, xmlBytes: 1_500, hostPrefix: `r${seed}host` }));
  const logs = worlds.map((w) => w.take(APPEND_EVENTS / 2));
  const raw: Rate[] = [];
  const append: Rate[] = [];
  // Two rounds, alternating, so drift in the machine's load hits both sides alike.
  for (const log of logs) {
    raw.push(await rawPublish(store.js, log));
    append.push(await appendAll(store, log));
  }
  const loaded = await loads(nc, worlds[1]!, 300);
  const cold = await coldAppends(nc, worlds[0]!, 300);
  const streamSize = (await jsm.streams.info(store.stream)).state.messages;
  const server = nc.info?.version ?? '?';
  await nc.close();
  const sum = (rs: Rate[]): Rate => {
    const events = rs.reduce((s, r) => s + r.events, 0);
    const seconds = rs.reduce((s, r) => s + r.seconds, 0);
    return { events, seconds, perS: events / seconds };
  };
  return { mode: store.mode, read: store.readStrategy, server, raw: sum(raw), append: sum(append), rounds: { raw, append }, cold, loaded, streamSize };
}

/** A log of `total` events: a simulated cluster's, repeated with renamed aggregates (each copy a legal log of its own). */
async function populate(nc: NatsConnection, total: number): Promise<{ seconds: number; bytes: number }> {
  const base = new World({ seed: 42, hosts: 16, domains: 2_000, xmlBytes: 1_500 }).take(Math.min(50_000, total));
  const texts = base.map((e) => ({ subject: e.subject, json: new TextDecoder().decode(encodeEvent(e)) }));
  const uuidRe = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
  const hostRe = /host(\d+)/g;
  const enc = new TextEncoder();
  const jsm = await jetstreamManager(nc);
  const t0 = performance.now();
  let bytes = 0;
  let sent = 0;
  for (let copy = 0; sent < total; copy++) {
    const tag = copy.toString(16).padStart(4, '0');
    const rename = (s: string) => (copy === 0 ? s : s.replace(uuidRe, (u) => `${tag}${u.slice(4)}`).replace(hostRe, (_, n: string) => `host${n}c${copy}`));
    for (const t of texts) {
      if (sent === total) break;
      const data = enc.encode(rename(t.json));
      bytes += data.length;
      // Core publishes into the stream, paced by flushes: the fastest way to fill it; counted below.
      nc.publish(rename(t.subject), data);
      if (++sent % 2_000 === 0) await nc.flush();
    }
  }
  await nc.flush();
  for (;;) {
    const n = (await jsm.streams.info('VIRT_EVENTS')).state.messages;
    if (n >= total) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

async function measureRebuild(servers: Servers): Promise<{ populate: { seconds: number; bytes: number }; rebuild: RebuildStats }> {
  const nc = await connectNats(servers.natsUrl);
  await EventStore.open(nc);
  const populated = await populate(nc, REPLAY_EVENTS);
  const projector = await Projector.open(nc, { onPoison: () => undefined, ...(process.env.VIRTFLOW_BENCH_WORKERS ? { rebuildWorkers: Number(process.env.VIRTFLOW_BENCH_WORKERS) } : {}) });
  const rebuild = await projector.rebuild();
  await nc.close();
  return { populate: populated, rebuild };
}

export async function eventsBench(): Promise<void> {
  console.log(`events: ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(2)}; ${APPEND_EVENTS} appended events, ${REPLAY_EVENTS} replayed`);
  let a: Awaited<ReturnType<typeof measureAppend>>;
  let r: Awaited<ReturnType<typeof measureRebuild>>;
  const s1 = await startServers({ redis: false });
  try {
    a = await measureAppend(s1);
  } finally {
    await s1.stop();
  }
  const s2 = await startServers({ redis: false });
  try {
    r = await measureRebuild(s2);
  } finally {
    await s2.stop();
  }
  const ratio = a.append.perS / a.raw.perS;
  table([
    ['measure', 'events', 'seconds', 'events/s', 'target'],
    ['raw JetStream publish (async, no checks)', String(a.raw.events), a.raw.seconds.toFixed(2), a.raw.perS.toFixed(0), ''],
    [`EventStore.append (${a.mode}, batches of ${BATCH}, ${IN_FLIGHT} in flight)`, String(a.append.events), a.append.seconds.toFixed(2), a.append.perS.toFixed(0), `≥ ${(a.raw.perS / 2).toFixed(0)}`],
    ['EventStore.append, cold (head read first)', String(a.cold.events), a.cold.seconds.toFixed(2), a.cold.perS.toFixed(0), ''],
    ['EventStore.load (aggregates/s, one at a time)', String(a.loaded.events), a.loaded.seconds.toFixed(2), a.loaded.perS.toFixed(0), ''],
    ['Projector.rebuild from zero', String(r.rebuild.events), r.rebuild.seconds.toFixed(2), (r.rebuild.events / r.rebuild.seconds).toFixed(0), '≤ 20 s'],
    ['  of which replay + decode + fold', '', r.rebuild.foldSeconds.toFixed(2), (r.rebuild.events / r.rebuild.foldSeconds).toFixed(0), ''],
  ]);
  console.log(`append / raw publish: ${(ratio * 100).toFixed(0)}% (target ≥ 50%); rebuild of ${r.rebuild.events} events: ${r.rebuild.seconds.toFixed(1)} s (target ≤ 20 s); nats-server ${a.server}`);
  console.log(`cold appends and loads read the aggregate ${a.read === 'subjects' ? "through its literal subjects (this server scans the stream for a wildcard)" : 'through a consumer on its wildcard'}; the stream held ${a.streamSize} messages`);
  writeResult('events', {
    server: a.server,
    cores: availableParallelism(),
    loadAverage: loadavg()[0],
    concurrencyMode: a.mode,
    readStrategy: a.read,
    inFlight: IN_FLIGHT,
    batch: BATCH,
    rawPublish: a.raw,
    append: a.append,
    rounds: a.rounds,
    coldAppend: a.cold,
    load: a.loaded,
    appendToRaw: ratio,
    rebuild: { ...r.rebuild, eventsPerS: r.rebuild.events / r.rebuild.seconds },
    populate: r.populate,
    targets: { appendToRaw: 0.5, rebuildSeconds: 20 },
    met: { appendToRaw: ratio >= 0.5, rebuildSeconds: r.rebuild.seconds <= 20 },
  });
}
