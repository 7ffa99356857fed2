/**
 * Domain-wide defaults of libvirt's generic layer: the architecture
 * (virDomainDefParseCaps), the clock offset (virDomainDefClockParse) and the
 * boot device (virDomainDefParseBootXML, virDomainDefBootOrderPostParse).
 */
import { VirtError } from '../../errors.ts';
import type { DomainDraft } from '../types.ts';
import { deviceList, parseUInt32 } from './generic-helpers.ts';
import type { ParseRule } from './index.ts';

/**
 * A domain without <type arch> gets the driver's default arch, else the
 * host's (ctx.defArch: x86_64 unless a driver says otherwise, which is what
 * libvirt's own generic tests see on an x86_64 host). This is the generic
 * default; a driver's post-parse may later choose another. The test and
 * vmware drivers, the ones for domain types 'test' and 'vmware', declare i686.
 */
export const defaultArch: ParseRule = (def, ctx) => {
  const type = def.os?.type;
  if (!type || type.arch !== undefined) return;
  type.arch = def.type === 'test' || def.type === 'vmware' ? 'i686' : ctx.defArch;
};

/** <clock offset>: utc unless given; the clock is always written. */
export const clockOffset: ParseRule = (def) => {
  const clock = (def.clock ??= {});
  clock.offset ??= 'utc';
};

const BOOT_DEVS = ['fd', 'cdrom', 'hd', 'network'];
const MAX_BOOT_DEVS = BOOT_DEVS.length;

/** virDomainDefParseBootXML (hvm): at most four <boot dev>, each a known device. */
export const osBootDevices: ParseRule = (def) => {
  const os = def.os;
  if (!os?.boots || os.type?.text !== 'hvm') return;
  os.boots = os.boots.slice(0, MAX_BOOT_DEVS);
  os.boots.forEach((b, i) => {
    const path = `/domain/os/boot[${i + 1}]/@dev`;
    if (b.dev === undefined) throw new VirtError('XML_ERROR', "Missing required attribute 'dev' in element 'boot'", path);
    if (!BOOT_DEVS.includes(b.dev)) throw new VirtError('XML_ERROR', `Invalid value for attribute 'dev' in element 'boot': '${b.dev}'.`, path);
  });
};

/** Devices that read a <boot order> (ALLOW_BOOT), in libvirt's device iteration order. */
const BOOTABLE: ReadonlyArray<readonly [string, string]> = [
  ['disks', 'disk'],
  ['interfaces', 'interface'],
  ['hostdevs', 'hostdev'],
  ['filesystems', 'filesystem'],
  ['redirdevs', 'redirdev'],
];

/**
 * virDomainDefBootOrderPostParse (hvm): boot orders are unique, exclude
 * <os><boot>, and without either the domain boots from its first disk.
 */
export const bootOrder: ParseRule = (def: DomainDraft) => {
  if (def.os?.type?.text !== 'hvm') return;
  const seen = new Set<number>();
  for (const [key, name] of BOOTABLE) {
    deviceList<{ boot?: { order?: string } }>(def, key).forEach((d, i) => {
      const order = parseUInt32(d.boot?.order);
      if (!order) return;
      if (seen.has(order)) throw new VirtError('CONFIG_UNSUPPORTED', `boot order '${order}' used for more than one device`, `/domain/devices/${name}[${i + 1}]/boot/@order`);
      seen.add(order);
    });
  }
  const os = def.os;
  const nboot = os.boots?.length ?? 0;
  if (nboot > 0 && seen.size > 0) throw new VirtError('CONFIG_UNSUPPORTED', 'per-device boot elements cannot be used together with os/boot elements', '/domain/os/boot[1]');
  // With a <bootloader>, libvirt writes no <boot dev>.
  if (def.bootloader !== undefined) delete os.boots;
  else if (nboot === 0 && seen.size === 0) os.boots = [{ dev: 'hd' }];
};
