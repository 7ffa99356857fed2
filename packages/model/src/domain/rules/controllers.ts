/**
 * <controller> as libvirt's generic layer reads and completes it: type and
 * model (virDomainControllerDefParseXML), the USB sanity checks and the
 * parse-time order (virDomainDefControllersParse,
 * virDomainControllerInsertPreAlloced), index assignment
 * (virDomainAssignControllerIndexes), the iothread check
 * (virDomainControllerDefPostParse), duplicate indexes
 * (virDomainDefRejectDuplicateControllers) and the implicit controllers
 * (virDomainDefAddImplicitControllers) with the CCID addresses of smartcards.
 */
import { VirtError } from '../../errors.ts';
import type { DomainDraft } from '../types.ts';
import { deviceList, devicePath, parseInt32, parseUInt32 } from './generic-helpers.ts';
import type { ParseRule } from './index.ts';

/** virDomainControllerType, in enum order. */
export const CONTROLLER_TYPES = ['ide', 'fdc', 'scsi', 'sata', 'virtio-serial', 'ccid', 'usb', 'pci', 'xenbus', 'isa'] as const;
/** Models per controller type, in libvirt's enum order; a type not listed takes no model. */
const MODELS: Record<string, readonly string[]> = {
  scsi: ['auto', 'buslogic', 'lsilogic', 'lsisas1068', 'vmpvscsi', 'ibmvscsi', 'virtio-scsi', 'lsisas1078', 'virtio-transitional', 'virtio-non-transitional', 'ncr53c90', 'dc390', 'am53c974'],
  usb: ['piix3-uhci', 'piix4-uhci', 'ehci', 'ich9-ehci1', 'ich9-uhci1', 'ich9-uhci2', 'ich9-uhci3', 'vt82c686b-uhci', 'pci-ohci', 'nec-xhci', 'qusb1', 'qusb2', 'qemu-xhci', 'none'],
  pci: ['pci-root', 'pcie-root', 'pci-bridge', 'dmi-to-pci-bridge', 'pcie-to-pci-bridge', 'pcie-root-port', 'pcie-switch-upstream-port', 'pcie-switch-downstream-port', 'pci-expander-bus', 'pcie-expander-bus'],
  ide: ['piix3', 'piix4', 'ich6'],
  'virtio-serial': ['virtio', 'virtio-transitional', 'virtio-non-transitional'],
  isa: [],
};
const USB2 = ['ich9-ehci1', 'ich9-uhci1', 'ich9-uhci2', 'ich9-uhci3'];
const UHCI_MASTER_PORT: Record<string, string> = { 'ich9-uhci1': '0', 'ich9-uhci2': '2', 'ich9-uhci3': '4' };
/** The SCSI model enum values (virtio-scsi, virtio-transitional, virtio-non-transitional) that may have an iothread. */
const IOTHREAD_MODEL_VALUES = [6, 8, 9];

interface Controller {
  type?: string;
  index?: string;
  model?: string;
  driver?: { iothread?: string };
  master?: { startport?: string };
  boot?: unknown;
  alias?: unknown;
  rom?: unknown;
  acpi?: unknown;
  address?: unknown;
}
interface Addressed {
  address?: { type?: string; controller?: string; slot?: string; bus?: string; target?: string; unit?: string };
}

/** A controller's index as a number, -1 when unset. */
function idx(c: Controller): number {
  return c.index === undefined ? -1 : Number(c.index);
}

function controllers(def: DomainDraft): Controller[] {
  return deviceList<Controller>(def, 'controllers');
}

/** virDomainControllerModelTypeFromString, read right after the type (virDomainControllerDefParseXML). */
export function checkControllerModel(type: string, model: string | undefined, path: string): void {
  if (model !== undefined && !(MODELS[type] ?? []).includes(model)) throw new VirtError('CONFIG_UNSUPPORTED', `Unknown model type '${model}'`, `${path}/@model`);
}

/**
 * virDomainControllerDefParseXML: the type (ide when absent), the model
 * (one of its type's), the index written back as a number, and the master
 * port of ich9 UHCI companions. The syntax checks of type and index are
 * device-kinds-parse.ts's (run by device-parse.ts in libvirt's device order).
 */
