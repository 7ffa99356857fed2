/**
 * virtio-serial port assignment (qemuDomainAssignVirtioSerialAddresses with
 * domain_addr.c's virtio-serial address set): virtio consoles and channels
 * get a port on a virtio-serial controller; a controller is added when all
 * are full.
 */
import { VirtError } from '../../errors.ts';
import { domainRule, type DomainRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { devicePath, devs, num, walkDevices, type Address, type Dev, type DomainDraft } from './addresses-common.ts';

/** VIR_DOMAIN_DEFAULT_VIRTIO_SERIAL_PORTS */
const DEFAULT_PORTS = 31;

interface SerialController {
  readonly idx: number;
  /** Port bitmap: ports[i] is true when port i is taken. */
  readonly ports: boolean[];
}

/** The address set: controllers sorted by index. */
class VirtioSerialSet {
  readonly controllers: SerialController[] = [];

  add(cont: Dev, path: string): void {
    if (cont.type !== 'virtio-serial') return;
    const idx = num(cont.index) ?? 0;
    const n = num(cont.ports) ?? DEFAULT_PORTS;
    const c: SerialController = { idx, ports: new Array<boolean>(n).fill(false) };
    let at = this.controllers.length;
    for (let i = 0; i < this.controllers.length; i++) {
      if (this.controllers[i]!.idx === idx) {
        throw new VirtError('INTERNAL_ERROR', `virtio serial controller with index ${idx} already exists in the address set`, path);
      }
      if (this.controllers[i]!.idx > idx) {
        at = i;
        break;
      }
    }
    this.controllers.splice(at, 0, c);
  }

  find(idx: number): SerialController | undefined {
    return this.controllers.find((c) => c.idx === idx);
  }

  /** virDomainVirtioSerialAddrReserve for a complete address. */
  reserve(controller: number, port: number, path: string): void {
    const c = this.find(controller);
    if (!c) throw new VirtError('XML_ERROR', `virtio serial controller ${controller} is missing`, path);
    if (port >= c.ports.length) throw new VirtError('XML_ERROR', `virtio serial controller ${controller} does not have port ${port}`, path);
    if (c.ports[port]) throw new VirtError('XML_ERROR', `virtio serial port ${port} on controller ${controller} is already occupied`, path);
    c.ports[port] = true;
  }
}

/** The lowest clear bit strictly after `after` (virBitmapNextClearBit), or -1. */
function nextClear(ports: readonly boolean[], after: number): number {
  for (let i = after + 1; i < ports.length; i++) if (!ports[i]) return i;
  return -1;
}

/** virDomainVirtioSerialAddrIsComplete */
function isComplete(a: Address | undefined): boolean {
  return a?.type === 'virtio-serial' && (num(a.port) ?? 0) !== 0;
}

/** The canonical form libvirt writes: controller, bus and port in decimal. */
function serialAddress(controller: number, bus: number, port: number): Address {
  return { type: 'virtio-serial', controller: String(controller), bus: String(bus), port: String(port) };
}

/**
 * virDomainVirtioSerialAddrNext: the first free port on the first
 * controller that has one (port 0 only for consoles); else a new
 * controller at the lowest unused index.
 */
function nextAddr(def: DomainDraft, set: VirtioSerialSet, allowZero: boolean, path: string): { controller: number; port: number } {
  const startPort = allowZero ? -1 : 0;
  if (set.controllers.length === 0) throw new VirtError('INTERNAL_ERROR', 'no virtio-serial controllers are available', path);
  for (const c of set.controllers) {
    const port = nextClear(c.ports, startPort);
    if (port >= 0) return { controller: c.idx, port };
  }
  const controllers = devs(def, 'controllers');
  for (let i = 0; ; i++) {
    if (controllers.some((c) => c.type === 'virtio-serial' && (num(c.index) ?? 0) === i)) continue;
    // virDomainDefMaybeAddController: appended, no model, no ports.
    const cont: Dev = { type: 'virtio-serial', index: String(i) };
    if (!def.devices) (def as { devices: unknown }).devices = {};
    const list = ((def.devices as Record<string, unknown>).controllers ??= []) as Dev[];
    list.push(cont);
    set.add(cont, devicePath('controller', list.length - 1));
    return { controller: i, port: startPort + 1 };
  }
}

/** virDomainVirtioSerialAddrNextFromController: the lowest free port ≥ 1 on a named controller. */
function nextFromController(set: VirtioSerialSet, controller: number, path: string): number {
  const c = set.find(controller);
  if (!c) throw new VirtError('INTERNAL_ERROR', `virtio-serial controller ${controller} not available`, path);
  const port = nextClear(c.ports, 0);
  if (port <= 0) throw new VirtError('XML_ERROR', `Unable to find a free port on virtio-serial controller ${controller}`, path);
  return port;
}

export function assignVirtioSerialAddresses(def: DomainDraft): void {
  const set = new VirtioSerialSet();
  for (let i = 0, list = devs(def, 'controllers'), n = list.length; i < n; i++) {
    const c = list[i]!;
    set.add(c, devicePath('controller', i));
  }
  for (const ref of walkDevices(def)) {
    const a = ref.dev.address;
    if (!isComplete(a)) continue;
    set.reserve(num(a!.controller) ?? 0, num(a!.port) ?? 0, `${ref.path}/address`);
  }

  // Consoles: a port is taken on a scratch copy; the console keeps no address.
  for (let i = 0, list = devs(def, 'consoles'), n = list.length; i < n; i++) {
    const con = list[i]!;
    if (con.target?.type !== 'virtio' || isComplete(con.address)) continue;
    const path = devicePath('console', i);
    if (con.address?.type === 'virtio-serial') {
      // portOnly on the scratch copy, whose controller is 0.
      const port = nextFromController(set, 0, path);
      set.reserve(0, port, path);
    } else {
      const { controller, port } = nextAddr(def, set, true, path);
      set.reserve(controller, port, path);
    }
  }

  for (let i = 0, list = devs(def, 'channels'), n = list.length; i < n; i++) {
    const ch = list[i]!;
    if (ch.target?.type !== 'virtio' || isComplete(ch.address)) continue;
    const path = devicePath('channel', i);
    let controller: number;
    let port: number;
    if (ch.address?.type === 'virtio-serial') {
      controller = num(ch.address.controller) ?? 0;
      port = nextFromController(set, controller, path);
    } else {
      ({ controller, port } = nextAddr(def, set, false, path));
    }
    ch.address = serialAddress(controller, 0, port);
    set.reserve(controller, port, `${path}/address`);
  }
}

export const virtioSerialRules: DomainRule<QemuData>[] = [
  domainRule(
    'virtio-serial-ports',
    'each virtio channel needs a port on a virtio-serial controller (libvirt takes the lowest free port, adding a controller when all are full)',
    (def) => assignVirtioSerialAddresses(def),
  ),
];
