import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Immer, current, enablePatches, isDraft, original } from 'immer';
import { deepFreeze } from '../util/freeze.ts';
import { isLeanDraft, produceWithPatchesLean } from './drafts.ts';

enablePatches();
const immer = new Immer({ autoFreeze: false });

type Recipe = (d: any) => unknown;

const base = () =>
  deepFreeze({
    name: 'x',
    os: { type: { arch: 'x86_64', machine: 'pc', text: 'hvm' } },
    devices: {
      disks: [
        { type: 'file', target: { dev: 'vda', bus: 'virtio' }, address: { type: 'pci', slot: '0x04' } },
        { type: 'file', target: { dev: 'vdb' } },
      ],
      controllers: [{ type: 'usb', index: '0' }, { type: 'pci', index: '0', model: 'pci-root' }],
      memballoon: { model: 'virtio' },
    },
    features: { acpi: {} },
  } as Record<string, any>);

/** Each recipe runs on immer's drafts and on the lean ones: same next state, same patches in the same order. */
const recipes: Record<string, Recipe> = {
  'reads only': (d) => void JSON.stringify(d),
  'sets a new key and replaces one': (d) => {
    d.title = 't';
    d.name = 'y';
  },
  'same value back: no patch': (d) => {
    d.name = 'x';
    d.os.type.arch = 'x86_64';
  },
  'nested changes, in draft order': (d) => {
    d.devices.disks[1].target.bus = 'virtio';
    d.os.type.machine = 'pc-i440fx';
    d.devices.disks[0].address.slot = '0x05';
    d.features.pae = {};
  },
  'deletes': (d) => {
    delete d.features.acpi;
    delete d.devices.memballoon;
    delete d.nothing;
  },
  'array push, pop, splice, unshift': (d) => {
    d.devices.controllers.push({ type: 'sata', index: '0' });
    d.devices.disks.pop();
    d.devices.controllers.unshift({ type: 'ide', index: '0' });
    d.devices.controllers.splice(1, 1);
  },
  'array shrinks': (d) => {
    d.devices.controllers.length = 0;
    d.devices.disks[0] = { type: 'block' };
    d.devices.disks.length = 1;
  },
  'a draft moved elsewhere': (d) => {
    const c = d.devices.controllers[0];
    c.model = 'qemu-xhci';
    d.devices.usb = c;
    d.devices.controllers.shift();
  },
  'a new list made of drafts': (d) => {
    d.devices.disks[0].target.bus = 'sata';
    d.devices.disks = [...d.devices.disks].reverse();
    d.devices.extra = { list: [d.os, d.features] };
  },
  'the original put back': (d) => {
    const o = d.os;
    d.os = original(o);
    d.os.type.text = 'xen';
  },
  'changed then dropped with its parent': (d) => {
    d.devices.disks[0].address.slot = '0x09';
    delete d.devices.disks[0].address;
    d.features.acpi.x = '1';
    d.features = { apic: {} };
  },
  'current of a lean draft': (d) => {
    d.devices.disks[0].target.dev = 'sda';
    const snap = current(d.devices.disks[0]);
    d.devices.copy = structuredClone(snap);
    d.isDraft = String(isDraft(d.os));
  },
  'a value returned, nothing changed': (d) => ({ replaced: d.name }),
};

describe('lean drafts', () => {
  for (const [name, recipe] of Object.entries(recipes)) {
    it(name, () => {
      const b = base();
      const [want, wantPatches] = immer.produceWithPatches(b, recipe as never);
      const [got, gotPatches] = produceWithPatchesLean(immer, b, recipe);
      assert.deepEqual(got, want);
      assert.deepEqual(gotPatches, wantPatches);
      assert.equal(got === b, want === b);
    });
  }

  it('throws as immer when a recipe returns a value and modifies', () => {
    const recipe: Recipe = (d) => {
      d.name = 'z';
      return 1;
    };
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    assert.equal(err(() => produceWithPatchesLean(immer, base(), recipe)), err(() => immer.produceWithPatches(base(), recipe as never)));
  });

  it('leaves the base alone and answers isDraft', () => {
    const b = base();
    let seen = false;
    produceWithPatchesLean(immer, b, (d) => {
      seen = isLeanDraft(d) && isDraft(d.devices);
      d.devices.disks[0].target.bus = 'scsi';
    });
    assert.ok(seen);
    assert.equal(b['devices'].disks[0].target.bus, 'virtio');
  });
});
