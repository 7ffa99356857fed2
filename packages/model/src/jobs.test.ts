import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { produce } from 'immer';
import { bookwormQemuCaps } from './caps/index.ts';
import { defaultRegistry, testDriver } from './drivers/index.ts';
import { VirtError } from './errors.ts';
import { isParserOp, validateJob } from './jobs.ts';
import { runPolicyStages } from './pipeline.ts';
import { defineDomain } from './postparse/runner.ts';

const UUID = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';
const fails = (payload: unknown, path: string, re: RegExp) => {
  const r = validateJob(payload);
  assert.ok(r instanceof VirtError, `expected an error for ${JSON.stringify(payload)}`);
  assert.equal(r.code, 'INVALID_ARG');
  assert.equal(r.path, path);
  assert.match(r.message, re);
};

describe('validateJob', () => {
  it('accepts each operation with its fields', () => {
    for (const p of [
      { op: 'define', xml: '<domain/>' },
      { op: 'redefine', xml: '<domain/>', key: 'k-1' },
      { op: 'undefine', uuid: UUID },
      { op: 'attach-device', uuid: UUID, xml: '<disk/>' },
      { op: 'start', uuid: UUID },
      { op: 'migrate', uuid: UUID, toHost: 'h2', live: true },
      { op: 'evacuate', hostId: 'h1' },
    ]) assert.deepEqual(validateJob(p), p);
  });

  it('rejects a missing or mistyped field with its path', () => {
    fails({ xml: '<domain/>' }, '/op', /'op' is required/);
    fails({ op: 'frobnicate' }, '/op', /unknown operation 'frobnicate'/);
    fails({ op: 'define' }, '/xml', /'xml' is required/);
    fails({ op: 'define', xml: 42 }, '/xml', /must be a string/);
    fails({ op: 'attach-device', xml: '<disk/>' }, '/uuid', /'uuid' is required/);
    fails({ op: 'start', uuid: 'nope' }, '/uuid', /not a UUID/);
    fails({ op: 'evacuate' }, '/hostId', /required/);
    fails({ op: 'define', xml: '<domain/>', key: 'has space' }, '/key', /idempotency key/);
    fails('define', '/', /JSON object/);
  });

  it('rejects a job over the size limit', () => {
    fails({ op: 'define', xml: 'x'.repeat(2 * 1024 * 1024) }, '/', /over the limit/);
  });

  it('tells the parser’s operations from the scheduler’s', () => {
    assert.equal(isParserOp('define'), true);
    assert.equal(isParserOp('migrate'), false);
  });
});

describe('runPolicyStages', () => {
  const XML = `<domain type='test'><name>p1</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>`;
  it('runs stages on an already post-parsed definition and records what they fill', () => {
    const base = defineDomain(XML, { caps: bookwormQemuCaps, driver: testDriver }).def;
    const r = runPolicyStages(base, [{
      name: 'stamp',
      domain: (def, ctx) => {
        ctx.filled('/domain/title', 'stamped', 'policy', 'stamp-title');
        return produce(def, (d) => void (d.title = 'stamped'));
      },
    }], { caps: bookwormQemuCaps, driver: testDriver });
    assert.equal(r.def.title, 'stamped');
    assert.deepEqual(r.provenance, [{ path: '/domain/title', value: 'stamped', driver: 'stamp', rule: 'stamp-title', why: 'policy' }]);
    assert.equal(defaultRegistry().stages.length, 0);
  });

  it('fails with the stage’s error', () => {
    const base = defineDomain(XML, { caps: bookwormQemuCaps, driver: testDriver }).def;
    assert.throws(() => runPolicyStages(base, [{ name: 'no', domain: () => { throw new VirtError('OPERATION_DENIED', 'no', '/domain'); } }], { caps: bookwormQemuCaps, driver: testDriver }), /no/);
  });
});

describe('validateJob: scheduler hints on start and migrate jobs', () => {
  const uuid = '11111111-1111-4111-8111-111111111111';
  it('accepts valid hints on a start job and passes them through', () => {
    const j = validateJob({ op: 'start', uuid, schedulerHints: { preferredHost: 'node-1', group: { name: 'web', policy: 'anti-affinity' } } });
    assert.ok(!(j instanceof VirtError));
    assert.deepEqual((j as { schedulerHints?: unknown }).schedulerHints, { preferredHost: 'node-1', group: { name: 'web', policy: 'anti-affinity' } });
  });
  it('refuses a bad hint with its path, and hints on an operation that places nothing', () => {
    const bad = validateJob({ op: 'start', uuid, schedulerHints: { group: { name: 'web', policy: 'sometimes' } } });
    assert.ok(bad instanceof VirtError);
    assert.equal(bad.path, '/schedulerHints/group/policy');
    const misplaced = validateJob({ op: 'destroy', uuid, schedulerHints: {} });
    assert.ok(misplaced instanceof VirtError);
    assert.equal(misplaced.path, '/schedulerHints');
  });
});
