/**
 * NUMA fit, as Nova's NUMATopologyFilter for shared (unpinned) CPUs: each
 * guest cell goes to a distinct host cell with room for its memory and vCPUs
 * (cell capacity × the host's ratios, less what earlier NUMA claims took),
 * and no guest cell has more vCPUs than its host cell has CPUs.
 */
import type { CellClaim, GuestNumaCell, NumaCellInventory } from './types.ts';
import { formatKiB } from './units.ts';

/**
 * libvirt's cpuset syntax (virBitmapParse): `0-3,8,^2` → [0, 1, 3, 8].
 * Returns undefined when it is not one.
 */
export function parseCpuSet(text: string): number[] | undefined {
  const on = new Set<number>();
  const off = new Set<number>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') return undefined;
    const neg = part.startsWith('^');
    const m = /^(\d+)(?:-(\d+))?$/.exec(neg ? part.slice(1) : part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a || b - a > 65536) return undefined;
    for (let i = a; i <= b; i++) (neg ? off : on).add(i);
  }
  return [...on].filter((i) => !off.has(i)).sort((x, y) => x - y);
}

export type NumaFit = { readonly ok: true; readonly cells: readonly CellClaim[] } | { readonly ok: false; readonly reason: string };

interface Room {
  readonly cell: NumaCellInventory;
  readonly memoryKiB: number;
  readonly vcpus: number;
}

const roomOf = (c: NumaCellInventory): Room => ({ cell: c, memoryKiB: c.capacity.memoryKiB - c.used.memoryKiB, vcpus: c.capacity.vcpus - c.used.vcpus });
const fits = (g: GuestNumaCell, r: Room) => g.memoryKiB <= r.memoryKiB && g.vcpus <= r.vcpus && g.vcpus <= r.cell.cpus.length;

/**
 * Assigns guest cells to distinct host cells: biggest guest cell first, each
 * to the host cell that fits it most tightly, backtracking when a later cell
 * is left without room (cell counts are small: 8 is a big host).
 */
export function fitNuma(guest: readonly GuestNumaCell[], host: readonly NumaCellInventory[]): NumaFit {
  if (guest.length > host.length) return { ok: false, reason: `guest has ${guest.length} NUMA cells, host only ${host.length}` };
  const rooms = host.map(roomOf);
  const order = [...guest].sort((a, b) => b.memoryKiB - a.memoryKiB || b.vcpus - a.vcpus || a.id - b.id);
  const used = new Set<number>();
  const chosen: CellClaim[] = [];
  const search = (i: number): boolean => {
    if (i === order.length) return true;
    const g = order[i]!;
    const options = rooms.filter((r) => !used.has(r.cell.id) && fits(g, r)).sort((a, b) => a.memoryKiB - b.memoryKiB || a.vcpus - b.vcpus || a.cell.id - b.cell.id);
    for (const r of options) {
      used.add(r.cell.id);
      chosen.push({ guestCell: g.id, hostCell: r.cell.id, memoryKiB: g.memoryKiB, vcpus: g.vcpus });
      if (search(i + 1)) return true;
      chosen.pop();
      used.delete(r.cell.id);
    }
    return false;
  };
  if (search(0)) return { ok: true, cells: Object.freeze(chosen.sort((a, b) => a.guestCell - b.guestCell)) };
  return { ok: false, reason: whyNot(order, rooms) };
}

/** The first guest cell no host cell can take on its own, or else the counting argument. */
function whyNot(guest: readonly GuestNumaCell[], rooms: readonly Room[]): string {
  for (const g of guest) {
    if (rooms.some((r) => fits(g, r))) continue;
    const best = [...rooms].sort((a, b) => b.memoryKiB - a.memoryKiB)[0]!;
    if (g.vcpus > Math.max(...rooms.map((r) => r.cell.cpus.length))) {
      return `guest NUMA cell ${g.id} has ${g.vcpus} vCPUs, more than any host cell's CPUs (largest: ${Math.max(...rooms.map((r) => r.cell.cpus.length))})`;
    }
    if (g.vcpus > Math.max(...rooms.map((r) => r.vcpus))) return `guest NUMA cell ${g.id} needs ${g.vcpus} vCPUs, no host cell has that many free (most: ${Math.max(...rooms.map((r) => r.vcpus))})`;
    return `guest NUMA cell ${g.id} needs ${formatKiB(g.memoryKiB)}, the most free in a host cell is ${formatKiB(best.memoryKiB)} (cell ${best.cell.id})`;
  }
  return `no assignment of the guest's ${guest.length} NUMA cells to distinct host cells has room for all of them`;
}
