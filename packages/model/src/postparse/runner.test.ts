import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { produce } from 'immer';
import { bookwormQemuCaps } from '../caps/index.ts';
import { formatDomainXML } from '../domain/format.ts';
import { defaultRegistry, testDriver } from '../drivers/index.ts';
import { VirtError } from '../errors.ts';
import { DriverRegistry } from './registry.ts';
import { deviceRule, deviceRules, domainRule, domainRules } from './rules.ts';
import { defineDevice, defineDomain } from './runner.ts';
import type { DriverConf, PolicyStage } from './types.ts';

const caps = bookwormQemuCaps;
const random = (b: Uint8Array) => b.fill(1);
const XML = `<domain type='test'>
  <name>t1</name>
  <memory unit='GiB'>1</memory>
  <os><type>hvm</type></os>
  <devices>
    <interface type='user'/>
    <interface type='user'><target dev='testnet0'/></interface>
    <video/>
  </devices>
</domain>`;

describe('post-parse runner with the test driver', () => {
  it('fills the driver defaults and records why', () => {
    const r = defineDomain(XML, { caps, registry: defaultRegistry(), random });
    assert.equal(r.driver, 'test');
    const nets = r.def.devices?.interfaces ?? [];
    assert.deepEqual(nets.map((n) => n.target?.dev), ['testnet1', 'testnet0']);
    assert.equal(r.def.devices?.videos?.[0]?.model?.type, 'cirrus');
    const video = r.provenance.find((p) => p.path === '/domain/devices/video[1]/model/@type');
    assert.deepEqual(video, { path: '/domain/devices/video[1]/model/@type', value: 'cirrus', driver: 'test', rule: 'video-model-default', why: "the test driver's default video model: xen for Xen guests, vga on ppc64, else cirrus" });
    assert.ok(r.provenance.some((p) => p.path === '/domain/devices/interface[1]/target/@dev' && p.value === 'testnet1' && p.rule === 'iface-names'));
    assert.ok(Object.isFrozen(r.def));
  });

  it('gives a device parsed alone the same defaults as in a full parse', () => {
    const domain = defineDomain(XML, { caps, registry: defaultRegistry(), random }).def;
    const r = defineDevice('<video/>', domain, { caps, registry: defaultRegistry(), random });
    assert.equal(r.def.kind, 'video');
    assert.deepEqual((r.def.def as { model?: { type?: string } }).model?.type, 'cirrus');
    assert.equal(r.provenance[0]?.path, '/domain/devices/video[2]/model/@type');
  });

  it('picks the driver by domain type and refuses a type no driver takes', () => {
    assert.throws(() => defineDomain(XML.replace("type='test'", "type='vbox'"), { caps, registry: defaultRegistry() }), (e: VirtError) => e.code === 'NO_SUPPORT' && e.path === '/domain/@type');
  });
});

describe('extension: operator policy stages', () => {
  const maxMemory: PolicyStage = {
    name: 'max-64g',
    description: 'refuses domains over 64 GiB',
    domain(def) {
      if (Number(def.memory?.text ?? 0) > 64 * 1024 * 1024) throw new VirtError('CONFIG_UNSUPPORTED', 'memory over 64 GiB is not allowed on this cluster', '/domain/memory');
    },
  };
  const stamp: PolicyStage = {
    name: 'stamp-title',
    domain: (def, ctx) => {
      ctx.filled('/domain/title', 'managed by virtflow', 'the cluster stamps every domain', 'stamp');
      return produce(def, (d) => {
        d.title = 'managed by virtflow';
      });
    },
  };

  it('fails a parse with the stage’s own error', () => {
    const registry = defaultRegistry().addStage(maxMemory);
    assert.throws(
      () => defineDomain(XML.replace("unit='GiB'>1<", "unit='GiB'>65<"), { caps, registry }),
      (e: VirtError) => e.code === 'CONFIG_UNSUPPORTED' && e.message === 'unsupported configuration: memory over 64 GiB is not allowed on this cluster' && e.path === '/domain/memory',
    );
    assert.doesNotThrow(() => defineDomain(XML, { caps, registry }));
  });

  it('runs stages after the driver and records what they fill', () => {
    const registry = defaultRegistry().addStage(stamp);
    const r = defineDomain(XML, { caps, registry, random });
    assert.equal(r.def.title, 'managed by virtflow');
    assert.match(formatDomainXML(r.def), /<title>managed by virtflow<\/title>/);
    assert.deepEqual(r.provenance.at(-1), { path: '/domain/title', value: 'managed by virtflow', driver: 'stamp-title', rule: 'stamp', why: 'the cluster stamps every domain' });
    assert.ok(registry.removeStage('stamp-title'));
    assert.equal(defineDomain(XML, { caps, registry }).def.title, undefined);
  });
});

describe('callback order and failure', () => {
  const order: string[] = [];
  const tracing: DriverConf = {
    name: 'trace',
    domainTypes: ['test'],
    domainPostParseBasic: (def) => (order.push('basic'), def),
    createData: () => (order.push('data'), { n: 1 }),
    domainPostParse: domainRules([domainRule('d', 'domain step', () => void order.push('domain'))]),
    devicePostParse: deviceRules([deviceRule(['interface', 'video'], 'dev', 'device step', (_d, _def, _ctx, kind) => void order.push(`device:${kind}`))]),
    assignAddresses: (def) => (order.push('addresses'), def),
    domainValidate: () => void order.push('validate:domain'),
    deviceValidate: (dev) => void order.push(`validate:${dev.kind}`),
    define: (def) => (order.push('define'), def),
  };

  it("calls the driver's callbacks in libvirt's order", () => {
    order.length = 0;
    defineDomain(XML, { caps, driver: tracing });
    // The primary video goes through the device callback a second time, as in libvirt (§8.11).
    assert.deepEqual(order, ['basic', 'data', 'domain', 'device:interface', 'device:interface', 'device:video', 'device:video', 'addresses', 'validate:domain', 'validate:interface', 'validate:interface', 'validate:video', 'define']);
  });

  it('returns nothing half-enriched when a late step fails', () => {
    const failing: DriverConf = { ...testDriver, domainValidate: () => { throw new VirtError('CONFIG_UNSUPPORTED', 'no', '/domain'); } };
    assert.throws(() => defineDomain(XML, { caps, driver: failing }), /unsupported configuration: no/);
  });

  it('refuses what the driver does not support (feature checks)', () => {
    const bare: DriverConf = { name: 'bare', domainTypes: ['test'] };
    assert.throws(() => defineDomain(XML.replace('<video/>', "<memory model='dimm'><target><size unit='MiB'>128</size></target></memory>"), { caps, driver: bare }), (e: VirtError) => e.message === 'unsupported configuration: memory devices are not supported by this driver' && e.path === '/domain/devices/memory[1]');
    assert.throws(() => defineDomain(XML.replace('<video/>', "<interface type='user'><model type='fancy'/></interface>"), { caps, driver: bare }), /driver does not support net model 'fancy'/);
  });

  it('registries refuse two stages of one name', () => {
    const r = new DriverRegistry().addStage({ name: 'a' });
    assert.throws(() => r.addStage({ name: 'a' }), /already registered/);
  });
});
