/**
 * Writes the checked-in capabilities snapshot from this machine's real QEMU
 * (Debian bookworm's 7.2): node --import tsx scripts/dev/caps-snapshot.ts
 * Host-specific facts (CPU count, memory, KVM) are left out of the snapshot.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeQemuCapabilities } from '@virtflow/runtime';

const caps = await probeQemuCapabilities();
if (!caps) throw new Error('no qemu-system binary here: install qemu-system-x86 (scripts/bootstrap)');
const snapshot = {
  ...caps,
  host: { arch: caps.host.arch },
  // A snapshot must not claim KVM: it describes the packages, not a host.
  guests: caps.guests.map((g) => ({ ...g, domains: [{ type: 'qemu' }, { type: 'kvm' }] })),
  source: `snapshot: Debian bookworm QEMU ${caps.qemuVersion ?? '7.2'}`,
};
const out = join(import.meta.dirname, '../../packages/model/src/caps/data/qemu-7.2-x86_64.json');
writeFileSync(out, JSON.stringify(snapshot, null, 1) + '\n');
console.log(`wrote ${out}: ${snapshot.guests.length} guests, ${snapshot.cpuModels.length} CPU models`);
