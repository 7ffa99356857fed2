/**
 * PCI address assignment (qemuDomainAssignPCIAddresses with domain_addr.c's
 * PCI address set), for i440fx (pci-root) and q35 (pcie-root) guests.
 *
 * Two passes, as libvirt does. The dry run collects the addresses the XML
 * gives, places the chipset devices and then every device wanting a slot,
 * growing the set of buses whenever nothing fits; the buses it grew become
 * new <controller type='pci'> elements. The real pass starts again with all
 * controllers present, places PCI controllers first, then the endpoints,
 * sets multifunction='on' where a slot has several functions, and fills the
 * controllers' <model name> and <target> defaults.
 */
import { VirtError, type ErrorCode } from '../../errors.ts';
import { domainRule, type DomainRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import {
  addressCaps,
  archOf,
  devicePath,
  devs,
  hex,
  isI440FX,
  isQ35,
  num,
  single,
  walkDevices,
  type AddressCaps,
  type Address,
  type Dev,
  type DevRef,
  type DomainDraft,
} from './addresses-common.ts';

// ------------------------------------------------------------ connect flags

/** virDomainPCIConnectFlags */
export const PCI = {
  AUTOASSIGN: 1 << 0,
  HOTPLUGGABLE: 1 << 1,
  INTEGRATED: 1 << 2,
  AGGREGATE_SLOT: 1 << 3,
  PCI_DEVICE: 1 << 4,
  PCIE_DEVICE: 1 << 5,
  PCIE_ROOT_PORT: 1 << 6,
  PCIE_SWITCH_UPSTREAM_PORT: 1 << 7,
  PCIE_SWITCH_DOWNSTREAM_PORT: 1 << 8,
  DMI_TO_PCI_BRIDGE: 1 << 9,
  PCI_EXPANDER_BUS: 1 << 10,
  PCIE_EXPANDER_BUS: 1 << 11,
  PCI_BRIDGE: 1 << 12,
  PCIE_TO_PCI_BRIDGE: 1 << 13,
} as const;

const TYPES_MASK =
  PCI.PCI_DEVICE |
  PCI.PCIE_DEVICE |
  PCI.PCIE_SWITCH_UPSTREAM_PORT |
  PCI.PCIE_SWITCH_DOWNSTREAM_PORT |
  PCI.PCIE_ROOT_PORT |
  PCI.DMI_TO_PCI_BRIDGE |
  PCI.PCI_EXPANDER_BUS |
  PCI.PCIE_EXPANDER_BUS |
  PCI.PCI_BRIDGE |
  PCI.PCIE_TO_PCI_BRIDGE;
const TYPES_ENDPOINT = PCI.PCI_DEVICE | PCI.PCIE_DEVICE;

/** virDomainPCIControllerModelToConnectType: what a PCI controller needs upstream. */
export function controllerConnectType(model: string | undefined): number {
  switch (model) {
    case 'pci-bridge':
      return PCI.PCI_BRIDGE;
    case 'pci-expander-bus':
      return PCI.PCI_EXPANDER_BUS;
    case 'pcie-expander-bus':
      return PCI.PCIE_EXPANDER_BUS;
    case 'dmi-to-pci-bridge':
      return PCI.DMI_TO_PCI_BRIDGE;
    case 'pcie-to-pci-bridge':
      return PCI.PCIE_TO_PCI_BRIDGE;
    case 'pcie-root-port':
      return PCI.PCIE_ROOT_PORT | PCI.AGGREGATE_SLOT;
    case 'pcie-switch-upstream-port':
      return PCI.PCIE_SWITCH_UPSTREAM_PORT;
    case 'pcie-switch-downstream-port':
      return PCI.PCIE_SWITCH_DOWNSTREAM_PORT;
    default:
      return 0;
  }
}

/** virDomainPCIControllerConnectTypeToModel: the controller a connect type stands for, if any. */
function connectTypeToModel(flags: number): string | undefined {
  if (flags & PCI.PCIE_ROOT_PORT) return 'pcie-root-port';
  if (flags & PCI.PCIE_SWITCH_UPSTREAM_PORT) return 'pcie-switch-upstream-port';
  if (flags & PCI.PCIE_SWITCH_DOWNSTREAM_PORT) return 'pcie-switch-downstream-port';
  if (flags & PCI.DMI_TO_PCI_BRIDGE) return 'dmi-to-pci-bridge';
  if (flags & PCI.PCI_EXPANDER_BUS) return 'pci-expander-bus';
  if (flags & PCI.PCIE_EXPANDER_BUS) return 'pcie-expander-bus';
  if (flags & PCI.PCI_BRIDGE) return 'pci-bridge';
  return undefined;
}

/** libvirt's virDomainNetModel names: any other model string is "unknown". */
const NET_MODELS = new Set([
  'netfront', 'rtl8139', 'virtio', 'e1000', 'e1000e', 'virtio-transitional', 'virtio-non-transitional', 'usb-net', 'spapr-vlan',
  'lan9118', 'scm91c111', 'vlance', 'vmxnet', 'vmxnet2', 'vmxnet3', 'Am79C970A', 'Am79C973', '82540EM', '82545EM', '82543GC',
]);

interface FlagSets {
  readonly pci: number;
  readonly pcie: number;
  readonly virtio: number;
}

/** What a hostdev is, also for the hostdev behind an <interface type='hostdev'>. */
interface HostdevView {
  readonly mode: string;
  readonly type: string | undefined;
  readonly model: string | undefined;
  readonly hasAddress: boolean;
}

function hostdevView(kind: string, dev: Dev): HostdevView | undefined {
  if (kind === 'hostdev') {
    return { mode: dev.mode ?? 'subsystem', type: dev.type, model: dev.model, hasAddress: pciPresent(dev.address) };
  }
  if (kind === 'interface' && dev.type === 'hostdev') {
    const srcType = dev.source?.address?.type as string | undefined;
    return { mode: 'subsystem', type: srcType === 'usb' ? 'usb' : 'pci', model: undefined, hasAddress: pciPresent(dev.address) };
  }
  return undefined;
}

function hostdevFlags(h: HostdevView, f: FlagSets): number {
  if (h.type !== 'mdev' && (h.mode !== 'subsystem' || (h.type !== 'pci' && h.type !== 'scsi_host'))) return 0;
  if (f.pci === f.pcie) return f.pci;
  if (h.hasAddress) return f.pcie;
  if (h.type === 'mdev') return f.pcie;
  if (h.type === 'scsi_host') return h.model === 'virtio-transitional' ? f.pci : f.virtio;
  // libvirt reads the host's sysfs here; without a host, a PCI Express device is assumed (as libvirt does when the device is absent).
  return f.pcie;
}

/** virtio models: transitional ones only work in conventional PCI slots. */
function virtioModel(model: string | undefined, f: FlagSets): number {
  return model === 'virtio-transitional' ? f.pci : f.virtio;
}

/** qemuDomainDeviceCalculatePCIConnectFlags */
export function deviceConnectFlags(kind: string, dev: Dev, f: FlagSets): number {
  switch (kind) {
    case 'controller':
      switch (dev.type) {
        case 'pci':
          return controllerConnectType(dev.model);
        case 'sata':
        case 'ide':
          return f.pci;
        case 'usb':
          switch (dev.model) {
            case 'nec-xhci':
            case 'qemu-xhci':
              return f.pcie;
            case 'none':
            case 'qusb1':
            case 'qusb2':
              return 0;
            default:
              return f.pci;
          }
        case 'scsi':
          switch (dev.model) {
            case undefined:
            case 'ncr53c90':
              return 0;
            case 'virtio-scsi':
            case 'virtio-non-transitional':
              return f.virtio;
            default:
              return f.pci;
          }
        case 'virtio-serial':
          return dev.model === 'virtio-transitional' ? f.pci : f.virtio;
        default:
          return 0;
      }
    case 'filesystem': {
      const driver = dev.driver?.type as string | undefined;
      if (driver === 'virtiofs') return f.virtio;
      if (driver === undefined || driver === 'path' || driver === 'handle') return virtioModel(dev.model, f);
      return 0;
    }
    case 'interface': {
      if (dev.type === 'hostdev') return hostdevFlags(hostdevView(kind, dev)!, f);
      const model = dev.model?.type as string | undefined;
      if (model === 'usb-net') return 0;
      if (model === 'virtio' || model === 'virtio-non-transitional') return f.virtio;
      if (model === 'virtio-transitional') return f.pci;
      if (model === 'e1000e') return f.pcie;
      if (model === undefined || !NET_MODELS.has(model)) return f.pcie;
      return f.pci;
    }
    case 'sound':
      return ['es1370', 'ac97', 'ich6', 'ich9'].includes(dev.model) ? f.pci : 0;
    case 'disk':
      return dev.target?.bus === 'virtio' ? virtioModel(dev.model, f) : 0;
    case 'hostdev':
      return hostdevFlags(hostdevView(kind, dev)!, f);
    case 'memballoon':
      if (dev.model === 'virtio' || dev.model === 'virtio-non-transitional') return f.virtio;
      return dev.model === 'virtio-transitional' ? f.pci : 0;
    case 'rng':
      return virtioModel(dev.model, f);
    case 'watchdog':
      return dev.model === 'i6300esb' ? f.pci : 0;
    case 'video':
      switch (dev.model?.type as string | undefined) {
        case 'virtio':
          return f.virtio;
        case 'vga':
        case 'cirrus':
        case 'vmvga':
        case 'xen':
        case 'vbox':
        case 'qxl':
        case 'parallels':
          return f.pci;
        case 'bochs':
          return f.pcie;
        default:
          return 0;
      }
    case 'shmem':
      return f.pci;
    case 'input':
      return dev.bus === 'virtio' ? virtioModel(dev.model, f) : 0;
    case 'serial':
      return dev.target?.type === 'pci-serial' ? f.pci : 0;
    case 'iommu':
      return dev.model === 'virtio' ? f.virtio | PCI.INTEGRATED : 0;
    case 'vsock':
      if (dev.model === 'virtio' || dev.model === 'virtio-non-transitional') return f.virtio;
      return dev.model === 'virtio-transitional' ? f.pci : 0;
    case 'memory':
      return dev.model === 'virtio-pmem' || dev.model === 'virtio-mem' ? f.virtio : 0;
    default:
      return 0;
  }
}

// ------------------------------------------------------------ addresses

export interface PciAddr {
  domain: number;
  bus: number;
  slot: number;
  function: number;
  /** The multifunction tristate: absent, on or off. */
  multi?: 'on' | 'off';
}

/** libvirt's %04x:%02x:%02x.%d */
export function pciString(a: PciAddr): string {
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.function}`;
}

function readPci(a: Address | undefined): PciAddr {
  if (a === undefined) return { domain: 0, bus: 0, slot: 0, function: 0 };
  const out: PciAddr = { domain: num(a.domain, 0) ?? 0, bus: num(a.bus, 0) ?? 0, slot: num(a.slot, 0) ?? 0, function: num(a.function, 0) ?? 0 };
  const m = a.multifunction;
  if (m === 'on' || m === 'off') out.multi = m;
  return out;
}

/** virPCIDeviceAddressIsEmpty on an <address> as written, without building the address. */
function emptyAt(a: Address): boolean {
  return !((num(a.domain, 0) ?? 0) || (num(a.bus, 0) ?? 0) || (num(a.slot, 0) ?? 0));
}

/** virPCIDeviceAddressIsEmpty: domain, bus and slot all 0. */
function isEmpty(a: PciAddr): boolean {
  return !(a.domain || a.bus || a.slot);
}

/** virDeviceInfoPCIAddressIsPresent */
export function pciPresent(a: Address | undefined): boolean {
  return a?.type === 'pci' && !emptyAt(a);
}

/** virDeviceInfoPCIAddressIsWanted */
export function pciWanted(a: Address | undefined): boolean {
  return a === undefined || a.type === undefined || a.type === 'none' || (a.type === 'pci' && emptyAt(a));
}

/** The address as libvirt writes it: domain='0x0000' bus='0x00' slot='0x01' function='0x0'. */
function formatPci(a: PciAddr, old: Address | undefined): Address {
  const out: Address = { type: 'pci' };
  if (!isEmpty(a)) {
    out.domain = `0x${hex(a.domain, 4)}`;
    out.bus = `0x${hex(a.bus, 2)}`;
    out.slot = `0x${hex(a.slot, 2)}`;
    out.function = `0x${a.function}`;
  }
  if (a.multi) out.multifunction = a.multi;
  if (old?.zpci) out.zpci = old.zpci;
  return out;
}

function writePci(dev: Dev, a: PciAddr): void {
  dev.address = formatPci(a, dev.address);
}

/** Rewrites a PCI address in libvirt's canonical form, leaving equal strings alone. */
export function canonicalisePci(dev: Dev): void {
  const old = dev.address!;
  const next = formatPci(readPci(old), old);
  for (const k of ['domain', 'bus', 'slot', 'function', 'multifunction'] as const) {
    if (old[k] !== next[k]) {
      if (next[k] === undefined) delete old[k];
      else old[k] = next[k];
    }
  }
}

// ------------------------------------------------------------ the address set

interface Bus {
  model: string;
  flags: number;
  minSlot: number;
  maxSlot: number;
  /** Per slot: bitmap of the functions in use. */
  functions: number[];
  /** Bitmap of the slots root ports may share (aggregate slots). */
  aggregate: number;
}

const SLOT_LAST = 31;
const FUNCTION_LAST = 7;

const NO_FUNCTIONS: readonly number[] = new Array<number>(SLOT_LAST + 1).fill(0);

function newBus(): Bus {
  return { model: '', flags: 0, minSlot: 0, maxSlot: 0, functions: NO_FUNCTIONS.slice(), aggregate: 0 };
}

/** A failure of the address set, reported with the device's path by the caller. */
class PciError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** virDomainPCIAddressBusSetModel: what can be plugged into a bus of this model. */
function setBusModel(bus: Bus, model: string, hotplug: boolean): void {
  const hp = hotplug ? PCI.HOTPLUGGABLE : 0;
  switch (model) {
    case 'pci-root':
      bus.flags = PCI.AUTOASSIGN | PCI.PCI_DEVICE | PCI.PCI_BRIDGE | PCI.PCI_EXPANDER_BUS | hp;
      bus.minSlot = 1;
      bus.maxSlot = SLOT_LAST;
      break;
    case 'pci-bridge':
      bus.flags = PCI.AUTOASSIGN | PCI.PCI_DEVICE | PCI.PCI_BRIDGE | hp;
      bus.minSlot = 1;
      bus.maxSlot = SLOT_LAST;
      break;
    case 'pci-expander-bus':
      bus.flags = PCI.AUTOASSIGN | PCI.PCI_DEVICE | PCI.PCI_BRIDGE | hp;
      bus.minSlot = 0;
      bus.maxSlot = SLOT_LAST;
      break;
    case 'pcie-root':
      bus.flags = PCI.PCIE_DEVICE | PCI.PCIE_ROOT_PORT | PCI.DMI_TO_PCI_BRIDGE | PCI.PCIE_EXPANDER_BUS;
      bus.minSlot = 1;
      bus.maxSlot = SLOT_LAST;
      break;
    case 'dmi-to-pci-bridge':
      bus.flags = PCI.PCI_DEVICE | PCI.PCI_BRIDGE;
      bus.minSlot = 0;
      bus.maxSlot = SLOT_LAST;
      break;
    case 'pcie-to-pci-bridge':
      bus.flags = PCI.AUTOASSIGN | PCI.PCI_DEVICE | PCI.PCI_BRIDGE | hp;
      bus.minSlot = 1;
      bus.maxSlot = SLOT_LAST;
      break;
    case 'pcie-root-port':
    case 'pcie-switch-downstream-port':
      bus.flags = PCI.AUTOASSIGN | PCI.PCIE_DEVICE | PCI.PCIE_SWITCH_UPSTREAM_PORT | PCI.PCIE_TO_PCI_BRIDGE | hp;
      bus.minSlot = 0;
      bus.maxSlot = 0;
      break;
    case 'pcie-switch-upstream-port':
      bus.flags = PCI.PCIE_SWITCH_DOWNSTREAM_PORT;
      bus.minSlot = 0;
      bus.maxSlot = SLOT_LAST;
      break;
    case 'pcie-expander-bus':
      bus.flags = PCI.PCIE_ROOT_PORT | PCI.DMI_TO_PCI_BRIDGE;
      bus.minSlot = 0;
      bus.maxSlot = SLOT_LAST;
      break;
    default:
      throw new PciError('INTERNAL_ERROR', 'PCI controller model was not set correctly');
  }
  bus.model = model;
}

/**
 * virDomainPCIAddressFlagsCompatible's verdict alone: whether a device with
 * `devFlags` fits a bus with `busFlags` at bus number `bus` (the slot search
 * asks this for every bus; the error is only built when one is reported).
 */
function flagsFit(bus: number, busFlags: number, devFlags: number, fromConfig: boolean): boolean {
  if (devFlags & PCI.INTEGRATED) {
    if (bus !== 0) return false;
    busFlags |= PCI.AUTOASSIGN;
  }
  if (fromConfig) {
    if (busFlags & TYPES_ENDPOINT) busFlags |= TYPES_ENDPOINT;
    if (devFlags & PCI.PCI_BRIDGE) devFlags |= PCI.PCI_DEVICE;
  } else if (devFlags & PCI.AUTOASSIGN && !(busFlags & PCI.AUTOASSIGN)) {
    return false;
  }
  if (devFlags & PCI.HOTPLUGGABLE && !(busFlags & PCI.HOTPLUGGABLE)) return false;
  return (devFlags & busFlags & TYPES_MASK) !== 0;
}

/** virDomainPCIAddressFlagsCompatible: null when it fits, else the error libvirt reports. */
function flagsCompatible(addr: PciAddr, busFlags: number, devFlags: number, fromConfig: boolean): PciError | null {
  if (flagsFit(addr.bus, busFlags, devFlags, fromConfig)) return null;
  const errType: ErrorCode = fromConfig ? 'XML_ERROR' : 'INTERNAL_ERROR';
  const addrStr = pciString(addr);
  if (devFlags & PCI.INTEGRATED) {
    if (addr.bus === 0) busFlags |= PCI.AUTOASSIGN;
    else return new PciError(errType, `The device at PCI address ${addrStr} needs to be an integrated device (bus=0)`);
  }
  if (fromConfig) {
    if (busFlags & TYPES_ENDPOINT) busFlags |= TYPES_ENDPOINT;
    if (devFlags & PCI.PCI_BRIDGE) devFlags |= PCI.PCI_DEVICE;
  } else if (devFlags & PCI.AUTOASSIGN && !(busFlags & PCI.AUTOASSIGN)) {
    return new PciError(errType, `The device at PCI address ${addrStr} was auto-assigned this address, but the PCI controller with index='${addr.bus}' doesn't allow auto-assignment`);
  }
  if (devFlags & PCI.HOTPLUGGABLE && !(busFlags & PCI.HOTPLUGGABLE)) {
    return new PciError(errType, `The device at PCI address ${addrStr} requires hotplug capability, but the PCI controller with index='${addr.bus}' doesn't support hotplug`);
  }
  if (!(devFlags & busFlags & TYPES_MASK)) {
    const kinds: Array<[number, string]> = [
      [PCI.PCI_DEVICE, 'standard PCI device'],
      [PCI.PCIE_DEVICE, 'PCI Express device'],
      [PCI.PCIE_ROOT_PORT, 'pcie-root-port'],
      [PCI.PCIE_SWITCH_UPSTREAM_PORT, 'pcie-switch-upstream-port'],
      [PCI.PCIE_SWITCH_DOWNSTREAM_PORT, 'pcie-switch-downstream-port'],
      [PCI.DMI_TO_PCI_BRIDGE, 'dmi-to-pci-bridge'],
      [PCI.PCIE_TO_PCI_BRIDGE, 'pcie-to-pci-bridge'],
      [PCI.PCI_EXPANDER_BUS, 'pci-expander-bus'],
      [PCI.PCIE_EXPANDER_BUS, 'pcie-expander-bus'],
      [PCI.PCI_BRIDGE, 'pci-bridge'],
    ];
    const k = kinds.find(([bit]) => devFlags & bit);
    if (!k) {
      return new PciError(errType, `The device at PCI address ${addrStr} has unrecognized connection type flags 0x${hex(devFlags & TYPES_MASK, 2)}`);
    }
    return new PciError(errType, `The device at PCI address ${addrStr} cannot be plugged into the PCI controller with index='${addr.bus}'. It requires a controller that accepts a ${k[1]}.`);
  }
  return null;
}