export const controllerDefaults: ParseRule = (def, ctx) => {
  controllers(def).forEach((c, i) => {
    const path = devicePath(ctx, 'controller', i);
    c.type ??= 'ide';
    if (!(CONTROLLER_TYPES as readonly string[]).includes(c.type)) return;
    checkControllerModel(c.type, c.model, path);
    const n = parseInt32(c.index);
    if (n !== undefined && n >= 0) c.index = String(n);
    if (c.type === 'usb' && c.model === 'none') {
      // A disabled USB bus has no device info: libvirt ignores it.
      for (const k of ['boot', 'alias', 'master', 'rom', 'acpi', 'address'] as const) delete c[k];
    }
    const masterPort = c.type === 'usb' && c.model !== undefined ? UHCI_MASTER_PORT[c.model] : undefined;
    if (masterPort !== undefined && c.master === undefined) c.master = { startport: masterPort };
    // virDomainControllerDefPostParse: only (the enum values of) virtio SCSI models take an iothread.
    const iothread = parseUInt32(c.driver?.iothread);
    if (iothread) {
      const value = c.model === undefined ? -1 : (MODELS[c.type] ?? []).indexOf(c.model);
      if (!IOTHREAD_MODEL_VALUES.includes(value)) throw new VirtError('XML_ERROR', "'iothread' attribute only supported for virtio scsi controllers", `${path}/driver/@iothread`);
    }
  });
};

/**
 * virDomainControllerInsertPreAlloced over a whole list: libvirt's order —
 * grouped by type in order of first appearance, sorted by index within a
 * type, a master before its companions of the same index, an index-less
 * controller after its type's last.
 *
 * libvirt scans the whole list backwards for each controller; its result is
 * the first controller of the type that must come after the new one (a
 * higher index, or a companion of the same index when the new one is not),
 * else the end of the type's group. Kept per type, with the highest index and
 * the indexes of companions, the usual case (indexes in increasing order)
 * needs no scan at all: a domain with thousands of implicit controllers is
 * read in linear time.
 */
function sortControllers(list: Controller[]): void {
  interface Group {
    readonly items: Controller[];
    max: number;
    masters: Set<number> | undefined;
  }
  const groups = new Map<string | undefined, Group>();
  for (const c of list) {
    const i = idx(c);
    let g = groups.get(c.type);
    if (g === undefined) groups.set(c.type, (g = { items: [], max: -Infinity, masters: undefined }));
    const items = g.items;
    let at = items.length;
    if (i !== -1 && !(i >= g.max && (c.master !== undefined || g.masters?.has(i) !== true))) {
      for (let k = 0; k < items.length; k++) {
        const cur = items[k]!;
        const ci = idx(cur);
        if (ci > i || (c.master === undefined && cur.master !== undefined && ci === i)) {
          at = k;
          break;
        }
      }
    }
    if (at === items.length) items.push(c);
    else items.splice(at, 0, c);
    if (i > g.max) g.max = i;
    if (c.master !== undefined) (g.masters ??= new Set()).add(i);
  }
  list.length = 0;
  for (const g of groups.values()) for (const c of g.items) list.push(c);
}

/**
 * virDomainDefControllersParse: controllers are kept in libvirt's insertion
 * order (see sortControllers). The USB sanity checks made there are
 * device-kinds-parse.ts's (usbControllerSanity).
 */
export const controllerOrder: ParseRule = (def) => sortControllers(controllers(def));

/** The lowest index >= 0 no controller of `type` uses. */
/** The lowest index no controller of the type uses; `used` holds the indexes in use per type. */
function unusedIndex(used: Map<string, Set<number>>, type: string): number {
  const set = used.get(type);
  let n = 0;
  while (set?.has(n)) n++;
  return n;
}

/**
 * virDomainAssignControllerIndexes: every index-less controller gets one
 * (USB2 companions share their group's), where it stands: libvirt moves it
 * among its type by index only when it next reads its own XML.
 */
export const controllerIndexes: ParseRule = (def) => {
  const list = controllers(def);
  if (list.every((c) => c.index !== undefined)) return;
  // Indexes in use per type, kept up to date as indexes are given: large PCI topologies have hundreds of controllers.
  const used = new Map<string, Set<number>>();
  const use = (type: string, n: number) => (used.get(type) ?? used.set(type, new Set()).get(type)!).add(n);
  for (const c of list) if (c.index !== undefined) use(c.type!, idx(c));
  list.forEach((c, outer) => {
    if (c.index !== undefined) return;
    let prev: Controller | undefined;
    if (outer > 0 && c.type === 'usb' && USB2.includes(c.model ?? '')) {
      for (let k = outer - 1; k >= 0; k--) {
        if (list[k]!.type === 'usb') {
          prev = list[k];
          break;
        }
      }
      if (prev && !USB2.includes(prev.model ?? '')) prev = undefined;
      if (prev && list.some((o) => o.type === 'usb' && idx(o) === idx(prev!) && o.model === c.model)) prev = undefined;
    }
    const n = prev ? idx(prev) : unusedIndex(used, c.type!);
    c.index = String(n);
    use(c.type!, n);
  });
};

