/**
 * USB port assignment (qemuDomainAssignUSBAddresses with domain_addr.c's USB
 * address set): every USB device gets a port on a controller's root hub or
 * on a hub behind it; hubs are added when the controllers have too few
 * ports.
 */
import { VirtError } from '../../errors.ts';
import { domainRule, type DomainRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { devicePath, devs, num, type Address, type Dev, type DomainDraft } from './addresses-common.ts';

/** VIR_DOMAIN_USB_HUB_PORTS */
const HUB_PORTS = 8;
/** VIR_DOMAIN_DEVICE_USB_MAX_PORT_DEPTH */
const MAX_DEPTH = 4;

interface Hub {
  /** Ports in use (port n is index n-1). */
  readonly used: boolean[];
  /** Hubs attached to ports. */
  readonly hubs: Array<Hub | undefined>;
}

function newHub(n: number): Hub {
  return { used: new Array<boolean>(n).fill(false), hubs: new Array<Hub | undefined>(n).fill(undefined) };
}

/** virDomainUSBAddressControllerModelToPorts */
export function usbControllerPorts(c: Dev): number {
  switch (c.model as string | undefined) {
    case undefined:
    case 'piix3-uhci':
    case 'piix4-uhci':
    case 'vt82c686b-uhci':
      return 2;
    case 'ehci':
    case 'ich9-ehci1':
      return 6;
    case 'pci-ohci':
      return 3;
    case 'nec-xhci':
    case 'qemu-xhci':
      return c.ports !== undefined ? (num(c.ports) ?? 4) : 4;
    case 'qusb1':
    case 'qusb2':
      return c.ports !== undefined ? (num(c.ports) ?? 8) : 8;
    default:
      // ich9-uhci1/2/3 (companions of the EHCI1), none
      return 0;
  }
}

/** A USB address's port path: `1.2` → [1, 2, 0, 0]. */
export function portPath(port: string | undefined): number[] {
  const out = [0, 0, 0, 0];
  if (port === undefined) return out;
  port.split('.').forEach((p, i) => {
    if (i < MAX_DEPTH) out[i] = num(p) ?? 0;
  });
  return out;
}

export function portString(path: readonly number[]): string {
  const parts: number[] = [];
  for (const p of path) {
    if (p === 0) break;
    parts.push(p);
  }
  return parts.join('.');
}

/** virDomainUSBAddressPortIsValid */
export function portValid(a: Address | undefined): boolean {
  return portPath(a?.port)[0] !== 0;
}

/** A USB device met in the walk; its path is only spelled out when asked for. */
class UsbRef {
  constructor(
    readonly dev: Dev,
    readonly kind: string,
    readonly index: number,
  ) {}

  get path(): string {
    return devicePath(this.kind, this.index);
  }
}

/** The kinds virDomainUSBDeviceDefForeach visits, with what makes one a USB device. */
const USB_KINDS: ReadonlyArray<readonly [kind: string, key: string, isUsb: (d: Dev) => boolean]> = [
  // A hostdev behind <interface type='hostdev'> comes first, as libvirt lists it first among hostdevs.
  ['interface', 'interfaces', (n) => n.type === 'hostdev' && n.source?.address?.type === 'usb'],
  ['hostdev', 'hostdevs', (h) => h.type === 'usb'],
  ['disk', 'disks', (d) => d.target?.bus === 'usb'],
  ['controller', 'controllers', (c) => c.type === 'ccid'],
  ['input', 'inputs', (d) => d.bus === 'usb'],
  ['serial', 'serials', (s) => s.target?.type === 'usb-serial'],
  ['sound', 'sounds', (s) => s.model === 'usb'],
  ['redirdev', 'redirdevs', (r) => r.bus === 'usb'],
];
const USB_HUBS: (typeof USB_KINDS)[number] = ['hub', 'hubs', (h) => h.type === 'usb'];

function addUsb(out: UsbRef[], def: DomainDraft, [kind, key, isUsb]: (typeof USB_KINDS)[number]): void {
  const list = devs(def, key);
  for (let i = 0; i < list.length; i++) if (isUsb(list[i]!)) out.push(new UsbRef(list[i]!, kind, i));
}

/** The USB devices in virDomainUSBDeviceDefForeach's order. */
function usbDevices(def: DomainDraft, withHubs: boolean): UsbRef[] {
  const out: UsbRef[] = [];
  if (!def.devices) return out;
  if (withHubs) addUsb(out, def, USB_HUBS);
  for (let k = 0; k < USB_KINDS.length; k++) addUsb(out, def, USB_KINDS[k]!);
  return out;
}

class UsbAddressSet {
  readonly buses: Array<Hub | undefined> = [];

  addController(c: Dev, path: string): void {
    const n = usbControllerPorts(c);
    if (n === 0) return;
    const idx = num(c.index) ?? 0;
    if (this.buses.length <= idx) {
      while (this.buses.length <= idx) this.buses.push(undefined);
    } else if (this.buses[idx]) {
      throw new VirtError('XML_ERROR', `Duplicate USB controllers with index ${idx}`, path);
    }
    this.buses[idx] = newHub(n);
  }

  /** virDomainUSBAddressFindPort: the hub holding the addressed port, and the port's position on it. */
  findPort(bus: number, path: readonly number[], portStr: string, at: string): { hub: Hub; port: number } {
    let hub = this.buses[bus];
    if (!hub) throw new VirtError('XML_ERROR', `Missing USB bus ${bus}`, at);
    let last = MAX_DEPTH - 1;
    while (last > 0 && path[last] === 0) last--;
    for (let i = 0; i < last; i++) {
      const idx = path[i]! - 1;
      if (idx < 0 || hub.used.length <= idx) throw new VirtError('XML_ERROR', `port ${path[i]} out of range in USB address bus: ${bus} port: ${portStr}`, at);
      const next: Hub | undefined = hub.hubs[idx];
      if (!next) throw new VirtError('XML_ERROR', `there is no hub at port ${path[i]} in USB address bus: ${bus} port: ${portStr}`, at);
      hub = next;
    }
    const port = path[last]! - 1;
    if (port >= hub.used.length) throw new VirtError('XML_ERROR', `requested USB port ${portStr} not present on USB bus ${bus}`, at);
    return { hub, port };
  }

  /** virDomainUSBAddressSetAddHub: a hub with an address becomes a place for more ports. */
  addHub(hub: Dev, at: string): void {
    const a = hub.address;
    if (a?.type !== 'usb') throw new VirtError('XML_ERROR', 'Wrong address type for USB hub', at);
    const path = portPath(a.port);
    const bus = num(a.bus) ?? 0;
    const portStr = portString(path);
    const t = this.findPort(bus, path, portStr, at);
    if (t.hub.hubs[t.port]) throw new VirtError('XML_ERROR', `Duplicate USB hub on bus ${bus} port ${portStr}`, at);
    t.hub.used[t.port] = true;
    t.hub.hubs[t.port] = newHub(HUB_PORTS);
  }

  /** virDomainUSBAddressReserve */
  reserve(a: Address | undefined, at: string): void {
    if (a?.type !== 'usb' || !portValid(a)) return;
    const path = portPath(a.port);
    const bus = num(a.bus) ?? 0;
    const portStr = portString(path);
    const t = this.findPort(bus, path, portStr, at);
    if (t.hub.used[t.port]) throw new VirtError('XML_ERROR', `Duplicate USB address bus ${bus} port ${portStr}`, at);
    t.hub.used[t.port] = true;
  }

  /** virDomainUSBAddressAssign: the requested bus, or the first bus with a free port. */
  assign(dev: Dev, at: string): void {
    if (dev.address?.type === 'usb') {
      const bus = num(dev.address.bus) ?? 0;
      if (bus >= this.buses.length || !this.buses[bus]) {
        throw new VirtError('XML_ERROR', `USB bus ${bus} requested but no controller with that index is present`, at);
      }
      if (this.assignFromBus(dev, bus, at)) return;
    } else {
      for (let bus = 0; bus < this.buses.length; bus++) if (this.assignFromBus(dev, bus, at)) return;
    }
    throw new VirtError('INTERNAL_ERROR', 'No free USB ports', at);
  }

  private assignFromBus(dev: Dev, bus: number, at: string): boolean {
    const hub = this.buses[bus];
    if (!hub) return false;
    const path = [0, 0, 0, 0];
    if (!findFreePort(hub, path, 0)) return false;
    dev.address = { type: 'usb', bus: String(bus), port: portString(path) };
    this.reserve(dev.address, at);
    return true;
  }
}

/** virDomainUSBAddressFindFreePort: the lowest free port, else depth-first through attached hubs. */
function findFreePort(hub: Hub, path: number[], level: number): boolean {
  const free = hub.used.indexOf(false);
  if (free >= 0) {
    path[level] = free + 1;
    return true;
  }
  if (level >= MAX_DEPTH - 1) return false;
  for (let i = 0; i < hub.hubs.length; i++) {
    const h = hub.hubs[i];
    if (!h) continue;
    if (!findFreePort(h, path, level + 1)) continue;
    path[level] = i + 1;
    return true;
  }
  return false;
}

/** qemuDomainUSBAddressAddHubs: enough hubs for every USB device to find a port. */
function addHubs(def: DomainDraft): void {
  let available = 0;
  for (const c of devs(def, 'controllers')) if (c.type === 'usb') available += usbControllerPorts(c);
  for (const h of devs(def, 'hubs')) if (h.type === 'usb') available += HUB_PORTS;
  const count = usbDevices(def, true).length;
  if (count > 0 && !devs(def, 'controllers').some((c) => c.type === 'usb' && c.model !== 'none')) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'USB is disabled for this domain, but USB devices are present in the domain XML', '/domain/devices');
  }
  if (count <= available) return;
  const needed = Math.ceil((count - available + 1) / (HUB_PORTS - 1));
  if (!def.devices) (def as { devices: unknown }).devices = {};
  const hubs = ((def.devices as Record<string, unknown>).hubs ??= []) as Dev[];
  for (let i = 0; i < needed; i++) hubs.push({ type: 'usb' });
}