export class PciAddressSet {
  readonly buses: Bus[];

  constructor(
    nbuses: number,
    readonly dryRun: boolean,
    readonly pcieToPciBridgeSupported: boolean,
  ) {
    this.buses = [];
    for (let i = 0; i < nbuses; i++) this.buses.push(newBus());
  }

  /** virDomainPCIAddressValidate; throws PciError. */
  validate(addr: PciAddr, flags: number, fromConfig: boolean): void {
    const bus = addr.domain === 0 ? this.buses[addr.bus] : undefined;
    if (
      bus !== undefined &&
      flagsFit(addr.bus, bus.flags, flags, fromConfig) &&
      !(bus.minSlot && addr.slot < bus.minSlot) &&
      addr.slot <= bus.maxSlot &&
      addr.function <= FUNCTION_LAST
    ) {
      return;
    }
    this.invalid(addr, flags, fromConfig);
  }

  /** Why validate() refused an address, in libvirt's words and order. */
  private invalid(addr: PciAddr, flags: number, fromConfig: boolean): void {
    const errType: ErrorCode = fromConfig ? 'XML_ERROR' : 'INTERNAL_ERROR';
    const addrStr = pciString(addr);
    if (this.buses.length === 0) throw new PciError(errType, 'No PCI buses available');
    if (addr.domain !== 0) throw new PciError(errType, `Invalid PCI address ${addrStr}. Only PCI domain 0 is available`);
    if (addr.bus >= this.buses.length) throw new PciError(errType, `Invalid PCI address ${addrStr}. Only PCI buses up to ${this.buses.length - 1} are available`);
    const bus = this.buses[addr.bus]!;
    const e = flagsCompatible(addr, bus.flags, flags, fromConfig);
    if (e) throw e;
    if (bus.minSlot && addr.slot < bus.minSlot) throw new PciError(errType, `Invalid PCI address ${addrStr}. slot must be >= ${bus.minSlot}`);
    if (addr.slot > bus.maxSlot) throw new PciError(errType, `Invalid PCI address ${addrStr}. slot must be <= ${bus.maxSlot}`);
    if (addr.function > FUNCTION_LAST) throw new PciError(errType, `Invalid PCI address ${addrStr}. function must be <= ${FUNCTION_LAST}`);
  }