/** virDomainDefRejectDuplicateControllers: no two controllers of a type (but usb) share an index. */
export const duplicateControllers: ParseRule = (def) => {
  const seen = new Set<string>();
  controllers(def).forEach((c, i) => {
    if (c.type === 'usb') return;
    const key = `${c.type}/${idx(c)}`;
    if (seen.has(key)) throw new VirtError('XML_ERROR', `Multiple '${c.type}' controllers with index '${idx(c)}'`, `/domain/devices/controller[${i + 1}]/@index`);
    seen.add(key);
  });
};

/**
 * virDomainDefMaybeAddController: adds <controller type index [model]> unless
 * that index of the type exists. libvirt appends it (it lands in its type's
 * place by index only when libvirt next reads its own XML). The indexes in
 * use are kept in a set for the whole pass: a disk name can ask for
 * thousands of controllers, and looking through the list for each was
 * quadratic.
 */
function controllerAdder(def: DomainDraft): (type: string, index: number, model?: string) => void {
  // Made on first use: the list is a draft under immer, and when it is first
  // touched decides the order of the changes recorded (provenance).
  let list: Controller[] | undefined;
  const have = new Set<string>();
  return (type, index, model) => {
    if (list === undefined) {
      list = controllers(def);
      for (const c of list) have.add(`${c.type}/${idx(c)}`);
    }
    const key = `${type}/${index}`;
    if (have.has(key)) return;
    have.add(key);
    const c: Controller = { type, index: String(index) };
    if (model !== undefined) c.model = model;
    list.push(c);
    const devices = (def.devices ??= {}) as Record<string, unknown>;
    devices['controllers'] = list;
  };
}

/**
 * The drive address controller number of a device, if it has a drive address,
 * as libvirt compares it when adding controllers up to the highest one:
 * `(int)controller > maxController`, so one past INT_MAX is negative and adds
 * none (where counting up to it would never end).
 */
function driveController(d: Addressed): number | undefined {
  if (d.address?.type !== 'drive') return undefined;
  const n = parseUInt32(d.address.controller) ?? 0;
  return n > 0x7fffffff ? n - 0x100000000 : n;
}

/** The `controller` of an address of `type`, 0 when the attribute is absent. */
function addressController(d: Addressed, type: string): number | undefined {
  if (d.address?.type !== type) return undefined;
  return parseUInt32(d.address.controller) ?? 0;
}

/**
 * virDomainDefAddImplicitControllers: controllers the devices need, appended
 * in this order — SCSI, FDC, IDE and SATA up to the highest controller a
 * disk's drive address names; virtio-serial for virtio channels and
 * consoles; CCID for smartcards (an address-less smartcard takes the next
 * slot of CCID controller 0); SCSI for SCSI host devices.
 */
export const implicitControllers: ParseRule = (def) => {
  const maybeAdd = controllerAdder(def);
  const disks = deviceList<Addressed & { target?: { bus?: string } }>(def, 'disks');
  for (const [type, bus] of [['scsi', 'scsi'], ['fdc', 'fdc'], ['ide', 'ide'], ['sata', 'sata']] as const) {
    let max = -1;
    for (const d of disks) {
      const n = d.target?.bus === bus ? driveController(d) : undefined;
      if (n !== undefined && n > max) max = n;
    }
    for (let n = 0; n <= max; n++) maybeAdd(type, n);
  }
  for (const key of ['channels', 'consoles']) {
    for (const c of deviceList<Addressed & { target?: { type?: string } }>(def, key)) {
      if (c.target?.type !== 'virtio') continue;
      maybeAdd('virtio-serial', addressController(c, 'virtio-serial') ?? 0);
    }
  }
  const cards = deviceList<Addressed>(def, 'smartcards');
  for (const sc of cards) {
    let n = 0;
    if (sc.address?.type === 'ccid') n = addressController(sc, 'ccid')!;
    else if (sc.address === undefined || sc.address.type === undefined) {
      let max = -1;
      for (const o of cards) {
        if (o.address?.type === 'ccid' && (parseUInt32(o.address.controller) ?? 0) === 0) max = Math.max(max, parseUInt32(o.address.slot) ?? 0);
      }
      sc.address = { type: 'ccid', controller: '0', slot: String(max + 1) };
    }
    maybeAdd('ccid', n);
  }
  let max = -1;
  let model: string | undefined;
  for (const h of deviceList<Addressed & { mode?: string; type?: string }>(def, 'hostdevs')) {
    if ((h.mode ?? 'subsystem') !== 'subsystem' || h.type !== 'scsi') continue;
    const n = driveController(h);
    if (n === undefined || n <= max) continue;
    max = n;
    const cont = controllers(def).find((c) => c.type === 'scsi' && idx(c) === n);
    if (cont?.model !== undefined) model = cont.model;
  }
  for (let n = 0; n <= max; n++) maybeAdd('scsi', n, model);
};
