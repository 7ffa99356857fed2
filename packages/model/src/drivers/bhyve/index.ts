/**
 * libvirt's bhyve driver (src/bhyve: bhyve_domain.c, bhyve_device.c,
 * bhyve_capabilities.c, bhyve_driver.c): x86_64 HVM guests on FreeBSD. At
 * define it checks the capabilities, adds the pci-root and (when something
 * needs the LPC bridge) the ISA controller, gives SATA disks their drive
 * addresses, makes the default video `gop`, names nmdm consoles after the
 * domain's UUID, puts every device on a slot of the single PCI bus (slot 1
 * kept for the LPC bridge), and refuses a second ISA controller.
 * Flags: FW_AUTOSELECT only.
 *
 * The bhyve binary's probed capabilities (driver->bhyvecaps) are driver
 * state, not virCaps: define only uses BHYVE_CAP_AHCI32SLOT (32 disks per
 * AHCI controller), which any current FreeBSD has, so it is on unless the
 * driver is made without it.
 */
import { bhyveCaps } from '../../caps/other.ts';
import type { Capabilities } from '../../caps/types.ts';
import type { DeviceKind, DomainDef } from '../../domain/types.ts';
import { VirtError } from '../../errors.ts';
import { DEVICE_VISIT_ORDER, deviceKey } from '../../postparse/devices.ts';
import { deviceRule, deviceRules, deviceValidators, domainRule, domainRules, type DeviceValidator } from '../../postparse/rules.ts';
import type { DriverConf } from '../../postparse/types.ts';
import { capsFor, checkDomainSupported } from '../shared/caps.ts';
import { commandlineArgs, commandlineBlock, setNamespaceBlock } from '../shared/namespace.ts';

export const BHYVE_NAMESPACE_URI = 'http://libvirt.org/schemas/domain/bhyve/1.0';

export interface BhyveData {
  readonly caps: Capabilities;
  /** BHYVE_CAP_AHCI32SLOT: one AHCI controller holds 32 disks. */
  readonly ahci32slot: boolean;
}

export interface BhyveDriverOptions {
  /** The host's capabilities builder when the given ones have no bhyve guest; default `bhyveCaps`. */
  readonly buildCaps?: (hostArch: string) => Capabilities;
  /** Whether the bhyve binary accepts `-s 0,ahci` (BHYVE_CAP_AHCI32SLOT); default true. */
  readonly ahci32slot?: boolean;
}

// ------------------------------------------------------------ namespace

/** bhyveDomainDefNamespaceParse / FormatXML: `<bhyve:commandline><bhyve:arg value/>`. */
const commandline = domainRule<BhyveData>('bhyve-commandline', 'the bhyve:commandline block as the bhyve driver reads and writes it', (d) => {
  const args = commandlineArgs(d, BHYVE_NAMESPACE_URI, (path) => {
    throw new VirtError('INTERNAL_ERROR', 'No bhyve command-line argument specified', path);
  });
  setNamespaceBlock(d, 'bhyve', BHYVE_NAMESPACE_URI, commandlineBlock('bhyve', args));
});

// ------------------------------------------------------------ domain (bhyveDomainDefPostParse, in order)

const capsCheck = domainRule<BhyveData>('caps-check', 'bhyve runs only what its capabilities offer: type bhyve, OS hvm, arch x86_64', (d, ctx) => {
  checkDomainSupported(ctx.data.caps, d);
});

type Controller = { type?: string; index?: string; model?: string };

/** virDomainDefMaybeAddController: appended when no controller of that type has that index. */
function maybeAddController(d: { devices?: { controllers?: Controller[] } }, c: Controller): void {
  const devices = (d.devices ??= {});
  const list = (devices.controllers ??= []);
  if (list.some((x) => x.type === c.type && Number(x.index ?? 0) === Number(c.index))) return;
  list.push(c);
}

const pciRoot = domainRule<BhyveData>('pci-root', 'bhyve guests have one PCI bus, the pci-root', (d) => {
  maybeAddController(d, { type: 'pci', index: '0', model: 'pci-root' });
});

/** bhyveDomainDefNeedsISAController. */
function needsIsa(def: DomainDef): boolean {
  const os = def.os;
  if (def.bootloader === undefined && os?.loader !== undefined) return true;
  if (os?.firmware === 'efi') return true;
  const devs = def.devices;
  if ((devs?.serials?.length ?? 0) > 0 || (devs?.consoles?.length ?? 0) > 0) return true;
  if ((devs?.graphics?.length ?? 0) > 0 && (devs?.videos?.length ?? 0) > 0) return true;
  return false;
}

