/**
 * Pure readers of QEMU's own listings (`-machine help`, `-cpu help`,
 * `--version`), so capabilities can be derived from the real binary by the
 * runtime and tested here without running it.
 */
import type { CpuModel, MachineType } from './types.ts';

/** Maximum vCPUs per machine family, as QEMU 7.2 declares them (libvirt reads them over QMP). */
function maxCpusFor(name: string): number {
  if (name === 'isapc' || name === 'none' || name === 'x-remote') return 1;
  if (/q35|microvm/.test(name)) return 288;
  if (/^xen/.test(name)) return name === 'xenpv' ? 1 : 128;
  return 255;
}

const MACHINE_LINE = /^(\S+)\s+(.*)$/;

export function parseMachineHelp(text: string): MachineType[] {
  const out: MachineType[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('Supported machines')) continue;
    const m = MACHINE_LINE.exec(line.trim());
    if (!m) continue;
    const [, name, desc] = m as unknown as [string, string, string];
    const alias = /\(alias of ([^)]+)\)/.exec(desc)?.[1];
    out.push({
      name,
      ...(alias ? { canonical: alias } : {}),
      maxCpus: maxCpusFor(alias ?? name),
      ...(/\(default\)/.test(desc) ? { isDefault: true } : {}),
      ...(/\(deprecated\)/.test(desc) ? { deprecated: true } : {}),
    });
  }
  return out;
}

const CPU_LINE = /^\S+\s+(\S+)\s*(.*)$/;

export function parseCpuHelp(text: string): CpuModel[] {
  const out: CpuModel[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('x86 ') && !/^\S+ \S/.test(line)) continue;
    if (line.startsWith('Available') || line.startsWith('Recognized')) continue;
    const m = CPU_LINE.exec(line);
    if (!m) continue;
    const [, name, rest] = m as unknown as [string, string, string];
    const alias = /\(alias of ([^)]+)\)/.exec(rest)?.[1];
    const description = rest.trim();
    out.push({ name, ...(alias ? { aliasOf: alias } : {}), ...(description && !alias && !description.startsWith('(alias') ? { description } : {}) });
  }
  return out;
}

export function parseQemuVersion(text: string): string | undefined {
  return /QEMU emulator version (\S+)/.exec(text)?.[1];
}