  /** virDomainPCIAddressSlotInUse */
  slotInUse(addr: PciAddr): boolean {
    // A missing bus counts as free: reserving there then reports the missing bus as libvirt words it.
    return (this.buses[addr.bus]?.functions[addr.slot] ?? 0) !== 0;
  }

  fullyReserved(bus: Bus): boolean {
    for (let i = bus.minSlot; i <= bus.maxSlot; i++) if (!bus.functions[i]) return false;
    return true;
  }

  /**
   * virDomainPCIAddressSetGrow: adds buses so that `addr.bus` exists, of a
   * model chosen from the device that needs the slot. May bump `addr.bus`
   * (a legacy PCI device on a pure PCIe guest lands behind a new bridge).
   */
  grow(addr: PciAddr, flags: number): void {
    let add = addr.bus - this.buses.length + 1;
    if (add <= 0) return;
    let model: string;
    let needDmi = false;
    let needPcieToPci = false;
    if (flags & PCI.PCI_DEVICE) {
      model = 'pci-bridge';
      const hasBridgeSlot = this.buses.some((b) => b.flags & PCI.PCI_BRIDGE);
      needDmi = !hasBridgeSlot && !this.pcieToPciBridgeSupported;
      needPcieToPci = !hasBridgeSlot && this.pcieToPciBridgeSupported;
      if ((needDmi || needPcieToPci) && add === 1) {
        add++;
        addr.bus++;
      }
    } else if (flags & (PCI.PCIE_DEVICE | PCI.PCIE_SWITCH_UPSTREAM_PORT)) {
      model = 'pcie-root-port';
    } else {
      const existing = connectTypeToModel(flags);
      if (existing) {
        throw new PciError('INTERNAL_ERROR', `a PCI slot is needed to connect a PCI controller model='${existing}', but none is available, and it cannot be automatically added`);
      }
      throw new PciError('INTERNAL_ERROR', `Cannot automatically add a new PCI bus for a device with connect flags ${hex(flags, 2)}`);
    }
    let i = this.buses.length;
    for (let n = 0; n < add; n++) this.buses.push(newBus());
    if (needDmi) setBusModel(this.buses[i++]!, 'dmi-to-pci-bridge', false);
    if (needPcieToPci) {
      // Only the pcie-to-pci-bridge may plug into this root port during the dry run.
      setBusModel(this.buses[i]!, 'pcie-root-port', true);
      this.buses[i]!.flags = PCI.PCIE_TO_PCI_BRIDGE;
      i++;
      setBusModel(this.buses[i++]!, 'pcie-to-pci-bridge', true);
    }
    for (; i < this.buses.length; i++) setBusModel(this.buses[i]!, model, true);
  }

