import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { jsonLogger } from './log.ts';

test('the agent logger keeps its function shape and writes pino JSON lines with the correlation id', () => {
  const chunks: string[] = [];
  const stream = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) });
  const log = jsonLogger({ service: 'virtflow-agent', hostId: 'node1' }, 'info', stream);
  log('debug', 'not shown');
  log('info', 'command done', { correlationId: 'job-1', uuid: 'u' });
  const lines = chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 1);
  assert.deepEqual([lines[0]!.level, lines[0]!.msg, lines[0]!.service, lines[0]!.hostId, lines[0]!.correlationId], ['info', 'command done', 'virtflow-agent', 'node1', 'job-1']);
});
