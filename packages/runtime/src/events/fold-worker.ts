/** A fold worker: decodes and folds the messages of its aggregates, then hands back its projections' JSON. */
import { parentPort } from 'node:worker_threads';
import { VirtError, projectDomains, projectHosts, type Sequenced } from '@virtflow/model';
import { decodeItem, type WorkerPoison } from './fold-item.ts';

interface Batch {
  readonly kind: 'batch';
  readonly seqs: number[];
  readonly subjects: string[];
  readonly ends: number[];
  readonly buf: ArrayBuffer;
}

let domains = projectDomains.empty();
let hosts = projectHosts.empty();
const poison: WorkerPoison[] = [];
/** Folded in chunks: each applyAll copies the maps it touches once. */
let pending: Sequenced[] = [];

function fold(): void {
  domains = projectDomains.applyAll(domains, pending);
  hosts = projectHosts.applyAll(hosts, pending);
  pending = [];
}

parentPort!.on('message', (m: Batch | { kind: 'finish' }) => {
  if (m.kind === 'finish') {
    fold();
    parentPort!.postMessage({ domains: projectDomains.toJSON(domains), hosts: projectHosts.toJSON(hosts), poison });
    return;
  }
  const bytes = new Uint8Array(m.buf);
  let start = 0;
  for (let i = 0; i < m.seqs.length; i++) {
    const item = decodeItem(m.seqs[i]!, m.subjects[i]!, bytes.subarray(start, m.ends[i]!));
    if (item.event instanceof VirtError) poison.push({ seq: item.seq, subject: m.subjects[i]!, error: item.event.toJSON() });
    pending.push(item);
    start = m.ends[i]!;
  }
  if (pending.length >= 100_000) fold();
});