  /** virDomainPCIAddressReserveAddrInternal */
  reserve(addr: PciAddr, flags: number, fromConfig: boolean): void {
    if (this.dryRun) this.grow(addr, flags);
    this.validate(addr, flags, fromConfig);
    const bus = this.buses[addr.bus]!;
    const used = bus.functions[addr.slot]!;
    if (used & (1 << addr.function)) {
      throw new PciError(fromConfig ? 'XML_ERROR' : 'INTERNAL_ERROR', `Attempted double use of PCI Address ${pciString(addr)}`);
    }
    if (!used && flags & PCI.AGGREGATE_SLOT) bus.aggregate |= 1 << addr.slot;
    bus.functions[addr.slot] = used | (1 << addr.function);
  }

  /** virDomainPCIAddressGetNextAddr: the first compatible free slot, growing the set in a dry run. */
  nextAddr(flags: number, fn: number): PciAddr {
    if (this.buses.length === 0) throw new PciError('XML_ERROR', 'No PCI buses available');
    const a: PciAddr = { domain: 0, bus: 0, slot: 0, function: fn === -1 ? 0 : fn };
    for (a.bus = 0; a.bus < this.buses.length; a.bus++) {
      const bus = this.buses[a.bus]!;
      a.slot = bus.minSlot;
      if (!flagsFit(a.bus, bus.flags, flags, false)) continue;
      for (; a.slot <= bus.maxSlot; a.slot++) {
        const used = bus.functions[a.slot]!;
        if (used === 0) return a;
        if (flags & PCI.AGGREGATE_SLOT && bus.aggregate & (1 << a.slot)) {
          if ((used & (1 << a.function)) === 0) return a;
          if (fn === -1) {
            for (; a.function < 8; a.function++) if ((used & (1 << a.function)) === 0) return a;
            a.function = 0;
          }
        }
      }
    }
    if (this.dryRun) {
      this.grow(a, flags);
      a.slot = this.buses[a.bus]!.minSlot;
      return a;
    }
    throw new PciError('INTERNAL_ERROR', 'No more available PCI slots');
  }