const isaController = domainRule<BhyveData>('isa-controller', 'the LPC bridge (ISA controller) carries the UEFI boot ROM, the serial ports and the framebuffer', (d) => {
  if (needsIsa(d)) maybeAddController(d, { type: 'isa', index: '0' });
});

// ------------------------------------------------------------ devices (bhyveDomainDeviceDefPostParse)

const DISK_PREFIXES = ['fd', 'hd', 'vd', 'sd', 'xvd', 'ubd'];

/** virDiskNameToIndex: `sda` → 0, `hdz` → 25, `vdaa` → 26; trailing digits ignored; -1 when not a disk name. */
export function diskNameToIndex(name: string): number {
  const prefix = DISK_PREFIXES.find((p) => name.startsWith(p));
  if (prefix === undefined) return -1;
  const m = /^([a-z]+)([0-9]*)$/.exec(name.slice(prefix.length));
  if (!m) return -1;
  let idx = 0;
  [...m[1]!].forEach((ch, i) => {
    idx = (idx + (i < 1 ? 0 : 1)) * 26 + (ch.charCodeAt(0) - 97);
  });
  return idx;
}

const diskAddress = deviceRule<BhyveData, 'disk'>(['disk'], 'sata-drive-address', 'a SATA disk sits on the AHCI controller and port its name gives (32 ports per controller when bhyve supports it)', (disk, _def, ctx) => {
  if ((disk.address?.type ?? 'none') !== 'none') return;
  const dst = disk.target?.dev ?? '';
  const idx = diskNameToIndex(dst);
  if (idx < 0) throw new VirtError('XML_ERROR', `Unknown disk name '${dst}' and no address specified`, `${ctx.devicePath ?? '/disk'}/target/@dev`);
  // Only an explicit bus: the generic bus default runs after this callback.
  if (disk.target?.bus !== 'sata') return;
  const [controller, unit] = ctx.data.ahci32slot ? [Math.floor(idx / 32), idx % 32] : [idx, 0];
  disk.address = { type: 'drive', controller: String(controller), bus: '0', target: '0', unit: String(unit) };
});

const rootIndex = deviceRule<BhyveData, 'controller'>(['controller'], 'pci-root-index', 'the pci-root is bus 0', (c, _def, ctx) => {
  if (c.type === 'pci' && (c.model === 'pci-root' || c.model === 'pcie-root') && Number(c.index ?? 0) !== 0) {
    throw new VirtError('XML_ERROR', 'pci-root and pcie-root controllers should have index 0', `${ctx.devicePath ?? '/controller'}/@index`);
  }
});

const videoModel = deviceRule<BhyveData, 'video'>(['video'], 'video-model-default', "bhyve's framebuffer is the UEFI GOP one", (video) => {
  const model = (video.model ??= {});
  if (model.type === undefined || model.type === 'default') model.type = 'gop';
});

const nmdmPaths = deviceRule<BhyveData, 'serial' | 'console' | 'channel' | 'parallel'>(['serial', 'console', 'channel', 'parallel'], 'nmdm-paths', 'an nmdm device without a master is named after the domain UUID: /dev/nmdm<UUID>A and B', (chr, def) => {
  if (chr.type !== 'nmdm') return;
  const src = chr.sources?.[0];
  if (src?.master !== undefined) return;
  const uuid = def.uuid ?? '';
  const next = { ...(src ?? {}), master: `/dev/nmdm${uuid}A`, slave: `/dev/nmdm${uuid}B` };
  if (chr.sources?.length) chr.sources[0] = next;
  else chr.sources = [next];
});

// ------------------------------------------------------------ addresses (bhyveDomainAssignPCIAddresses)

interface Addr {
  type?: string;
  domain?: string;
  bus?: string;
  slot?: string;
  function?: string;
  multifunction?: string;
}
interface Addressed {
  address?: Addr;
}

const MAX_SLOT = 31;

/** libvirt's PCI numbers: any base (0x… hex, 0… octal, decimal). */
function num(s: string | undefined): number {
  if (s === undefined) return 0;
  const t = s.trim();
  if (/^[+]?0x[0-9a-f]+$/i.test(t)) return parseInt(t.replace('+', ''), 16);
  if (/^[+]?0[0-7]+$/.test(t)) return parseInt(t.replace('+', ''), 8);
  return Number(t);
}

