import { startServers } from './harness/index.ts';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
const s = await startServers({ redis: false });
const nc = await connect({ servers: s.natsUrl });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: 'T', subjects: ['t.>'], allow_direct: true, duplicate_window: 3600e9 });
const js = jetstream(nc);
const body = new TextEncoder().encode(JSON.stringify({ id: 'x'.repeat(36), type: 'DomainStarted', subject: 't.domain.aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee.DomainStarted', version: 3, at: new Date().toISOString(), correlationId: 'c', causationId: 'c', data: { uuid: 'u', hostId: 'h1', detail: 'BOOTED' }, v: 1 }));
async function run(n: number, window: number, f: (i: number) => Promise<unknown>) {
  const t0 = performance.now(); let i = 0;
  await Promise.all(Array.from({ length: window }, async () => { while (i < n) { const k = i++; await f(k); } }));
  return n / ((performance.now() - t0) / 1000);
}
for (const w of [256, 1024, 4096]) console.log('raw publish window', w, Math.round(await run(50000, w, (k) => js.publish(`t.a.${k % 1000}.X`, body))));
console.log('msgid publish', Math.round(await run(50000, 1024, (k) => js.publish(`t.b.${k % 1000}.X`, body, { msgID: `b${k}` }))));
console.log('direct get wildcard', Math.round(await run(20000, 1024, (k) => jsm.direct.getMessage('T', { last_by_subj: `t.a.${k % 1000}.*` }))));
console.log('direct get literal', Math.round(await run(20000, 1024, (k) => jsm.direct.getMessage('T', { last_by_subj: `t.a.${k % 1000}.X` }))));
await nc.close(); await s.stop();
