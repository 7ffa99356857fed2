import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indicator } from './progress.ts';

test('draws nothing off a terminal', () => {
  const out: string[] = [];
  const ind = indicator(false, (s) => out.push(s), 'start web');
  ind.step({ jobId: 'j', queue: 'virtflow.jobs', progress: 'parsed' });
  ind.tick();
  ind.done();
  assert.deepEqual(out, []);
});

test('on a terminal, redraws one line with the job’s step and clears it at the end', () => {
  const out: string[] = [];
  const ind = indicator(true, (s) => out.push(s), 'migrate web');
  ind.step({ jobId: 'j', queue: 'virtflow.schedule', progress: { step: 'copying memory', percent: 40 } });
  ind.done();
  assert.match(out[0]!, /^\r\x1b\[2Kmigrate web: queued \(\d+\.\ds\)$/);
  assert.match(out[1]!, /^\r\x1b\[2Kmigrate web: copying memory 40% \(\d+\.\ds\)$/);
  assert.equal(out.at(-1), '\r\x1b[2K');
});

test('a bar for many jobs counts them', () => {
  const out: string[] = [];
  const ind = indicator(true, (s) => out.push(s), 'define', 4);
  ind.tick('a.xml');
  ind.tick('b.xml');
  ind.done();
  assert.match(out[2]!, /define: \[#{10}\.{10}\] 2\/4 b\.xml/);
});
