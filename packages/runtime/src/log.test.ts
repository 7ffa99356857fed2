import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { VirtError } from '@virtflow/model';
import { createLogger, forJob } from './log.ts';

function capture(): { lines: () => Array<Record<string, unknown>>; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('writes one JSON line per entry with the level as a word, an ISO time and the service', () => {
  const out = capture();
  const log = createLogger({ service: 'virtflow-test', base: { hostId: 'node1' }, destination: out.stream });
  log.info({ stages: ['intake'] }, 'ready');
  const [line] = out.lines();
  assert.equal(line!.level, 'info');
  assert.equal(line!.msg, 'ready');
  assert.equal(line!.service, 'virtflow-test');
  assert.equal(line!.hostId, 'node1');
  assert.deepEqual(line!.stages, ['intake']);
  assert.match(String(line!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal('pid' in line!, false);
});

test('forJob puts the correlation id on every line; errors keep their code and path', () => {
  const out = capture();
  const log = forJob(createLogger({ service: 's', destination: out.stream }), 'job-42', { uuid: 'u1' });
  log.warn({ err: new VirtError('NO_DOMAIN', "no domain with matching name 'x'", '/domain/x') }, 'failed');
  const [line] = out.lines();
  assert.equal(line!.correlationId, 'job-42');
  assert.equal(line!.uuid, 'u1');
  assert.equal(line!.level, 'warn');
  const err = line!.err as Record<string, unknown>;
  assert.equal(err.code, 'NO_DOMAIN');
  assert.equal(err.path, '/domain/x');
  assert.match(String(err.message), /no domain with matching name 'x'/);
});

test('entries under the level are dropped', () => {
  const out = capture();
  const log = createLogger({ service: 's', level: 'warn', destination: out.stream });
  log.info('quiet');
  log.debug('quieter');
  log.error('loud');
  assert.deepEqual(out.lines().map((l) => l.msg), ['loud']);
});