  /** virDomainPCIAddressReserveNextAddr: finds, reserves and (outside the dry run) writes an address. */
  reserveNext(dev: Dev | undefined, flags: number, fn = -1): PciAddr {
    const a = this.nextAddr(flags, fn);
    this.reserve(a, flags, false);
    if (!this.dryRun && dev) writePci(dev, a);
    return a;
  }
}

// ------------------------------------------------------------ the driver's passes

interface Pass {
  readonly def: DomainDraft;
  readonly set: PciAddressSet;
  readonly caps: AddressCaps;
  readonly q35: boolean;
  readonly i440fx: boolean;
  /** Connect flags per device, computed once (qemuDomainFillAllPCIConnectFlags). */
  readonly flags: Map<Dev, number>;
  readonly flagSets: FlagSets;
}

/** Runs a step of the address set, turning its failure into libvirt's error at the device's path. */
function at<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw located(e, path);
  }
}

/** A failure of the address set as libvirt's error at `path`; anything else as it was. */
function located(e: unknown, path: string): unknown {
  return e instanceof PciError ? new VirtError(e.code, e.detail, path) : e;
}

function controllers(def: DomainDraft): Dev[] {
  return devs(def, 'controllers');
}

function pciIndex(c: Dev): number {
  return num(c.index) ?? 0;
}

/** The index-0 PCI controller's model (qemuDomainHasPCIRoot / qemuDomainHasPCIeRoot). */
function rootModel(def: DomainDraft): string | undefined {
  return controllers(def).find((c) => c.type === 'pci' && pciIndex(c) === 0)?.model;
}

function flagSetsFor(def: DomainDraft, caps: AddressCaps): FlagSets {
  const pci = PCI.PCI_DEVICE | PCI.AUTOASSIGN;
  const pcie = rootModel(def) === 'pcie-root' ? PCI.PCIE_DEVICE | PCI.AUTOASSIGN : pci;
  return { pci, pcie, virtio: caps.virtioPciTransitional ? pcie : pci };
}

function flagsOf(p: Pass, kind: string, dev: Dev): number {
  let f = p.flags.get(dev);
  if (f === undefined) {
    f = deviceConnectFlags(kind, dev, p.flagSets);
    p.flags.set(dev, f);
  }
  return f;
}

function isUsb2(c: Dev): boolean {
  return c.type === 'usb' && ['ich9-ehci1', 'ich9-uhci1', 'ich9-uhci2', 'ich9-uhci3'].includes(c.model);
}

/** qemuDomainPCIAddressSetCreate: the buses from the controllers, then every address the XML gives. */
function createSet(base: Omit<Pass, 'set' | 'flagSets'>, nbuses: number, dryRun: boolean, refs: readonly DevRef[]): Pass {
  const { def, caps } = base;
  const set = new PciAddressSet(nbuses, dryRun, caps.pciePciBridge);
  const pass: Pass = { def, caps, q35: base.q35, i440fx: base.i440fx, flags: base.flags, set, flagSets: flagSetsFor(def, caps) };
  let hasPcieRoot = false;
  {
    const list = controllers(def);
    for (let i = 0, n = list.length; i < n; i++) {
      const c = list[i]!;
      if (c.type !== 'pci') continue;
      const idx = pciIndex(c);
      const path = devicePath('controller', i);
      if (idx >= set.buses.length) throw new VirtError('INTERNAL_ERROR', `Inappropriate new pci controller index ${idx} exceeds addrs array length`, path);
      at(path, () => setBusModel(set.buses[idx]!, c.model, c.target?.hotplug !== 'off'));
      if (c.model === 'pcie-root') hasPcieRoot = true;
    }
  }
  if (nbuses > 0 && !set.buses[0]!.model) setBusModel(set.buses[0]!, 'pci-root', true);
  const defaultModel = hasPcieRoot ? 'pcie-root-port' : 'pci-bridge';
  for (let i = 1; i < set.buses.length; i++) if (!set.buses[i]!.model) setBusModel(set.buses[i]!, defaultModel, true);

  for (const ref of refs) collect(pass, ref);
  return pass;
}

/** qemuDomainCollectPCIAddress: reserves an address the XML gives. */
function collect(p: Pass, ref: DevRef): void {
  const a = ref.dev.address;
  if (!pciPresent(a)) return;
  let flags = flagsOf(p, ref.kind, ref.dev);
  if (!flags) {
    // libvirt pretends such a device is a standard PCI device; validation reports the address later.
    flags = PCI.PCI_DEVICE;
    p.flags.set(ref.dev, flags);
  }
  const addr = readPci(a);
  if (ref.kind === 'controller' && addr.domain === 0 && addr.bus === 0 && addr.slot === 1) {
    const c = ref.dev;
    const idx = pciIndex(c);
    if ((c.type === 'ide' && idx === 0 && addr.function === 1) || (c.type === 'usb' && idx === 0 && (c.model === undefined || c.model === 'piix3-uhci') && addr.function === 2)) {
      if (p.set.buses.length > 0 && !(p.set.buses[0]!.flags & PCI.PCI_DEVICE)) {
        throw new VirtError('INTERNAL_ERROR', 'Bus 0 must be PCI for integrated PIIX3 USB or IDE controllers', `${ref.path}/address`);
      }
      return;
    }
  }
  const before = addr.bus;
  try {
    p.set.reserve(addr, flags, true);
  } catch (e) {
    throw located(e, `${ref.path}/address`);
  }
  // A dry run that had to grow a legacy-PCI hierarchy moves the device behind the new bridge.
  if (addr.bus !== before) writePci(ref.dev, { ...readPci(a), bus: addr.bus });
}

const CHIPSET_PCI = PCI.AUTOASSIGN | PCI.PCI_DEVICE;

function samePci(a: PciAddr, b: PciAddr): boolean {
  return a.domain === b.domain && a.bus === b.bus && a.slot === b.slot && a.function === b.function;
}

/** The primary video goes at a fixed slot on bus 0 when that slot is free, else at the next free address. */
function placePrimaryVideo(p: Pass, slot: number, flags: number): void {
  const video = devs(p.def, 'videos')[0];
  const type = video?.model?.type as string | undefined;
  if (!video || type === 'none' || type === 'ramfb' || !pciWanted(video.address)) return;
  const path = devicePath('video', 0);
  const tmp: PciAddr = { domain: 0, bus: 0, slot, function: 0 };
  at(path, () => p.set.validate(tmp, flags, true));
  if (p.set.slotInUse(tmp)) {
    at(path, () => p.set.reserveNext(video, flagsOf(p, 'video', video)));
  } else {
    at(path, () => p.set.reserve(tmp, flags, true));
    writePci(video, tmp);
  }
}