function pciString(a: { domain: number; bus: number; slot: number; fn: number }): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.fn}`;
}

function pciAddress(slot: number): Addr {
  return { type: 'pci', domain: '0x0000', bus: '0x00', slot: `0x${slot.toString(16).padStart(2, '0')}`, function: '0x0' };
}

/** virDeviceInfoPCIAddressIsWanted: no address, or a pci one with domain, bus and slot all 0. */
function wantsPci(d: Addressed): boolean {
  const a = d.address;
  if (a === undefined || (a.type ?? 'none') === 'none') return true;
  return a.type === 'pci' && num(a.domain) === 0 && num(a.bus) === 0 && num(a.slot) === 0;
}

/** Device kinds without device info in libvirt: never walked by virDomainDeviceInfoIterate. */
const NO_INFO = new Set<DeviceKind>(['graphics', 'audio', 'lease']);

class PciBus {
  /** Slot → bitmask of used functions. */
  readonly #slots = new Map<number, number>();

  inUse(slot: number): boolean {
    return (this.#slots.get(slot) ?? 0) !== 0;
  }

  /** virDomainPCIAddressReserveAddr for an address from the config. */
  reserveFromConfig(a: Addr, path: string): void {
    const addr = { domain: num(a.domain), bus: num(a.bus), slot: num(a.slot), fn: num(a.function) };
    const s = pciString(addr);
    if (addr.domain !== 0) throw new VirtError('XML_ERROR', `Invalid PCI address ${s}. Only PCI domain 0 is available`, path);
    if (addr.bus >= 1) throw new VirtError('XML_ERROR', `Invalid PCI address ${s}. Only PCI buses up to 0 are available`, path);
    if (addr.slot > MAX_SLOT) throw new VirtError('XML_ERROR', `Invalid PCI address ${s}. slot must be <= ${MAX_SLOT}`, path);
    if (addr.fn > 7) throw new VirtError('XML_ERROR', `Invalid PCI address ${s}. function must be <= 7`, path);
    const used = this.#slots.get(addr.slot) ?? 0;
    if (used & (1 << addr.fn)) throw new VirtError('XML_ERROR', `Attempted double use of PCI Address ${s}`, path);
    this.#slots.set(addr.slot, used | (1 << addr.fn));
  }

  reserveSlot(slot: number): void {
    this.#slots.set(slot, (this.#slots.get(slot) ?? 0) | 1);
  }

  /** virDomainPCIAddressReserveNextAddr: the lowest slot with no function in use, function 0. */
  next(path: string): Addr {
    for (let slot = 1; slot <= MAX_SLOT; slot++) {
      if (this.inUse(slot)) continue;
      this.reserveSlot(slot);
      return pciAddress(slot);
    }
    throw new VirtError('INTERNAL_ERROR', 'No more available PCI slots', path);
  }
}

type Devices = Record<string, unknown>;

function listOf<T>(devs: Devices, key: string): T[] {
  const v = devs[key];
  return Array.isArray(v) ? (v as T[]) : [];
}

/** bhyveDomainPCIAddressSetCreate: every explicit PCI address of the config, reserved in libvirt's device order. */
function collect(def: DomainDef, bus: PciBus): void {
  const devs = (def.devices ?? {}) as Devices;
  const hvm = (def.os?.type?.text ?? 'hvm') === 'hvm';
  for (const kind of DEVICE_VISIT_ORDER) {
    if (NO_INFO.has(kind)) continue;
    const { key, many } = deviceKey(kind);
    const v = devs[key];
    if (v === undefined) continue;
    const items = (many ? v : [v]) as Addressed[];
    items.forEach((d, i) => {
      // The first console of an HVM guest stands for the first serial: visited once, as the serial.
      if (kind === 'console' && i === 0 && hvm && (d as { target?: { type?: string } }).target?.type === 'serial') return;
      const a = d.address;
      // Drive addresses sit on their controller. libvirt reads any other type as a
      // PCI address (a usb address is misread); only PCI addresses are taken here.
      if (a === undefined || a.type !== 'pci') return;
      if (num(a.domain) === 0 && num(a.bus) === 0 && num(a.slot) === 0) return;
      bus.reserveFromConfig(a, `/domain/devices/${kind}${many ? `[${i + 1}]` : ''}/address`);
    });
  }
}

const LPC_SLOT = 1;

const pciSlots = domainRule<BhyveData>('pci-slots', 'bhyve puts every device on its own slot of PCI bus 0: slot 1 is kept for the LPC bridge, then controllers, interfaces, virtio disks, videos, sounds and filesystems take the lowest free slot', (d) => {
  const bus = new PciBus();
  collect(d, bus);
  const devs = (d.devices ?? {}) as Devices;
  const controllers = listOf<Controller & Addressed>(devs, 'controllers');
  const path = (kind: string, i: number) => `/domain/devices/${kind}[${i + 1}]/address`;
  const assign = (dev: Addressed, at: string) => {
    dev.address = bus.next(at);
  };
  if (!bus.inUse(LPC_SLOT)) {
    bus.reserveSlot(LPC_SLOT);
    const isa = controllers.find((c) => c.type === 'isa' && wantsPci(c));
    if (isa) isa.address = pciAddress(LPC_SLOT);
  }
  controllers.forEach((c, i) => {
    const takes = c.type === 'pci' || c.type === 'sata' || (c.type === 'usb' && c.model === 'nec-xhci') || c.type === 'isa';
    if (!takes || c.model === 'pci-root' || !wantsPci(c)) return;
    assign(c, path('controller', i));
  });
  listOf<Addressed>(devs, 'interfaces').forEach((n, i) => {
    if (wantsPci(n)) assign(n, path('interface', i));
  });
  listOf<Addressed & { target?: { bus?: string } }>(devs, 'disks').forEach((disk, i) => {
    if (disk.target?.bus !== 'virtio') return;
    const a = disk.address;
    if (a?.type === 'pci' && !(num(a.domain) === 0 && num(a.bus) === 0 && num(a.slot) === 0)) return;
    assign(disk, path('disk', i));
  });
  for (const [key, kind] of [['videos', 'video'], ['sounds', 'sound'], ['filesystems', 'filesystem']] as const) {
    listOf<Addressed>(devs, key).forEach((dev, i) => {
      if (wantsPci(dev)) assign(dev, path(kind, i));
    });
  }
});

// ------------------------------------------------------------ validate (bhyveDomainDeviceDefValidate)

const isaIndex: DeviceValidator<BhyveData, 'controller'> = {
  name: 'isa-index',
  kinds: ['controller'],
  check: (c, _def, ctx) => {
    // libvirt fails here without reporting an error: the caller sees its fallback message.
    if (c.type === 'isa' && Number(c.index ?? 0) !== 0) {
      throw new VirtError('INTERNAL_ERROR', 'An error occurred, but the cause is unknown', `${ctx.devicePath ?? '/controller'}/@index`);
    }
  },
};

// ------------------------------------------------------------ define

const nameNewline = domainRule<BhyveData>('name-chars', 'bhyveDomainDefineXMLFlags: virXMLCheckIllegalChars on the name', (d) => {
  if (d.name?.includes('\n')) throw new VirtError('XML_DETAIL', 'invalid char in name: \n', '/domain/name');
});

/** A bhyve driver; `bhyveDriver` is the one with libvirt's defaults on a current FreeBSD. */
export function makeBhyveDriver(opts: BhyveDriverOptions = {}): DriverConf<BhyveData> {
  const build = opts.buildCaps ?? ((arch: string) => bhyveCaps(arch));
  const ahci32slot = opts.ahci32slot ?? true;
  return {
    name: 'bhyve',
    domainTypes: ['bhyve'],
    features: ['FW_AUTOSELECT'],
    // Its define API parses with VIR_DOMAIN_DEF_PARSE_INACTIVE only (no ABI_UPDATE).
    parseFlags: { abiUpdate: false },
    createData: (caps) => ({ caps: capsFor(caps, 'bhyve', build), ahci32slot }),
    domainPostParseBasic: domainRules([commandline]),
    domainPostParse: domainRules([capsCheck, pciRoot, isaController]),
    devicePostParse: deviceRules<BhyveData>([diskAddress, rootIndex, videoModel, nmdmPaths]),
    assignAddresses: domainRules([pciSlots]),
    deviceValidate: deviceValidators([isaIndex]),
    // The define API assigns the addresses a second time: everything is addressed by then, so nothing changes.
    define: domainRules([nameNewline, pciSlots]),
  };
}

export const bhyveDriver: DriverConf<BhyveData> = makeBhyveDriver();
