/**
 * Folding the whole stream into the projections, for rebuilds: the stream is
 * pushed (bulk.ts), decoded with the model's poison check and folded with its
 * pure projections — on this thread, or split over worker threads.
 *
 * Split by aggregate: every domain's events go to one worker (by a hash of
 * its uuid) and all host events to the first, so each worker folds complete
 * aggregates. The parts are joined through the projections' JSON form, whose
 * truths are disjoint between workers — domain rows and lifecycles by uuid,
 * host facts by host — and from which fromJSON derives the rest (indexes,
 * usage, free resources). A domain's row depends only on its own events, a
 * host's facts only on its own: the join is the sequential fold.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  VirtError, projectDomains, projectHosts,
  type DomainsProjection, type DomainsProjectionJSON, type HostsProjection, type HostsProjectionJSON, type Sequenced,
} from '@virtflow/model';
import { bulkReplay } from './bulk.ts';
import type { PoisonHandler } from './codec.ts';
import { decodeItem, type WorkerPoison } from './fold-item.ts';

export interface FoldOptions {
  readonly stream: string;
  readonly filter: string;
  readonly untilSeq: number;
  /** 0: fold on this thread; n: n worker threads (default: one per core, for 50,000 events or more). */
  readonly workers?: number;
  readonly onPoison?: PoisonHandler;
}

export interface Folded {
  readonly domains: DomainsProjection;
  readonly hosts: HostsProjection;
  readonly events: number;
  readonly poison: number;
}

const CHUNK = 20_000;

export async function foldStream(nc: NatsConnection, jsm: JetStreamManager, o: FoldOptions): Promise<Folded> {
  // Threads pay for themselves on big streams only: starting one costs a few hundred ms.
  const workers = o.workers ?? (o.untilSeq < 50_000 ? 0 : Math.max(1, availableParallelism()));
  return workers === 0 ? foldHere(nc, jsm, o) : foldInWorkers(nc, jsm, o, workers);
}

async function foldHere(nc: NatsConnection, jsm: JetStreamManager, o: FoldOptions): Promise<Folded> {
  let domains = projectDomains.empty();
  let hosts = projectHosts.empty();
  let chunk: Sequenced[] = [];
  let poison = 0;
  let events = 0;
  const fold = () => {
    domains = projectDomains.applyAll(domains, chunk);
    hosts = projectHosts.applyAll(hosts, chunk);
    chunk = [];
  };
  await bulkReplay(nc, jsm, { stream: o.stream, filter: o.filter, fromSeq: 1, untilSeq: o.untilSeq }, (seq, subject, data) => {
    events++;
    const item = decodeItem(seq, subject, data);
    if (item.event instanceof VirtError) {
      poison++;
      o.onPoison?.({ seq, subject, error: item.event, where: 'projector' });
    }
    chunk.push(item);
    if (chunk.length >= CHUNK) fold();
  });
  fold();
  return { domains, hosts, events, poison };
}

/** Messages for one worker, copied straight into one transferable buffer. */
class Outbox {
  static readonly CAPACITY = 4 << 20;
  seqs: number[] = [];
  subjects: string[] = [];
  ends: number[] = [];
  buf = Outbox.fresh();
  bytes = 0;

  /** Unzeroed and not from Buffer's shared pool, so it can be transferred whole. */
  static fresh(): Uint8Array {
    return Buffer.allocUnsafeSlow(Outbox.CAPACITY);
  }

  fits(n: number): boolean {
    return this.bytes + n <= this.buf.length;
  }

  add(seq: number, subject: string, data: Uint8Array): void {
    if (data.length > this.buf.length) {
      const bigger = new Uint8Array(data.length * 2);
      bigger.set(this.buf.subarray(0, this.bytes));
      this.buf = bigger;
    }
    this.seqs.push(seq);
    this.subjects.push(subject);
    // The connection reuses its read buffer: copy now.
    this.buf.set(data, this.bytes);
    this.bytes += data.length;
    this.ends.push(this.bytes);
  }

  take(): { seqs: number[]; subjects: string[]; ends: number[]; buf: ArrayBuffer } {
    const out = { seqs: this.seqs, subjects: this.subjects, ends: this.ends, buf: this.buf.buffer as ArrayBuffer };
    this.seqs = [];
    this.subjects = [];
    this.ends = [];
    this.buf = Outbox.fresh();
    this.bytes = 0;
    return out;
  }
}

