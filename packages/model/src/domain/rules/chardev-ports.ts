/**
 * Ports of the chr devices after the driver's device callbacks: the
 * ISA-serial pass (virDomainChrIsaSerialDefPostParse) then
 * virDomainChrDefPostParse.
 */
import { VirtError } from '../../errors.ts';
import { deviceList, devicePath } from './generic-helpers.ts';
import type { ParseRule } from './index.ts';
import { CHR_KINDS, type Chr, type ChrKind } from './chardev.ts';

const MAX_ISA_SERIAL_PORTS = 4;
const X86 = ['i686', 'x86_64'];

/**
 * virDomainChrIsaSerialDefPostParse then virDomainChrDefPostParse: ISA serial
 * ports, a console without target type becomes 'serial', isa-debug only on
 * x86, and every port still unset takes (highest port of its kind) + 1.
 */
export const chardevPorts: ParseRule = (def, ctx) => {
  const lists = new Map<ChrKind, Chr[]>();
  const ports = new Map<Chr, number>();
  for (const [kind, key] of CHR_KINDS) {
    const list = deviceList<Chr>(def, key);
    lists.set(kind, list);
    for (const c of list) ports.set(c, c.target?.port === undefined ? -1 : Number(c.target.port));
  }
  if (!ctx.deviceOnly) isaSerialPorts(lists.get('serial')!, ports);
  const arch = def.os?.type?.arch;
  for (const [kind] of CHR_KINDS) {
    const list = lists.get(kind)!;
    if (list.length === 0) continue;
    list.forEach((c, i) => {
      const path = devicePath(ctx, kind, i);
      c.target ??= {};
      if (kind === 'console' && (c.target.type === 'none' || c.target.type === undefined)) c.target.type = 'serial';
      if (kind === 'serial' && c.target.type === 'isa-debug' && arch !== undefined && !X86.includes(arch)) {
        throw new VirtError('CONFIG_UNSUPPORTED', 'isa-debug serial type only valid on x86 architecture', `${path}/target/@type`);
      }
      if (kind !== 'channel' && ports.get(c) === -1) ports.set(c, 1 + Math.max(-1, ...list.map((p) => ports.get(p)!)));
    });
  }
  for (const [kind] of CHR_KINDS) {
    if (kind === 'channel') continue;
    for (const c of lists.get(kind)!) {
      c.target!.port = String(ports.get(c));
      // A serial's target type is written only when set.
      if (kind === 'serial' && c.target!.type === 'none') delete c.target!.type;
    }
  }
};

/** virDomainChrIsaSerialDefPostParse: explicit isa-serial targets take the lowest free of the four ISA ports. */
function isaSerialPorts(serials: Chr[], ports: Map<Chr, number>): void {
  const isa = serials.filter((c) => c.target!.type === 'isa-serial');
  const used = new Set<number>();
  isa.forEach((c, k) => {
    const port = ports.get(c)!;
    const path = `/domain/devices/serial[${serials.indexOf(c) + 1}]/target/@port`;
    if (k >= MAX_ISA_SERIAL_PORTS || port >= MAX_ISA_SERIAL_PORTS) {
      throw new VirtError('INTERNAL_ERROR', `Maximum supported number of ISA serial ports is '${MAX_ISA_SERIAL_PORTS}'`, path);
    }
    if (port !== -1) {
      if (used.has(port)) throw new VirtError('INTERNAL_ERROR', `target port '${port}' already allocated`, path);
      used.add(port);
    }
  });
  for (const c of isa) {
    if (ports.get(c) !== -1) continue;
    let p = 0;
    while (used.has(p)) p++;
    used.add(p);
    ports.set(c, p);
  }
}