/** qemuDomainValidateDevicePCISlotsPIIX3 */
function chipsetPiix3(p: Pass): void {
  const { set } = p;
  {
    const list = controllers(p.def);
    for (let i = 0, n = list.length; i < n; i++) {
      const c = list[i]!;
      if (c.type !== 'ide' && c.type !== 'usb') continue;
      const idx = pciIndex(c);
      let want: PciAddr;
      let message: string;
      if (c.type === 'ide' && idx === 0) {
        want = { domain: 0, bus: 0, slot: 1, function: 1 };
        message = 'Primary IDE controller must have PCI address 0:0:1.1';
      } else if (c.type === 'usb' && idx === 0 && (c.model === undefined || c.model === 'piix3-uhci')) {
        want = { domain: 0, bus: 0, slot: 1, function: 2 };
        message = 'PIIX3 USB controller at index 0 must have PCI address 0:0:1.2';
      } else {
        continue;
      }
      const path = devicePath('controller', i);
      if (pciPresent(c.address)) {
        if (!samePci(readPci(c.address), want)) throw new VirtError('INTERNAL_ERROR', message, `${path}/address`);
      } else {
        writePci(c, want);
      }
      if (set.buses.length) at(path, () => set.reserve(readPci(c.address), CHIPSET_PCI, true));
    }
  }
  if (set.buses.length) {
    // The ISA bridge (00:01.0) and the power management device (00:01.3).
    at('/domain/devices', () => set.reserve({ domain: 0, bus: 0, slot: 1, function: 0 }, CHIPSET_PCI, true));
    at('/domain/devices', () => set.reserve({ domain: 0, bus: 0, slot: 1, function: 3 }, CHIPSET_PCI, true));
  }
  placePrimaryVideo(p, 2, CHIPSET_PCI);
}

/** qemuDomainValidateDevicePCISlotsQ35 */
function chipsetQ35(p: Pass): void {
  const { set } = p;
  const flags = PCI.PCIE_DEVICE;
  {
    const list = controllers(p.def);
    for (let i = 0, n = list.length; i < n; i++) {
      const c = list[i]!;
      if (c.type !== 'sata' && c.type !== 'usb' && c.type !== 'pci') continue;
      const path = devicePath('controller', i);
      if (c.type === 'sata') {
        if (pciIndex(c) !== 0) continue;
        const want: PciAddr = { domain: 0, bus: 0, slot: 0x1f, function: 2 };
        if (pciPresent(c.address)) {
          if (!samePci(readPci(c.address), want)) throw new VirtError('INTERNAL_ERROR', 'Primary SATA controller must have PCI address 0:0:1f.2', `${path}/address`);
        } else {
          writePci(c, want);
        }
      } else if (c.type === 'usb') {
        if (c.model !== 'ich9-uhci1' || (c.address?.type ?? 'none') !== 'none') continue;
        for (const slot of [0x1d, 0x1a]) {
          const tmp: PciAddr = { domain: 0, bus: 0, slot, function: 0 };
          if (set.slotInUse(tmp)) continue;
          at(path, () => set.reserve(tmp, flags, true));
          writePci(c, { ...tmp, multi: 'on' });
          break;
        }
      } else if (c.type === 'pci') {
        if (c.model !== 'dmi-to-pci-bridge' || (c.address?.type ?? 'none') !== 'none') continue;
        const tmp: PciAddr = { domain: 0, bus: 0, slot: 0x1e, function: 0 };
        if (set.slotInUse(tmp)) continue;
        at(path, () => set.reserve(tmp, flags, true));
        writePci(c, tmp);
      }
    }
  }
  if (set.buses.length) {
    // The LPC/ISA bridge (00:1f.0) and the SMBus controller (00:1f.3).
    at('/domain/devices', () => set.reserve({ domain: 0, bus: 0, slot: 0x1f, function: 0 }, flags, true));
    at('/domain/devices', () => set.reserve({ domain: 0, bus: 0, slot: 0x1f, function: 3 }, flags, true));
  }
  placePrimaryVideo(p, 1, flags);
  const hda: PciAddr = { domain: 0, bus: 0, slot: 0x1b, function: 0 };
  if (!set.slotInUse(hda)) {
    const sounds = devs(p.def, 'sounds');
    const i = sounds.findIndex((s) => s.model === 'ich9' && pciWanted(s.address));
    if (i >= 0) {
      at(devicePath('sound', i), () => set.reserve(hda, flags, true));
      writePci(sounds[i]!, hda);
    }
  }
}

/** qemuDomainValidateDevicePCISlotsChipsets */
function chipset(p: Pass): void {
  if (p.i440fx) chipsetPiix3(p);
  if (p.q35) chipsetQ35(p);
}

/** qemuDomainAssignDevicePCISlots: every device still wanting a slot, in libvirt's order. */
function next(p: Pass, kind: string, dev: Dev, path: string): void {
  try {
    p.set.reserveNext(dev, flagsOf(p, kind, dev));
  } catch (e) {
    throw located(e, path);
  }
}

