/**
 * Device parse-time defaults and checks of libvirt's generic parser that
 * every driver sees: disk type/device defaults, duplicate disk targets,
 * MAC syntax (read within the interface's parse, net-hostdev-parse.ts).
 * Device data is read structurally so these rules stay valid whatever else
 * a device's spec holds.
 */
import { VirtError } from '../../errors.ts';
import { formatMac, generateMac, isMulticast, parseMac } from '../../util/mac.ts';
import type { DomainDraft } from '../types.ts';
import type { ParseContext, ParseRule } from './index.ts';

interface DiskLike {
  type?: string;
  device?: string;
  source?: { file?: string; dev?: string; dir?: string; name?: string; volume?: string; pool?: string } | Array<unknown>;
  target?: { dev?: string };
}
interface NetLike {
  type?: string;
  mac?: { address?: string };
}

function list<T>(def: DomainDraft, key: string): T[] {
  const v = (def.devices as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(v) ? (v as T[]) : [];
}

/** What libvirt's messages call a disk's source: its path or network name. */
export function diskSourceName(disk: DiskLike): string | undefined {
  const s = disk.source;
  if (!s || Array.isArray(s)) return undefined;
  return s.file ?? s.dev ?? s.dir ?? s.name ?? s.volume;
}

export const diskDefaults: ParseRule = (def) => {
  for (const disk of list<DiskLike>(def, 'disks')) {
    disk.type ??= 'file';
    disk.device ??= 'disk';
  }
};

export const duplicateDiskTargets: ParseRule = (def, ctx) => {
  if (ctx.deviceOnly) return;
  const disks = list<DiskLike>(def, 'disks');
  const seen = new Map<string, number>();
  disks.forEach((disk, j) => {
    const dev = disk.target?.dev;
    if (dev === undefined) return;
    const i = seen.get(dev);
    if (i !== undefined) {
      throw new VirtError(
        'XML_ERROR',
        `target '${dev}' duplicated for disk sources '${diskSourceName(disks[i]!) ?? '<null>'}' and '${diskSourceName(disk) ?? '<null>'}'`,
        `/domain/devices/disk[${j + 1}]/target/@dev`,
      );
    }
    seen.set(dev, j);
  });
};

/**
 * An <interface>'s MAC address, where virDomainNetDefParseXML reads it (just
 * before the <mac> type): checked and written canonically, or generated with
 * the driver's prefix when none is written. `path` is the address attribute's.
 */
export function parseMacAddress(net: NetLike, path: string, ctx: ParseContext): void {
  const mac = net.mac?.address;
  if (mac === undefined) {
    net.mac = { ...(net.mac ?? {}), address: generateMac(ctx.macPrefix, ctx.random) };
    return;
  }
  const bytes = parseMac(mac);
  if (!bytes) throw new VirtError('XML_ERROR', `unable to parse mac address '${mac}'`, path);
  if (isMulticast(bytes)) throw new VirtError('XML_ERROR', `expected unicast mac address, found multicast '${mac}'`, path);
  net.mac!.address = formatMac(bytes);
}
