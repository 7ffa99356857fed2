/**
 * virCPUDefParseXML's checks of a guest <cpu>'s attributes: its mode, then
 * (for a guest CPU) match and check as virXMLPropEnum reads them. An empty or
 * unknown value is refused as libvirt refuses it, rather than kept and
 * written back where a reparse or the post-parse reads it differently.
 */
import { VirtError } from '../../errors.ts';
import type { ParseRule } from './index.ts';
import { propEnum } from './xmlprop.ts';

const MODES = ['custom', 'host-model', 'host-passthrough', 'maximum'];
const MATCHES = ['minimum', 'exact', 'strict'] as const;
const CHECKS = ['default', 'none', 'partial', 'full'] as const;

export const cpuParse: ParseRule = (def) => {
  const cpu = def.cpu;
  if (!cpu) return;
  // A <cpu> with an <arch> is a host CPU (VIR_CPU_TYPE_AUTO): read by other rules than a guest's.
  if ((cpu as { $unknown?: { children?: { node: { name: string } }[] } }).$unknown?.children?.some((c) => c.node.name === 'arch')) return;
  if (cpu.mode !== undefined && !MODES.includes(cpu.mode)) throw new VirtError('CONFIG_UNSUPPORTED', `Invalid mode attribute '${cpu.mode}'`, '/domain/cpu/@mode');
  propEnum(cpu.match, 'match', 'cpu', '/domain/cpu', MATCHES);
  propEnum(cpu.check, 'check', 'cpu', '/domain/cpu', CHECKS);
};