// The walks below are loops rather than forEach callbacks: a closure made on every call
// costs more than the loop it saves writing (this runs twice per definition).
function assignSlots(p: Pass): void {
  const { def, set } = p;
  const ctrls = controllers(def);

  {
    const list = ctrls;
    for (let i = 0, n = list.length; i < n; i++) {
      const c = list[i]!;
      if (c.type !== 'pci' || c.model === 'pci-root' || c.model === 'pcie-root' || !pciWanted(c.address)) continue;
      next(p, 'controller', c, devicePath('controller', i));
    }
  }
  {
    const list = devs(def, 'filesystems');
    for (let i = 0, n = list.length; i < n; i++) {
      const fs = list[i]!;
      if (pciWanted(fs.address)) next(p, 'filesystem', fs, devicePath('filesystem', i));
    }
  }
  {
    const list = devs(def, 'interfaces');
    for (let i = 0, n = list.length; i < n; i++) {
      const net = list[i]!;
      if (net.type === 'hostdev' || !pciWanted(net.address)) continue;
      next(p, 'interface', net, devicePath('interface', i));
    }
  }
  {
    const list = devs(def, 'sounds');
    for (let i = 0, n = list.length; i < n; i++) {
      const s = list[i]!;
      if (!pciWanted(s.address) || s.model === 'sb16' || s.model === 'pcspk' || s.model === 'usb') continue;
      next(p, 'sound', s, devicePath('sound', i));
    }
  }
  {
    const list = ctrls;
    for (let i = 0, n = list.length; i < n; i++) {
      const c = list[i]!;
      if (c.type === 'pci') continue;
      if (c.type === 'usb' && c.model === 'none') continue;
      if (c.type === 'fdc' || c.type === 'ccid') continue;
      if (c.type === 'ide' && pciIndex(c) === 0) continue;
      if (c.type === 'scsi' && c.model === 'ncr53c90') continue;
      if (!pciWanted(c.address)) continue;
      const path = devicePath('controller', i);
      if (!isUsb2(c)) {
        next(p, 'controller', c, path);
        continue;
      }
      // USB2 companions share the slot of the first one already placed.
      const idx = pciIndex(c);
      const mate = ctrls.find((o) => isUsb2(o) && pciIndex(o) === idx && pciPresent(o.address));
      const fn = { 'ich9-ehci1': 7, 'ich9-uhci1': 0, 'ich9-uhci2': 1, 'ich9-uhci3': 2 }[c.model as string]!;
      const multi = c.model === 'ich9-uhci1' ? ('on' as const) : undefined;
      const flags = flagsOf(p, 'controller', c);
      if (mate) {
        const m = readPci(mate.address);
        const addr: PciAddr = { domain: m.domain, bus: m.bus, slot: m.slot, function: fn, ...(multi ? { multi } : {}) };
        at(path, () => set.reserve(addr, flags, true));
        writePci(c, addr);
      } else {
        at(path, () => set.reserveNext(c, flags, fn));
        if (!set.dryRun) writePci(c, { ...readPci(c.address), ...(multi ? { multi } : {}) });
      }
    }
  }
  {
    const list = devs(def, 'disks');
    for (let i = 0, n = list.length; i < n; i++) {
      const d = list[i]!;
      if (d.target?.bus !== 'virtio') continue;
      const t = (d.address?.type as string | undefined) ?? 'none';
      if (pciPresent(d.address) || t === 'ccw') continue;
      if (t === 'virtio-mmio' && p.caps.virtioMmio) continue;
      const path = devicePath('disk', i);
      if (!pciWanted(d.address)) throw new VirtError('CONFIG_UNSUPPORTED', `virtio disk cannot have an address of type '${t}'`, `${path}/address/@type`);
      next(p, 'disk', d, path);
    }
  }
  // Host devices: those behind <interface type='hostdev'> come first, as libvirt lists them first.
  const hostdevs: Array<{ kind: string; dev: Dev; path: string }> = [];
  {
    const list = devs(def, 'interfaces');
    for (let i = 0, n = list.length; i < n; i++) {
      const net = list[i]!;
      if (net.type === 'hostdev') hostdevs.push({ kind: 'interface', dev: net, path: devicePath('interface', i) });
    }
  }
  {
    const list = devs(def, 'hostdevs');
    for (let i = 0, n = list.length; i < n; i++) {
      const h = list[i]!;
      hostdevs.push({ kind: 'hostdev', dev: h, path: devicePath('hostdev', i) });
    }
  }
  for (const h of hostdevs) {
    if (!pciWanted(h.dev.address)) continue;
    const v = hostdevView(h.kind, h.dev)!;
    if (v.mode !== 'subsystem') continue;
    if (v.type !== 'pci' && v.type !== 'scsi_host' && !(v.type === 'mdev' && v.model === 'vfio-pci')) continue;
    if (h.dev.address?.type === 'unassigned') continue;
    next(p, h.kind, h.dev, h.path);
  }
  const balloon = single(def, 'memballoon');
  if (balloon && balloon.model !== 'none' && pciWanted(balloon.address)) next(p, 'memballoon', balloon, devicePath('memballoon', 0, false));
  {
    const list = devs(def, 'rngs');
    for (let i = 0, n = list.length; i < n; i++) {
      const r = list[i]!;
      if (pciWanted(r.address)) next(p, 'rng', r, devicePath('rng', i));
    }
  }
  const wd = single(def, 'watchdog');
  if (wd && wd.model === 'i6300esb' && pciWanted(wd.address)) next(p, 'watchdog', wd, devicePath('watchdog', 0, false));
  {
    const list = devs(def, 'videos');
    for (let i = 0, n = list.length; i < n; i++) {
      const v = list[i]!;
      const t = v.model?.type as string | undefined;
      if (t === 'none' || t === 'ramfb' || !pciWanted(v.address)) continue;
      next(p, 'video', v, devicePath('video', i));
    }
  }
  {
    const list = devs(def, 'shmems');
    for (let i = 0, n = list.length; i < n; i++) {
      const s = list[i]!;
      if (pciWanted(s.address)) next(p, 'shmem', s, devicePath('shmem', i));
    }
  }
  {
    const list = devs(def, 'inputs');
    for (let i = 0, n = list.length; i < n; i++) {
      const inp = list[i]!;
      if (inp.bus === 'virtio' && pciWanted(inp.address)) next(p, 'input', inp, devicePath('input', i));
    }
  }
  {
    const list = devs(def, 'serials');
    for (let i = 0, n = list.length; i < n; i++) {
      const s = list[i]!;
      if (s.target?.type === 'pci-serial' && pciWanted(s.address)) next(p, 'serial', s, devicePath('serial', i));
    }
  }
  const iommu = single(def, 'iommu');
  if (iommu && iommu.model === 'virtio' && pciWanted(iommu.address)) next(p, 'iommu', iommu, devicePath('iommu', 0, false));
  const vsock = single(def, 'vsock');
  if (vsock && pciWanted(vsock.address)) next(p, 'vsock', vsock, devicePath('vsock', 0, false));
  {
    const list = devs(def, 'memoryDevices');
    for (let i = 0, n = list.length; i < n; i++) {
      const m = list[i]!;
      if ((m.model === 'virtio-pmem' || m.model === 'virtio-mem') && pciWanted(m.address)) next(p, 'memory', m, devicePath('memory', i));
    }
  }
}

/** virDomainPCIAddressSetAllMulti: function 0 of a slot with other functions in use gets multifunction='on'. */
function setAllMulti(refs: readonly DevRef[]): void {
  // A hostdev behind an interface is the interface's own info; libvirt meets it twice, with the same result.
  // Function 0 of each slot (the first met, as libvirt's search finds it), then the slots with other functions.
  const first = new Map<string, Address>();
  const shared: string[] = [];
  for (const ref of refs) {
    const address = ref.dev.address;
    if (address?.type !== 'pci') continue;
    const a = readPci(address);
    const key = `${a.domain}:${a.bus}:${a.slot}`;
    if (a.function !== 0) shared.push(key);
    else if (!first.has(key)) first.set(key, address);
  }
  for (const key of shared) {
    const address = first.get(key);
    if (address !== undefined && address.multifunction !== 'on' && address.multifunction !== 'off') address.multifunction = 'on';
  }
}

const MODEL_NAMES: Record<string, string> = {
  'pci-bridge': 'pci-bridge',
  'dmi-to-pci-bridge': 'i82801b11-bridge',
  'pcie-to-pci-bridge': 'pcie-pci-bridge',
  'pcie-switch-upstream-port': 'x3130-upstream',
  'pcie-switch-downstream-port': 'xio3130-downstream',
  'pci-expander-bus': 'pxb',
  'pcie-expander-bus': 'pxb-pcie',
};

