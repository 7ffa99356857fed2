import { startServers } from './harness/index.ts';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
const s = await startServers({ redis: false });
const nc = await connect({ servers: s.natsUrl, noAsyncTraces: true });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: 'T', subjects: ['t.>'], allow_direct: true });
const js = jetstream(nc);
const body = new TextEncoder().encode('x'.repeat(300));
async function run(n: number, window: number, f: (i: number) => Promise<unknown>) {
  const t0 = performance.now(); let i = 0;
  await Promise.all(Array.from({ length: window }, async () => { while (i < n) { const k = i++; await f(k); } }));
  return Math.round(n / ((performance.now() - t0) / 1000));
}
let total = 0;
for (const size of [2000, 20000, 100000]) {
  await run(size - total, 512, (k) => js.publish(`t.a.${(total + k) % 5000}.T${k % 7}`, body)); total = size;
  const last = total;
  console.log(size, 'wild existing', await run(2000, 256, (k) => jsm.direct.getMessage('T', { last_by_subj: `t.a.${k % 5000}.*` })),
    'wild missing', await run(2000, 256, (k) => jsm.direct.getMessage('T', { last_by_subj: `t.z.${k}.*` })),
    'literal', await run(2000, 256, (k) => jsm.direct.getMessage('T', { last_by_subj: `t.a.${k % 5000}.T${k % 7}` })),
    'literal missing', await run(2000, 256, (k) => jsm.direct.getMessage('T', { last_by_subj: `t.z.${k % 5000}.T${k % 7}` })),
    'next near tail', await run(2000, 256, (k) => jsm.direct.getMessage('T', { seq: last - 1000, next_by_subj: `t.a.${k % 5000}.*` })));
}
await nc.close(); await s.stop();
