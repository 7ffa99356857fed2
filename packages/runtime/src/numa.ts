/**
 * The host's NUMA cells as Linux shows them under /sys/devices/system/node
 * (what `virsh capabilities` lists in <topology><cells>): each online node's
 * id, memory (its meminfo's MemTotal) and CPU ids (its cpulist). The
 * scheduler's NUMA fit reads them from the host's registered capabilities.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface NumaCell {
  readonly id: number;
  readonly memoryKiB: number;
  readonly cpus: readonly number[];
}

/** `0-3,8,10-11` → [0, 1, 2, 3, 8, 10, 11]; a malformed list is an error naming it. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`'${text.trim()}' is not a CPU list`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new Error(`'${text.trim()}' is not a CPU list`);
    for (let c = from; c <= to; c++) out.push(c);
  }
  return out;
}

/**
 * Reads the cells; undefined where sysfs has no node directory (a kernel
 * without NUMA, a container hiding /sys), so the capabilities then carry none
 * rather than a made-up single cell.
 */
export function readNumaCells(root = '/sys/devices/system/node'): NumaCell[] | undefined {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => /^node\d+$/.test(n));
  } catch {
    return undefined;
  }
  if (names.length === 0) return undefined;
  const cells: NumaCell[] = [];
  for (const name of names) {
    try {
      const dir = join(root, name);
      const mem = /MemTotal:\s+(\d+)\s*kB/.exec(readFileSync(join(dir, 'meminfo'), 'utf8'))?.[1];
      cells.push({ id: Number(name.slice(4)), memoryKiB: mem === undefined ? 0 : Number(mem), cpus: parseCpuList(readFileSync(join(dir, 'cpulist'), 'utf8')) });
    } catch {
      // A node that vanished (memory hot-unplug) or hides its files: leave it out.
    }
  }
  return cells.length ? cells.sort((a, b) => a.id - b.id) : undefined;
}