/** qemuDomainAddressFindNewBusNr: two below the lowest busNr in use (256 when none), or -1. */
function findNewBusNr(def: DomainDraft): number {
  let lowest = 256;
  for (const c of controllers(def)) {
    if (c.type !== 'pci') continue;
    const n = num(c.target?.busNr, 0);
    if (n !== undefined && n >= 0 && n < lowest) lowest = n;
  }
  return lowest <= 2 ? -1 : lowest - 2;
}

const DECIMAL_TARGET_OPTIONS = ['chassisNr', 'chassis', 'busNr', 'index'] as const;

/** The model name and target options libvirt fills on every PCI controller once placed. */
function controllerDefaults(def: DomainDraft, caps: AddressCaps): void {
  {
    const list = controllers(def);
    for (let i = 0, n = list.length; i < n; i++) {
      const c = list[i]!;
      if (c.type !== 'pci') continue;
      const idx = pciIndex(c);
      const addr = readPci(c.address?.type === 'pci' ? c.address : undefined);
      if (c.modelName?.name === undefined) {
        const name = c.model === 'pcie-root-port' ? (caps.pcieRootPort ? 'pcie-root-port' : 'ioh3420') : MODEL_NAMES[c.model as string];
        if (name !== undefined) c.modelName = { ...(c.modelName ?? {}), name };
      }
      switch (c.model) {
        case 'pci-bridge':
          if (c.target?.chassisNr === undefined) targetOf(c).chassisNr = String(idx);
          break;
        case 'pcie-root-port':
          if (c.target?.chassis === undefined) targetOf(c).chassis = String(idx);
          if (c.target?.port === undefined) targetOf(c).port = `0x${hex((addr.slot << 3) + addr.function)}`;
          break;
        case 'pcie-switch-downstream-port':
          if (c.target?.chassis === undefined) targetOf(c).chassis = String(idx);
          if (c.target?.port === undefined) targetOf(c).port = `0x${hex(addr.slot)}`;
          break;
        case 'pci-expander-bus':
        case 'pcie-expander-bus':
          if (c.target?.busNr === undefined) {
            const busNr = findNewBusNr(def);
            if (busNr === -1) {
              throw new VirtError(
                'CONFIG_UNSUPPORTED',
                `No free busNr lower than current lowest busNr is available to auto-assign to bus ${addr.bus}. Must be manually assigned`,
                `${devicePath('controller', i)}/target/@busNr`,
              );
            }
            targetOf(c).busNr = String(busNr);
          }
          break;
      }
      // libvirt writes these options as numbers: chassisNr, chassis, busNr and index in decimal, port in hex.
      const t = c.target as Record<string, string> | undefined;
      if (t) {
        for (const k of DECIMAL_TARGET_OPTIONS) {
          const n = num(t[k], 0);
          if (n !== undefined && !Number.isNaN(n) && t[k] !== String(n)) t[k] = String(n);
        }
        const port = num(t.port, 0);
        if (port !== undefined && !Number.isNaN(port) && t.port !== `0x${hex(port)}`) t.port = `0x${hex(port)}`;
      }
      if (c.model === 'pci-bridge' && idx <= addr.bus) {
        throw new VirtError(
          'CONFIG_UNSUPPORTED',
          `PCI controller at index ${idx} (0x${hex(idx, 2)}) has bus='0x${hex(addr.bus, 2)}', but index must be larger than bus`,
          `${devicePath('controller', i)}/address`,
        );
      }
    }
  }
}

function targetOf(c: Dev): Record<string, string> {
  return (c.target ??= {}) as Record<string, string>;
}

/** qemuDomainAssignPCIAddresses */
export function assignPciAddresses(def: DomainDraft, data: QemuData | undefined): void {
  const caps = addressCaps(data);
  const arch = archOf(data);
  const q35 = isQ35(def, arch);
  const i440fx = isI440FX(def, arch);
  let maxIdx = -1;
  for (const c of controllers(def)) if (c.type === 'pci') maxIdx = Math.max(maxIdx, pciIndex(c));
  let nbuses = maxIdx + 1;
  const flags = new Map<Dev, number>();
  const sets = flagSetsFor(def, caps);
  // One walk for the flags and the dry run, another once the dry run added controllers:
  // the passes write addresses but add no devices.
  const before = walkDevices(def);
  for (const ref of before) flags.set(ref.dev, deviceConnectFlags(ref.kind, ref.dev, sets));

  if (nbuses > 0) {
    const dry = createSet({ def, caps, q35, i440fx, flags }, nbuses, true, before);
    chipset(dry);
    if (rootModel(def) === 'pci-root') {
      // Hold back one legacy PCI slot so that a bridge can still be added later.
      if (dry.set.buses.some((b) => !dry.set.fullyReserved(b))) at('/domain/devices', () => dry.set.reserveNext(undefined, PCI.AUTOASSIGN | PCI.PCI_DEVICE));
    }
    assignSlots(dry);
    if (maxIdx <= 0 && dry.set.buses.length > maxIdx + 1 && rootModel(def) === 'pcie-root') {
      // Leave one empty hotpluggable root port for a guest whose PCI topology libvirt manages.
      at('/domain/devices', () => dry.set.reserveNext(undefined, PCI.AUTOASSIGN | PCI.PCIE_DEVICE));
    }
    const present = new Set<number>();
    for (const c of controllers(def)) if (c.type === 'pci') present.add(pciIndex(c));
    for (let i = 1; i < dry.set.buses.length; i++) {
      if (present.has(i)) continue;
      const model = dry.set.buses[i]!.model;
      const cont: Dev = { type: 'pci', index: String(i), model };
      if (!def.devices) (def as { devices: unknown }).devices = {};
      const list = ((def.devices as Record<string, unknown>).controllers ??= []) as Dev[];
      list.push(cont);
      const path = devicePath('controller', list.length - 1);
      const f = deviceConnectFlags('controller', cont, sets);
      flags.set(cont, f);
      if (model !== 'pci-root' && model !== 'pcie-root') at(path, () => dry.set.reserveNext(undefined, f));
    }
    nbuses = dry.set.buses.length;
  }

  const refs = nbuses > 0 ? walkDevices(def) : before;
  const real = createSet({ def, caps, q35, i440fx, flags }, nbuses, false, refs);
  chipset(real);
  assignSlots(real);
  setAllMulti(refs);
  controllerDefaults(def, caps);
}

export const pciRules: DomainRule<QemuData>[] = [
  domainRule(
    'pci-addresses',
    'every PCI device needs a slot: libvirt packs them on the root bus and adds pcie-root-ports or PCI bridges when it runs out (chipset slots are fixed)',
    (def, ctx) => assignPciAddresses(def, ctx.data),
  ),
];
