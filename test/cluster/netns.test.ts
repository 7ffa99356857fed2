/**
 * test/support/netns.ts itself: namespaces reach a server on the bridge
 * address, a cut link stops them (and only them), a restored one reaches it
 * again, and nothing is left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { cleanStale, createNetnsLab, netnsUnavailable, type NetnsLab } from '../support/netns.ts';

const why = await netnsUnavailable();

/** What namespace i gets trying a TCP connection to host:port for 2 s ('ok', 'timeout', 'error <code>'): a child node inside the namespace tries. */
function reaches(lab: NetnsLab, i: number, host: string, port: number): Promise<string> {
  const script = `const s=require('net').connect(${port},'${host}');s.setTimeout(2000);s.on('connect',()=>{process.stdout.write('ok');s.destroy()});s.on('timeout',()=>{process.stdout.write('timeout');s.destroy()});s.on('error',(e)=>process.stdout.write('error '+e.code));`;
  return new Promise((resolve) => {
    const p = lab.spawn(i, process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.on('exit', () => resolve(out));
  });
}

test('namespaces reach the bridge address, a cut link isolates one namespace until restored, teardown leaves nothing', { skip: why, timeout: 120_000 }, async (t) => {
  await cleanStale();
  const lab = await createNetnsLab(2);
  t.after(() => lab.destroy());
  const srv = createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, lab.hostAddress, r));
  t.after(() => srv.close());
  const port = (srv.address() as { port: number }).port;
  assert.equal(await reaches(lab, 0, lab.hostAddress, port), 'ok');
  assert.equal(await reaches(lab, 1, lab.hostAddress, port), 'ok');
  await lab.cut(1);
  // A pulled cable: no answer at all, not a refusal.
  assert.equal(await reaches(lab, 1, lab.hostAddress, port), 'timeout');
  assert.equal(await reaches(lab, 0, lab.hostAddress, port), 'ok', 'the other namespace is unaffected');
  await lab.restore(1);
  assert.equal(await reaches(lab, 1, lab.hostAddress, port), 'ok');
  // The host's loopback is not the namespaces' loopback.
  assert.equal(await reaches(lab, 0, '127.0.0.1', port), 'error ECONNREFUSED');
  await lab.destroy();
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const n of lab.namespaces) assert.ok(!left.includes(n.name), `${n.name} removed`);
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  for (const n of lab.namespaces) assert.ok(!links.includes(n.hostVeth), `${n.hostVeth} removed`);
});
