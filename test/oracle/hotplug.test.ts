/**
 * A single device parsed against a domain (attach-device) gets exactly the
 * defaults it gets inside a full define: bus, model, MAC, address. Over
 * libvirt's hotplug device corpus, attached to a q35 guest of our own; the
 * full define is the guest's persistent XML with the device added.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type DeviceKind, attachDevice, defineDevice, bookwormQemuCaps, defaultRegistry, defineDomain, deviceKey, formatDeviceXML, formatDomainXML, getDevice, isVirtError } from '@virtflow/model';
import { libvirtData, libvirtDataMissing, repoRoot } from '../support/libvirt-data.ts';

const base = readFileSync(join(repoRoot, 'test/fixtures/hotplug-base.xml'), 'utf8');
const opts = () => {
  let n = 0;
  // The same random bytes on both sides, so generated MACs must agree too.
  return { caps: bookwormQemuCaps, registry: defaultRegistry(), random: (b: Uint8Array) => b.map(() => (n++ * 37) & 0xff) };
};

describe('attach-device gets the defaults of a full define', { skip: libvirtDataMissing() }, () => {
  it('agrees device by device over qemuhotplugtestdevices', () => {
    const dir = join(libvirtData, 'tests', 'qemuhotplugtestdevices');
    const domain = defineDomain(base, opts()).def;
    const results: string[] = [];
    let same = 0;
    let both = 0;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.xml')).sort()) {
      const dev = readFileSync(join(dir, f), 'utf8').replace(/<\?xml[^>]*>/, '');
      let alone: string | undefined;
      let aloneErr: string | undefined;
      try {
        const r = attachDevice(domain, dev, opts());
        alone = `${r.def.path}\n${formatDeviceXML(r.def.device)}`;
      } catch (e) {
        if (!isVirtError(e)) throw e;
        aloneErr = e.message;
        // A kind QEMU does not attach with --config (graphics: these files are update-device's)
        // is still parsed alone against the domain, as update-device parses it.
        if (e.code === 'OPERATION_UNSUPPORTED' && /persistent attach/.test(e.message)) {
          const o = opts();
          const d = defineDevice(dev, domain, { ...o, driver: o.registry.forType(domain.type!) });
          const kind = d.def.kind;
          const { many } = deviceKey(kind);
          const n = many ? (((domain.devices as Record<string, unknown[] | undefined>)[deviceKey(kind).key]?.length) ?? 0) : 0;
          alone = `/domain/devices/${kind}${many ? `[${n + 1}]` : ''}\n${formatDeviceXML(d.def)}`;
        }
      }
      let full: string | undefined;
      let fullErr: string | undefined;
      try {
        // The full define is the persistent XML as it stands (addresses fixed) with the device added,
        // as `virsh edit` would submit it: existing devices keep their addresses in both paths.
        const def = defineDomain(formatDomainXML(domain).replace('</devices>', `${dev}\n</devices>`), opts()).def;
        const kind = /<\s*([a-z]+)/.exec(dev)![1]! as DeviceKind;
        const { key, many } = deviceKey(kind);
        const list = (def.devices as Record<string, unknown>)[key];
        const index = many ? (list as unknown[]).length - 1 : 0;
        const path = `/domain/devices/${kind}${many ? `[${index + 1}]` : ''}`;
        const d = getDevice(def, { kind, index, path });
        full = d ? `${path}\n${formatDeviceXML(d)}` : undefined;
      } catch (e) {
        if (!isVirtError(e)) throw e;
        fullErr = e.message;
      }
      if (alone !== undefined && full !== undefined) {
        both++;
        if (alone === full) same++;
        else results.push(`${f}: alone\n${alone}full\n${full}`);
      } else if ((alone === undefined) !== (full === undefined)) results.push(`${f}: alone ${aloneErr ?? 'accepted'}; full ${fullErr ?? 'accepted'}`);
    }
    console.log(`# hotplug: ${same}/${both} devices identical alone and in a full define`);
    for (const r of results) console.log(`#   ${r.replace(/\n/g, '\n#     ')}`);
    assert.ok(both > 15, `only ${both} devices attached`);
    assert.equal(same, both);
  });
});