interface Finished {
  readonly domains: DomainsProjectionJSON;
  readonly hosts: HostsProjectionJSON;
  readonly poison: readonly WorkerPoison[];
}

function startWorker(): Worker {
  const boot = new URL('./fold-worker-boot.mjs', import.meta.url);
  const entry = new URL(import.meta.url.endsWith('.ts') ? './fold-worker.ts' : './fold-worker.js', import.meta.url).href;
  return new Worker(boot, { workerData: { entry } });
}

/** A worker's part of the aggregates: a hash of the aggregate's token, host events all to worker 0. */
function partOf(subject: string, n: number): number {
  // virt.evt.<kind>.<id>.<type>
  const a = subject.indexOf('.', 9);
  const b = subject.indexOf('.', a + 1);
  if (a < 0 || b < 0 || subject.charCodeAt(9) !== 100 /* d(omain) */) return 0;
  let h = 0;
  for (let i = a + 1; i < b; i++) h = (h * 31 + subject.charCodeAt(i)) | 0;
  return (h >>> 0) % n;
}

async function foldInWorkers(nc: NatsConnection, jsm: JetStreamManager, o: FoldOptions, n: number): Promise<Folded> {
  const pool = Array.from({ length: n }, startWorker);
  const failed = new Promise<never>((_, reject) => pool.forEach((w) => w.once('error', reject)));
  failed.catch(() => undefined);
  const outboxes = pool.map(() => new Outbox());
  const send = (i: number) => {
    const batch = outboxes[i]!.take();
    pool[i]!.postMessage({ kind: 'batch', ...batch }, [batch.buf]);
  };
  let events = 0;
  let lastSeq = 0;
  try {
    await Promise.race([failed, bulkReplay(nc, jsm, { stream: o.stream, filter: o.filter, fromSeq: 1, untilSeq: o.untilSeq }, (seq, subject, data) => {
      events++;
      lastSeq = seq;
      // Name claims share the stream but fold into nothing.
      if (subject.startsWith('virt.evt.name.')) return;
      const i = partOf(subject, n);
      const box = outboxes[i]!;
      if (!box.fits(data.length) && box.seqs.length) send(i);
      box.add(seq, subject, data);
      if (box.seqs.length >= 4_096) send(i);
    })]);
    const parts = await Promise.race([failed, Promise.all(pool.map((w, i) => {
      if (outboxes[i]!.seqs.length) send(i);
      const done = new Promise<Finished>((resolve) => w.once('message', resolve));
      w.postMessage({ kind: 'finish' });
      return done;
    }))]);
    const poison = parts.flatMap((p) => p.poison).sort((a, b) => a.seq - b.seq);
    for (const p of poison) o.onPoison?.({ seq: p.seq, subject: p.subject, error: VirtError.fromJSON(p.error), where: 'projector' });
    return { ...join(parts, lastSeq), events, poison: poison.length };
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/** The workers' projections as one: disjoint truths, joined, and everything else derived by fromJSON. */
function join(parts: readonly Finished[], seq: number): { domains: DomainsProjection; hosts: HostsProjection } {
  // Null-prototype records: a host id may be any subject token, '__proto__' included.
  const rows: Record<string, DomainsProjectionJSON['domains'][string]> = Object.create(null);
  const views: Record<string, HostsProjectionJSON['hosts'][string]> = Object.create(null);
  const lifecycles: Record<string, HostsProjectionJSON['lifecycles'][string]> = Object.create(null);
  parts.forEach((p, i) => {
    Object.assign(rows, p.domains.domains);
    Object.assign(lifecycles, p.hosts.lifecycles);
    for (const [h, v] of Object.entries(p.hosts.hosts)) {
      // Worker 0 folded every host event; elsewhere a host is only a name a domain event mentioned.
      if (i === 0 || !Object.hasOwn(views, h)) views[h] = v;
    }
  });
  return {
    domains: projectDomains.fromJSON({ seq, domains: rows, byName: {}, byHost: {}, byState: {} }),
    hosts: projectHosts.fromJSON({ seq, hosts: views, lifecycles }),
  };
}