/**
 * qemuDomainAssignUSBAddresses. For a new domain (parse flag ABI_UPDATE, as a
 * define sets it) every USB device gets a port; otherwise (a reload, or a
 * parse without the flag) nothing is assigned unless every USB device,
 * hubs included, already has a USB address, so that the topology QEMU's
 * command line recreates is not changed under an existing guest.
 */
export function assignUsbAddresses(def: DomainDraft, newDomain = true): void {
  if (!newDomain && usbDevices(def, true).some((u) => !(u.dev.address?.type === 'usb' && portValid(u.dev.address)))) return;
  addHubs(def);
  const set = new UsbAddressSet();
  for (let i = 0, list = devs(def, 'controllers'), n = list.length; i < n; i++) {
    const c = list[i]!;
    if (c.type === 'usb') set.addController(c, devicePath('controller', i));
  }
  for (let i = 0, list = devs(def, 'hubs'), n = list.length; i < n; i++) {
    const h = list[i]!;
    if (h.type === 'usb' && h.address?.type === 'usb' && portValid(h.address)) set.addHub(h, `${devicePath('hub', i)}/address`);
  }
  for (const u of usbDevices(def, false)) set.reserve(u.dev.address, `${u.path}/address`);

  for (let i = 0, list = devs(def, 'hubs'), n = list.length; i < n; i++) {
    const h = list[i]!;
    if (h.type !== 'usb') continue;
    if (h.address?.type === 'usb' && portValid(h.address)) continue;
    const path = devicePath('hub', i);
    set.assign(h, path);
    set.addHub(h, `${path}/address`);
  }
  for (const u of usbDevices(def, false)) {
    const t = u.dev.address?.type ?? 'none';
    if (t !== 'none' && t !== 'usb') continue;
    if (t === 'usb' && portValid(u.dev.address)) continue;
    set.assign(u.dev, u.path);
  }
}

export const usbRules: DomainRule<QemuData>[] = [
  domainRule(
    'usb-ports',
    'each USB device needs a port: libvirt takes the lowest free port of the first USB controller, adding hubs when the controllers have too few',
    (def, ctx) => assignUsbAddresses(def, ctx.flags.abiUpdate),
  ),
];
