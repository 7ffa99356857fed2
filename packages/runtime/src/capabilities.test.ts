import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { findGuest, bookwormQemuCaps } from '@virtflow/model';
import { hostCapabilities, probeQemuCapabilities } from './capabilities.ts';

describe('host capabilities', () => {
  const qemu = existsSync('/usr/bin/qemu-system-x86_64');

  it('derives them from the real QEMU where it is installed', { skip: qemu ? false : 'needs qemu-system-x86_64 (scripts/bootstrap installs it)' }, async () => {
    const caps = await probeQemuCapabilities();
    assert.ok(caps);
    assert.match(caps.source, /^probed: /);
    const guest = findGuest(caps, 'hvm', 'x86_64');
    assert.ok(guest?.machines.some((m) => m.name === 'pc' && m.canonical?.startsWith('pc-i440fx-')));
    assert.ok(guest?.machines.some((m) => m.isDefault));
    assert.ok(caps.cpuModels.length > 20);
    assert.ok((caps.host.cpus ?? 0) >= 1);
  });

  it('agrees with the checked-in bookworm snapshot on this Debian QEMU', { skip: qemu ? false : 'needs qemu-system-x86_64' }, async () => {
    const caps = (await probeQemuCapabilities())!;
    const probed = findGuest(caps, 'hvm', 'x86_64')!.machines.map((m) => m.name).sort();
    const snap = findGuest(bookwormQemuCaps, 'hvm', 'x86_64')!.machines.map((m) => m.name).sort();
    if (caps.qemuVersion?.startsWith('7.2')) assert.deepEqual(probed, snap);
  });

  it('always answers, from the snapshot when QEMU is absent', async () => {
    const caps = await hostCapabilities();
    assert.ok(findGuest(caps, 'hvm', 'x86_64'));
  });
});
