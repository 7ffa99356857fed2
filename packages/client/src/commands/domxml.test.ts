import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { domxml } from './domxml.ts';

const examples = resolve(import.meta.dirname, '../../../../examples');
const bin = resolve(import.meta.dirname, '../../bin/virtflow');

describe('virtflow domxml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtflow-domxml-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.xml');
  const bad = join(dir, 'bad.xml');
  writeFileSync(good, "<domain type='kvm'><name>g</name><memory>1024</memory><os><type>hvm</type></os></domain>");
  writeFileSync(bad, "<domain type='kvm'><name>b</name><os><type>hvm</type></os><devices><interface type='user'><mac address='01:00:00:00:00:01'/></interface></devices></domain>");

  it('writes NAME.xml or NAME.err per file with --out and counts them', () => {
    const out: string[] = [];
    const code = domxml([good, bad], { out: join(dir, 'out') }, { stdout: (s) => out.push(s), stderr: (s) => out.push(s) });
    assert.equal(code, 0);
    assert.equal(out.join(''), '1 defined, 1 rejected\n');
    assert.match(readFileSync(join(dir, 'out', 'good.xml'), 'utf8'), /^<domain type='kvm'>\n  <name>g<\/name>/);
    assert.equal(
      readFileSync(join(dir, 'out', 'bad.err'), 'utf8'),
      "XML error: expected unicast mac address, found multicast '01:00:00:00:00:01' (at /domain/devices/interface[1]/mac/@address)\n",
    );
  });

  it('prints the XML, or error: with the path and exit code 1, from the real command', () => {
    const ok = execFileSync(bin, ['domxml', join(examples, 'web-kvm.xml')], { encoding: 'utf8' });
    assert.match(ok, /<name>web-1<\/name>/);
    const r = spawnSync(bin, ['domxml', bad], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "error: XML error: expected unicast mac address, found multicast '01:00:00:00:00:01' (at /domain/devices/interface[1]/mac/@address)\n");
  });

  it('runs the driver post-parse and explains what it filled', () => {
    const f = join(dir, 'sim.xml');
    writeFileSync(f, "<domain type='test'><name>s</name><memory>1024</memory><os><type>hvm</type></os><devices><video/></devices></domain>");
    const r = spawnSync(bin, ['domxml', '--postparse', '--explain', f], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /<type arch='i686'>hvm<\/type>/);
    assert.match(r.stdout, /<model type='cirrus'/);
    assert.match(r.stdout, /^\/domain\/devices\/video\[1\]\/model\/@type = 'cirrus'  \[test\/video-model-default\] the test driver's default video model/m);
  });

  it('reports a missing file as an error', () => {
    const r = spawnSync(bin, ['domxml', join(dir, 'nope.xml')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error: failed to open file: /);
  });
});
