/**
 * The qemu-system command line for an enriched (post-parsed) DomainDef, the way
 * libvirt's qemu_command.c builds it for QEMU 7.2, narrowed to what virtflow
 * runs: headless guests with file/block disks, user-mode NICs, file/socket
 * chardevs, VNC on loopback or a unix socket. Pure: no I/O, no clock.
 *
 * Device ids follow libvirt's aliases (`virtio-disk0`, `net0`, `serial0`,
 * `video0`, `balloon0`, `pci.1`, `usb`), so an alias means the same device in
 * libvirt and here, and hot-unplug needs no state beyond the alias.
 *
 * What is not supported fails the start with CONFIG_UNSUPPORTED naming the
 * element's path; nothing is dropped silently. Settings that are host-side
 * policy in libvirt (cputune, memtune, blkiotune, numatune, seclabels) are not
 * devices and not applied.
 */
import { createHash } from 'node:crypto';
import { VirtError, type DeviceDef, type DiskDef, type DomainDef, type InterfaceDef } from '@virtflow/model';

/** The files of one domain's run folder (`<runDir>/<uuid>/`). */
export interface RunPaths {
  readonly dir: string;
  readonly pidfile: string;
  readonly qmp: string;
  readonly log: string;
  readonly serial: string;
  readonly domainXml: string;
  readonly vnc: string;
}

export function runPaths(runDir: string, uuid: string): RunPaths {
  const dir = `${runDir.replace(/\/+$/, '')}/${uuid}`;
  return {
    dir,
    pidfile: `${dir}/qemu.pid`,
    qmp: `${dir}/qmp.sock`,
    log: `${dir}/qemu.log`,
    serial: `${dir}/serial.log`,
    domainXml: `${dir}/domain.xml`,
    vnc: `${dir}/vnc.sock`,
  };
}

export interface ArgvOptions {
  /** Whether /dev/kvm opens read-write on this host. */
  readonly kvm: boolean;
  readonly paths: RunPaths;
  /** Listen for an incoming migration instead of booting. */
  readonly incoming?: { readonly host: string; readonly port: number };
  /**
   * What `<interface type='network'|'bridge'>` becomes. virtflow's agent has no
   * bridge or tap of its own, so by default such NICs run on user-mode
   * networking with the definition's model and MAC ('user'); 'strict' refuses them.
   */
  readonly hostNetworks?: 'user' | 'strict';
  /**
   * Appended to `-cpu host` / `-cpu max` under KVM: some nested hosts refuse
   * MSRs QEMU sets for them (IA32_ARCH_CAPABILITIES), fixed by `-arch-capabilities`.
   */
  readonly hostCpuFlags?: readonly string[];
}

/** A QMP command, for hotplug. */
export interface QmpCall {
  readonly execute: string;
  readonly arguments?: Record<string, unknown>;
}

/** unix sockets have 108 bytes for their path, NUL included. */
export const MAX_SOCKET_PATH = 107;

const unsupported = (what: string, path: string): VirtError =>
  new VirtError('CONFIG_UNSUPPORTED', `${what} is not supported by virtflow's qemu hypervisor`, path);

// ------------------------------------------------------------------ helpers

function json(o: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
}

/** QEMU's option syntax doubles a comma inside a value. */
export function escapeOpt(value: string): string {
  return value.replaceAll(',', ',,');
}

/** The guest name back from a `-name guest=<name>,debug-threads=on` value. */
export function guestName(value: string): string {
  const v = value.startsWith('guest=') ? value.slice('guest='.length) : value;
  let out = '';
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== ',') {
      out += v[i];
    } else if (v[i + 1] === ',') {
      out += ',';
      i++;
    } else {
      break;
    }
  }
  return out;
}

function num(s: string | undefined, path: string): number | undefined {
  if (s === undefined) return undefined;
  const n = s.startsWith('0x') ? Number.parseInt(s, 16) : Number(s);
  if (!Number.isInteger(n) || n < 0) throw new VirtError('XML_ERROR', `invalid number '${s}'`, path);
  return n;
}

function isQ35(def: DomainDef): boolean {
  return /q35/.test(def.os?.type?.machine ?? '');
}

export interface AddressLike {
  readonly type?: string | undefined;
  readonly bus?: string | undefined;
  readonly slot?: string | undefined;
  readonly function?: string | undefined;
  readonly multifunction?: string | undefined;
  readonly controller?: string | undefined;
  readonly unit?: string | undefined;
  readonly target?: string | undefined;
  readonly port?: string | undefined;
}

/** `bus`/`addr`/`multifunction` of a PCI address, as libvirt's qemuBuildDeviceAddressProps writes them. */
export function pciProps(def: DomainDef, address: AddressLike | undefined, path: string): Record<string, unknown> {
  if (!address || address.type === undefined) return {};
  if (address.type !== 'pci') throw unsupported(`address type '${address.type}'`, `${path}/address`);
  const bus = num(address.bus, `${path}/address/@bus`) ?? 0;
  const slot = num(address.slot, `${path}/address/@slot`) ?? 0;
  const fn = num(address.function, `${path}/address/@function`) ?? 0;
  return {
    bus: bus === 0 ? (isQ35(def) ? 'pcie.0' : 'pci.0') : `pci.${bus}`,
    addr: fn === 0 ? `0x${slot.toString(16)}` : `0x${slot.toString(16)}.0x${fn.toString(16)}`,
    multifunction: address.multifunction === 'on' ? true : undefined,
  };
}

// ------------------------------------------------------------------ aliases

/** vda → 0, vdz → 25, vdaa → 26 (virDiskNameToIndex). */
function diskIndex(dev: string): number {
  const m = /^(?:[hsv]d|xvd|ubd)([a-z]+)$/.exec(dev);
  if (!m) return 0;
  let idx = 0;
  for (const c of m[1]!) idx = idx * 26 + (c.charCodeAt(0) - 96);
  return idx - 1;
}

/** A disk's libvirt alias (qemuAssignDeviceDiskAlias). */
export function diskAlias(disk: DiskDef): string {
  if (disk.alias?.name) return disk.alias.name;
  const bus = disk.target?.bus ?? 'ide';
  const a = disk.address;
  const ctl = a?.controller ?? '0';
  if (bus === 'virtio') return `virtio-disk${diskIndex(disk.target?.dev ?? '')}`;
  if (bus === 'ide') return `ide${ctl}-${a?.bus ?? '0'}-${a?.unit ?? '0'}`;
  if (bus === 'sata') return `sata${ctl}-${a?.bus ?? '0'}-${a?.unit ?? '0'}`;
  if (bus === 'scsi') return `scsi${ctl}-${a?.bus ?? '0'}-${a?.target ?? '0'}-${a?.unit ?? '0'}`;
  return `${bus}-disk${diskIndex(disk.target?.dev ?? '')}`;
}

/** block node names are at most 31 characters: long aliases are hashed. */
export function nodeNames(alias: string): { storage: string; format: string } {
  const base = alias.length <= 20 ? alias : `n${createHash('sha256').update(alias).digest('hex').slice(0, 16)}`;
  return { storage: `${base}-storage`, format: `${base}-format` };
}

/** The netdev id that backs NIC `alias` (libvirt: host + alias). */
export const netdevId = (alias: string): string => `host${alias}`;

// ------------------------------------------------------------------ machine, cpu, memory

function accel(def: DomainDef, opts: ArgvOptions): 'kvm' | 'tcg' {
  if (def.type === 'qemu') return 'tcg';
  if (def.type === 'kvm') return opts.kvm ? 'kvm' : 'tcg';
  throw new VirtError('CONFIG_UNSUPPORTED', `domain type '${def.type ?? ''}' is not run by virtflow's qemu hypervisor`, '/domain/@type');
}

function machineArgs(def: DomainDef, acc: 'kvm' | 'tcg'): string[] {
  const machine = def.os?.type?.machine;
  if (!machine) throw new VirtError('CONFIG_UNSUPPORTED', 'the definition has no machine type: post-parse it with the qemu driver first', '/domain/os/type/@machine');
  const arch = def.os?.type?.arch;
  if (arch && arch !== 'x86_64' && arch !== 'i686') throw unsupported(`guest arch '${arch}'`, '/domain/os/type/@arch');
  const acpi = def.features?.acpi !== undefined;
  return ['-machine', `${escapeOpt(machine)},accel=${acc},usb=off,dump-guest-core=off${acpi ? '' : ',acpi=off'}`];
}

function cpuArgs(def: DomainDef, acc: 'kvm' | 'tcg', hostCpuFlags: readonly string[] = []): string[] {
  const cpu = def.cpu;
  if (cpu?.numa) throw unsupported('guest NUMA topology', '/domain/cpu/numa');
  const mode = cpu?.mode ?? 'custom';
  let model: string;
  if (mode === 'host-passthrough' || mode === 'host-model' || mode === 'maximum') model = acc === 'kvm' && mode !== 'maximum' ? 'host' : 'max';
  else model = cpu?.model?.text ?? (acc === 'kvm' ? 'qemu64' : 'max');
  const features = (cpu?.features ?? []).flatMap((f) => {
    if (f.policy === 'require' || f.policy === 'force') return [`+${f.name ?? ''}`];
    if (f.policy === 'disable' || f.policy === 'forbid') return [`-${f.name ?? ''}`];
    return [];
  });
  const quirks = acc === 'kvm' && (model === 'host' || model === 'max') ? hostCpuFlags : [];
  return ['-cpu', [model, ...quirks, ...features].join(',')];
}

function memoryArgs(def: DomainDef): string[] {
  const kib = num(def.memory?.text, '/domain/memory');
  if (!kib) throw new VirtError('XML_ERROR', 'missing memory size', '/domain/memory');
  const max = def.maxMemory;
  if (max?.text && max.slots) return ['-m', `size=${kib}k,slots=${max.slots},maxmem=${max.text}k`];
  return ['-m', `size=${kib}k`];
}

function smpArgs(def: DomainDef): string[] {
  const max = num(def.vcpu?.text, '/domain/vcpu') ?? 1;
  const current = num(def.vcpu?.current, '/domain/vcpu/@current') ?? max;
  const t = def.cpu?.topology;
  const sockets = num(t?.sockets, '/domain/cpu/topology/@sockets') ?? max;
  const dies = num(t?.dies, '/domain/cpu/topology/@dies') ?? 1;
  const cores = num(t?.cores, '/domain/cpu/topology/@cores') ?? 1;
  const threads = num(t?.threads, '/domain/cpu/topology/@threads') ?? 1;
  const parts = [`${current}`, `maxcpus=${max}`, `sockets=${sockets}`];
  if (dies !== 1) parts.push(`dies=${dies}`);
  parts.push(`cores=${cores}`, `threads=${threads}`);
  return ['-smp', parts.join(',')];
}

function osArgs(def: DomainDef): string[] {
  const os = def.os;
  if (!os) return [];
  if (os.type?.text && os.type.text !== 'hvm') throw unsupported(`OS type '${os.type.text}'`, '/domain/os/type');
  if (os.loader) throw unsupported('a firmware <loader> (UEFI)', '/domain/os/loader');
  if (os.firmware) throw unsupported(`firmware '${os.firmware}'`, '/domain/os/@firmware');
  const out: string[] = [];
  if (os.kernel) out.push('-kernel', os.kernel);
  if (os.initrd) out.push('-initrd', os.initrd);
  if (os.cmdline) out.push('-append', os.cmdline);
  if (os.dtb) out.push('-dtb', os.dtb);
  const letters: Record<string, string> = { fd: 'a', hd: 'c', cdrom: 'd', network: 'n' };
  const order = (os.boots ?? []).map((b) => letters[b.dev ?? ''] ?? '').join('');
  const boot = [order ? `order=${order}` : '', os.bootmenu?.enable === 'yes' ? 'menu=on' : '', os.bios?.rebootTimeout ? `reboot-timeout=${os.bios.rebootTimeout}` : ''].filter(Boolean);
  if (boot.length) out.push('-boot', boot.join(','));
  return out;
}

function lifecycleArgs(def: DomainDef): string[] {
  const poweroff = def.onPoweroff ?? 'destroy';
  if (poweroff !== 'destroy') throw unsupported(`on_poweroff '${poweroff}'`, '/domain/on_poweroff');
  const reboot = def.onReboot ?? 'restart';
  if (reboot === 'destroy') return ['-no-reboot'];
  if (reboot !== 'restart') throw unsupported(`on_reboot '${reboot}'`, '/domain/on_reboot');
  return [];
}

function clockArgs(def: DomainDef): string[] {
  const offset = def.clock?.offset ?? 'utc';
  if (offset === 'utc') return ['-rtc', 'base=utc'];
  if (offset === 'localtime') return ['-rtc', 'base=localtime'];
  throw unsupported(`clock offset '${offset}'`, '/domain/clock/@offset');
}

// ------------------------------------------------------------------ disks

type Disk = DiskDef;

/** -blockdev nodes of a disk: protocol (file / host_device) then format. */
export function diskBlockdevs(disk: Disk, path: string): Array<Record<string, unknown>> {
  const alias = diskAlias(disk);
  const nodes = nodeNames(alias);
  const readOnly = disk.readonly !== undefined || disk.device === 'cdrom';
  let protocol: Record<string, unknown>;
  if (disk.type === 'file' || disk.type === undefined) {
    if (!disk.source?.file) return [];
    protocol = { driver: 'file', filename: disk.source.file };
  } else if (disk.type === 'block') {
    if (!disk.source?.dev) return [];
    protocol = { driver: 'host_device', filename: disk.source.dev };
  } else {
    throw unsupported(`disk type '${disk.type}'`, `${path}/@type`);
  }
  if (disk.backingStore && Object.keys(disk.backingStore).length > 0 && disk.backingStore.type !== undefined) {
    throw unsupported('an explicit <backingStore> chain', `${path}/backingStore`);
  }
  const format = disk.driver?.type ?? 'raw';
  if (!/^[a-z0-9]+$/.test(format)) throw unsupported(`disk format '${format}'`, `${path}/driver/@type`);
  const cache = cacheProps(disk.driver?.cache, path);
  return [
    { ...protocol, 'node-name': nodes.storage, 'auto-read-only': true, discard: 'unmap', ...cache },
    { 'node-name': nodes.format, 'read-only': readOnly, driver: format, file: nodes.storage, ...cache },
  ];
}

function cacheProps(mode: string | undefined, path: string): Record<string, unknown> {
  switch (mode) {
    case undefined:
    case 'default':
    case 'writeback':
    case 'writethrough':
      return {};
    case 'none':
    case 'directsync':
      return { cache: { direct: true, 'no-flush': false } };
    case 'unsafe':
      return { cache: { direct: false, 'no-flush': true } };
    default:
      throw unsupported(`disk cache mode '${mode}'`, `${path}/driver/@cache`);
  }
}

/** The -device of a disk. */
export function diskDevice(def: DomainDef, disk: Disk, path: string): Record<string, unknown> {
  const alias = diskAlias(disk);
  const hasMedium = diskBlockdevs(disk, path).length > 0;
  const bus = disk.target?.bus ?? 'ide';
  const device = disk.device ?? 'disk';
  if (device !== 'disk' && device !== 'cdrom') throw unsupported(`disk device '${device}'`, `${path}/@device`);
  if (!hasMedium && device === 'disk') throw new VirtError('NO_SOURCE', disk.target?.dev ?? alias, `${path}/source`);
  const a = disk.address;
  const common = {
    id: alias,
    drive: hasMedium ? nodeNames(alias).format : undefined,
    bootindex: num(disk.boot?.order, `${path}/boot/@order`),
    serial: disk.serial,
    'write-cache': disk.driver?.cache === 'writethrough' || disk.driver?.cache === 'directsync' ? 'off' : undefined,
  };
  switch (bus) {
    case 'virtio':
      if (device === 'cdrom') throw unsupported('a virtio cdrom', `${path}/target/@bus`);
      return { driver: 'virtio-blk-pci', ...pciProps(def, a, path), ...common };
    case 'ide':
    case 'sata': {
      if (a?.type !== undefined && a.type !== 'drive') throw unsupported(`address type '${a.type}' for an ${bus} disk`, `${path}/address`);
      const ctl = num(a?.controller, `${path}/address/@controller`) ?? 0;
      const unit = num(a?.unit, `${path}/address/@unit`) ?? 0;
      if (ctl !== 0) throw unsupported(`${bus} controller ${ctl}`, `${path}/address/@controller`);
      if (bus === 'ide' && isQ35(def)) throw unsupported('an IDE disk on a q35 machine', `${path}/target/@bus`);
      if (bus === 'sata' && !isQ35(def)) throw unsupported('a SATA disk on an i440fx machine', `${path}/target/@bus`);
      // i440fx: ide.<bus> unit <unit>; q35's AHCI: one bus per port, ide.<unit>.
      const where = bus === 'ide' ? { bus: `ide.${num(a?.bus, `${path}/address/@bus`) ?? 0}`, unit } : { bus: `ide.${unit}` };
      return { driver: device === 'cdrom' ? 'ide-cd' : 'ide-hd', ...where, ...common };
    }
    case 'scsi': {
      const ctl = num(a?.controller, `${path}/address/@controller`) ?? 0;
      return {
        driver: device === 'cdrom' ? 'scsi-cd' : 'scsi-hd',
        bus: `scsi${ctl}.0`,
        channel: num(a?.bus, `${path}/address/@bus`) ?? 0,
        'scsi-id': num(a?.target, `${path}/address/@target`) ?? 0,
        lun: num(a?.unit, `${path}/address/@unit`) ?? 0,
        ...common,
      };
    }
    default:
      throw unsupported(`disk bus '${bus}'`, `${path}/target/@bus`);
  }
}

// ------------------------------------------------------------------ NICs

const NIC_MODELS: Record<string, string> = {
  virtio: 'virtio-net-pci',
  'virtio-transitional': 'virtio-net-pci-transitional',
  'virtio-non-transitional': 'virtio-net-pci-non-transitional',
  e1000: 'e1000',
  e1000e: 'e1000e',
  rtl8139: 'rtl8139',
  vmxnet3: 'vmxnet3',
  ne2k_pci: 'ne2k_pci',
  pcnet: 'pcnet',
};

/** A NIC's alias: its own, else net<index> (qemuAssignDeviceNetAlias). */
export function netAlias(net: InterfaceDef, index: number): string {
  return net.alias?.name ?? `net${index}`;
}

/** The netdev and -device of a NIC. */
export function nicParts(def: DomainDef, net: InterfaceDef, alias: string, path: string, opts: Pick<ArgvOptions, 'hostNetworks'>): { netdev: Record<string, unknown>; device: Record<string, unknown> } {
  const type = net.type ?? 'user';
  const asUser = type === 'user' || ((type === 'network' || type === 'bridge') && (opts.hostNetworks ?? 'user') === 'user');
  if (!asUser) throw unsupported(`interface type '${type}'`, `${path}/@type`);
  const model = net.model?.type ?? 'rtl8139';
  const driver = NIC_MODELS[model];
  if (!driver) throw unsupported(`NIC model '${model}'`, `${path}/model/@type`);
  const mtu = num(net.mtu?.size, `${path}/mtu/@size`);
  return {
    netdev: { type: 'user', id: netdevId(alias) },
    device: {
      driver,
      netdev: netdevId(alias),
      id: alias,
      mac: net.mac?.address,
      ...(mtu !== undefined && driver.startsWith('virtio') ? { host_mtu: mtu } : {}),
      bootindex: num(net.boot?.order, `${path}/boot/@order`),
      ...pciProps(def, net.address, path),
    },
  };
}

// ------------------------------------------------------------------ controllers

function controllerArgs(def: DomainDef): string[] {
  const out: string[] = [];
  const all = (def.devices?.controllers ?? []).map((c, i) => [c, i] as const);
  // PCI buses first, in index order: every other device may sit on one of them.
  const rank = (c: (typeof all)[number][0]) => (c.type === 'pci' ? 0 : 1);
  const ordered = [...all].sort(([a, ai], [b, bi]) => rank(a) - rank(b) || (rank(a) === 0 ? Number(a.index ?? 0) - Number(b.index ?? 0) : ai - bi));
  ordered.forEach(([c, i]) => {
    const path = `/domain/devices/controller[${i + 1}]`;
    const index = num(c.index, `${path}/@index`) ?? 0;
    const model = c.model;
    const pci = pciProps(def, c.address, path);
    switch (c.type) {
      case 'pci': {
        if (model === 'pci-root' || model === 'pcie-root') return;
        const name = c.modelName?.name;
        if (model === 'pcie-root-port') {
          out.push('-device', json({ driver: name ?? 'pcie-root-port', port: num(c.target?.port, `${path}/target/@port`), chassis: num(c.target?.chassis, `${path}/target/@chassis`), id: `pci.${index}`, ...pci }));
          return;
        }
        if (model === 'pci-bridge') {
          out.push('-device', json({ driver: 'pci-bridge', chassis_nr: num(c.target?.chassisNr, `${path}/target/@chassisNr`) ?? index, id: `pci.${index}`, ...pci }));
          return;
        }
        if (model === 'pcie-to-pci-bridge') {
          out.push('-device', json({ driver: 'pcie-pci-bridge', id: `pci.${index}`, ...pci }));
          return;
        }
        throw unsupported(`PCI controller model '${model ?? ''}'`, `${path}/@model`);
      }
      case 'usb': {
        const id = index === 0 ? 'usb' : `usb${index}`;
        if (model === 'none') return;
        const driver = model === 'piix3-uhci' ? 'piix3-usb-uhci' : model === 'qemu-xhci' ? 'qemu-xhci' : model === 'nec-xhci' ? 'nec-usb-xhci' : undefined;
        if (!driver) throw unsupported(`USB controller model '${model ?? ''}'`, `${path}/@model`);
        out.push('-device', json({ driver, id, ...(driver === 'qemu-xhci' && c.ports ? { p2: num(c.ports, `${path}/@ports`), p3: num(c.ports, `${path}/@ports`) } : {}), ...pci }));
        return;
      }
      case 'ide':
        // The PIIX3 IDE controller is part of the i440fx machine.
        if (index === 0 && !isQ35(def)) return;
        throw unsupported(`IDE controller ${index}`, path);
      case 'sata':
        // The ICH9 AHCI controller is part of the q35 machine.
        if (index === 0 && isQ35(def)) return;
        throw unsupported(`SATA controller ${index}`, path);
      case 'virtio-serial':
        out.push('-device', json({ driver: 'virtio-serial-pci', id: `virtio-serial${index}`, max_ports: num(c.ports, `${path}/@ports`), vectors: num(c.vectors, `${path}/@vectors`), ...pci }));
        return;
      case 'scsi':
        if (model !== 'virtio-scsi') throw unsupported(`SCSI controller model '${model ?? ''}'`, `${path}/@model`);
        out.push('-device', json({ driver: 'virtio-scsi-pci', id: `scsi${index}`, ...pci }));
        return;
      default:
        throw unsupported(`controller type '${c.type ?? ''}'`, `${path}/@type`);
    }
  });
  return out;
}

// ------------------------------------------------------------------ chardevs

interface ChrLike {
  readonly type?: string | undefined;
  readonly sources?: ReadonlyArray<{ readonly path?: string | undefined; readonly mode?: string | undefined; readonly host?: string | undefined; readonly service?: string | undefined; readonly append?: string | undefined }> | undefined;
  readonly log?: { readonly file?: string | undefined; readonly append?: string | undefined } | undefined;
}

/**
 * A -chardev. Headless, nobody would read a pty, a vc or stdio: those go to
 * `fallbackFile` (the run folder's serial.log) instead.
 */
function chardev(chr: ChrLike, id: string, path: string, fallbackFile: string): string {
  const src = chr.sources?.[0];
  const log = chr.log?.file ? `,logfile=${escapeOpt(chr.log.file)}${chr.log.append === 'on' ? ',logappend=on' : ''}` : '';
  switch (chr.type ?? 'pty') {
    case 'file':
      if (!src?.path) throw new VirtError('XML_ERROR', 'Missing source path attribute for char device', `${path}/source`);
      return `file,id=${id},path=${escapeOpt(src.path)}${src.append === 'on' ? ',append=on' : ''}${log}`;
    case 'pty':
    case 'vc':
    case 'stdio':
      return `file,id=${id},path=${escapeOpt(fallbackFile)},append=on${log}`;
    case 'null':
      return `null,id=${id}${log}`;
    case 'unix': {
      if (!src?.path) throw new VirtError('XML_ERROR', 'Missing source path attribute for char device', `${path}/source`);
      const server = src.mode !== 'connect';
      return `socket,id=${id},path=${escapeOpt(src.path)}${server ? ',server=on,wait=off' : ''}${log}`;
    }
    case 'tcp': {
      if (!src?.service) throw new VirtError('XML_ERROR', 'Missing source service attribute for char device', `${path}/source`);
      const server = src.mode === 'bind';
      return `socket,id=${id},host=${escapeOpt(src.host ?? '127.0.0.1')},port=${src.service}${server ? ',server=on,wait=off' : ''}${log}`;
    }
    default:
      throw unsupported(`character device type '${chr.type ?? ''}'`, `${path}/@type`);
  }
}

function chardevArgs(def: DomainDef, paths: RunPaths): string[] {
  const out: string[] = [];
  const d = def.devices;
  (d?.serials ?? []).forEach((s, i) => {
    const path = `/domain/devices/serial[${i + 1}]`;
    const type = s.target?.type ?? 'isa-serial';
    if (type !== 'isa-serial') throw unsupported(`serial target type '${type}'`, `${path}/target/@type`);
    const alias = s.alias?.name ?? `serial${i}`;
    out.push('-chardev', chardev(s, `char${alias}`, path, paths.serial));
    out.push('-device', json({ driver: 'isa-serial', chardev: `char${alias}`, id: alias, index: num(s.target?.port, `${path}/target/@port`) ?? i }));
  });
  (d?.consoles ?? []).forEach((c, i) => {
    const path = `/domain/devices/console[${i + 1}]`;
    // libvirt's first console mirrors the first serial port: nothing of its own.
    if (c.target?.type === 'serial' || c.target?.type === undefined) {
      if (i === 0 && (d?.serials?.length ?? 0) > 0) return;
    }
    throw unsupported(`console target type '${c.target?.type ?? ''}'`, `${path}/target/@type`);
  });
  (d?.channels ?? []).forEach((c, i) => {
    const path = `/domain/devices/channel[${i + 1}]`;
    if (c.target?.type !== 'virtio') throw unsupported(`channel target type '${c.target?.type ?? ''}'`, `${path}/target/@type`);
    const alias = c.alias?.name ?? `channel${i}`;
    const name = c.target.name ?? alias;
    const chr: ChrLike = c.type === 'unix' && !c.sources?.[0]?.path ? { ...c, sources: [{ mode: 'bind', path: `${paths.dir}/${name}.sock` }] } : c;
    out.push('-chardev', chardev(chr, `char${alias}`, path, paths.serial));
    const a = c.address;
    out.push('-device', json({ driver: 'virtserialport', bus: `virtio-serial${a?.controller ?? '0'}.${a?.bus ?? '0'}`, nr: num(a?.port, `${path}/address/@port`), chardev: `char${alias}`, id: alias, name }));
  });
  return out;
}

// ------------------------------------------------------------------ graphics, video, input, misc

function graphicsArgs(def: DomainDef, paths: RunPaths): string[] {
  const gs = def.devices?.graphics ?? [];
  if (gs.length === 0) return ['-display', 'none'];
  if (gs.length > 1) throw unsupported('more than one <graphics>', '/domain/devices/graphics[2]');
  const g = gs[0]!;
  const path = '/domain/devices/graphics[1]';
  if (g.type !== 'vnc') throw unsupported(`graphics type '${g.type ?? ''}'`, `${path}/@type`);
  const listen = g.listens?.[0];
  let vnc: string;
  if (g.socket || listen?.type === 'socket') {
    vnc = `unix:${escapeOpt(g.socket ?? listen?.socket ?? paths.vnc)}`;
  } else if (listen?.type === 'none') {
    vnc = 'none';
  } else {
    const address = listen?.address ?? g.listen ?? '127.0.0.1';
    const host = address.includes(':') ? `[${address}]` : address;
    const auto = g.autoport === 'yes' || g.port === undefined || g.port === '-1';
    // autoport: the first free display from :0 (port 5900) on.
    vnc = auto ? `${host}:0,to=99` : `${host}:${(num(g.port, `${path}/@port`) ?? 5900) - 5900}`;
  }
  return ['-display', 'none', '-vnc', vnc];
}

const VIDEO: Record<string, [primary: string, secondary?: string]> = {
  cirrus: ['cirrus-vga'],
  vga: ['VGA'],
  virtio: ['virtio-vga', 'virtio-gpu-pci'],
  qxl: ['qxl-vga', 'qxl'],
  bochs: ['bochs-display'],
  ramfb: ['ramfb'],
};

function videoArgs(def: DomainDef): string[] {
  const out: string[] = [];
  (def.devices?.videos ?? []).forEach((v, i) => {
    const path = `/domain/devices/video[${i + 1}]`;
    const type = v.model?.type ?? 'cirrus';
    if (type === 'none') return;
    const drivers = VIDEO[type];
    if (!drivers) throw unsupported(`video model '${type}'`, `${path}/model/@type`);
    const driver = i === 0 ? drivers[0] : drivers[1];
    if (!driver) throw unsupported(`a secondary '${type}' video`, `${path}/model/@type`);
    out.push('-device', json({ driver, id: v.alias?.name ?? `video${i}`, ...(type === 'ramfb' ? {} : pciProps(def, v.address, path)) }));
  });
  return out;
}

function inputArgs(def: DomainDef): string[] {
  const out: string[] = [];
  (def.devices?.inputs ?? []).forEach((inp, i) => {
    const path = `/domain/devices/input[${i + 1}]`;
    if (inp.bus === 'ps2') return; // built into the PC machines
    const kinds: Record<string, string> = { tablet: 'tablet', mouse: 'mouse', keyboard: inp.bus === 'usb' ? 'kbd' : 'keyboard' };
    const kind = kinds[inp.type ?? ''];
    if (!kind || (inp.bus !== 'usb' && inp.bus !== 'virtio')) throw unsupported(`input '${inp.type ?? ''}' on bus '${inp.bus ?? ''}'`, path);
    const id = inp.alias?.name ?? `input${i}`;
    if (inp.bus === 'usb') {
      const port = inp.address?.type === 'usb' ? inp.address.port : undefined;
      out.push('-device', json({ driver: `usb-${kind}`, id, bus: `usb.${inp.address?.bus ?? '0'}`, port }));
    } else {
      out.push('-device', json({ driver: `virtio-${kind}-pci`, id, ...pciProps(def, inp.address, path) }));
    }
  });
  return out;
}

function miscArgs(def: DomainDef): string[] {
  const d = def.devices;
  const out: string[] = [];
  const b = d?.memballoon;
  if (b && b.model !== 'none') {
    if (b.model !== 'virtio') throw unsupported(`memballoon model '${b.model ?? ''}'`, '/domain/devices/memballoon/@model');
    out.push('-device', json({ driver: 'virtio-balloon-pci', id: b.alias?.name ?? 'balloon0', ...pciProps(def, b.address, '/domain/devices/memballoon') }));
  }
  (d?.rngs ?? []).forEach((r, i) => {
    const path = `/domain/devices/rng[${i + 1}]`;
    if (r.model !== 'virtio') throw unsupported(`rng model '${r.model ?? ''}'`, `${path}/@model`);
    const alias = r.alias?.name ?? `rng${i}`;
    const backend = r.backend;
    if (backend?.model === 'random') out.push('-object', json({ 'qom-type': 'rng-random', id: `obj${alias}`, filename: backend.text ?? '/dev/urandom' }));
    else if (backend?.model === 'builtin') out.push('-object', json({ 'qom-type': 'rng-builtin', id: `obj${alias}` }));
    else throw unsupported(`rng backend '${backend?.model ?? ''}'`, `${path}/backend/@model`);
    out.push('-device', json({ driver: 'virtio-rng-pci', rng: `obj${alias}`, id: alias, ...pciProps(def, r.address, path) }));
  });
  (d?.audios ?? []).forEach((a, i) => {
    if (a.type !== 'none') throw unsupported(`audio type '${a.type ?? ''}'`, `/domain/devices/audio[${i + 1}]/@type`);
    out.push('-audiodev', `none,id=audio${a.id ?? i + 1}`);
  });
  return out;
}

/** Device kinds with no support at all: the first present one fails the start. */
const UNSUPPORTED_KINDS: ReadonlyArray<[key: string, element: string]> = [
  ['leases', 'lease'], ['filesystems', 'filesystem'], ['smartcards', 'smartcard'], ['parallels', 'parallel'], ['tpms', 'tpm'],
  ['sounds', 'sound'], ['hostdevs', 'hostdev'], ['redirdevs', 'redirdev'], ['redirfilter', 'redirfilter'], ['hubs', 'hub'],
  ['watchdog', 'watchdog'], ['nvram', 'nvram'], ['panics', 'panic'], ['shmems', 'shmem'], ['memoryDevices', 'memory'],
  ['iommu', 'iommu'], ['vsock', 'vsock'],
];

function refuseUnsupported(def: DomainDef): void {
  const d = (def.devices ?? {}) as Record<string, unknown>;
  for (const [key, element] of UNSUPPORTED_KINDS) {
    const v = d[key];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    throw unsupported(`<${element}>`, Array.isArray(v) ? `/domain/devices/${element}[1]` : `/domain/devices/${element}`);
  }
  if (def.memoryBacking?.hugepages) throw unsupported('hugepages', '/domain/memoryBacking/hugepages');
}

// ------------------------------------------------------------------ whole

/** The emulator binary: the definition's <emulator>, else qemu-system-x86_64. */
export function emulatorOf(def: DomainDef, override?: string): string {
  return override ?? def.devices?.emulator ?? '/usr/bin/qemu-system-x86_64';
}

/**
 * argv (without the emulator) for `def`. QEMU starts with its CPUs stopped
 * (-S), as under libvirt: the caller `cont`s once QMP is connected, so nothing
 * runs before the hypervisor watches it. An incoming migration instead starts
 * without -S: QEMU resumes the guest itself when the state has arrived, in the
 * run state the source had.
 */
export function buildArgv(def: DomainDef, opts: ArgvOptions): string[] {
  if (!def.uuid) throw new VirtError('XML_ERROR', 'missing uuid', '/domain/uuid');
  if (!def.name) throw new VirtError('NO_NAME', 'domain', '/domain/name');
  for (const p of [opts.paths.qmp]) {
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH) throw new VirtError('CONFIG_UNSUPPORTED', `run folder path too long for a unix socket: '${p}'`);
  }
  refuseUnsupported(def);
  const acc = accel(def, opts);
  const argv: string[] = [
    '-name', `guest=${escapeOpt(def.name)},debug-threads=on`,
    '-uuid', def.uuid,
    ...machineArgs(def, acc),
    ...cpuArgs(def, acc, opts.hostCpuFlags),
    ...memoryArgs(def),
    '-overcommit', 'mem-lock=off',
    ...smpArgs(def),
    '-no-user-config', '-nodefaults',
    '-qmp', `unix:${escapeOpt(opts.paths.qmp)},server=on,wait=off`,
    '-pidfile', opts.paths.pidfile,
    ...clockArgs(def),
    ...lifecycleArgs(def),
    ...osArgs(def),
    ...controllerArgs(def),
  ];
  (def.devices?.disks ?? []).forEach((disk, i) => {
    const path = `/domain/devices/disk[${i + 1}]`;
    for (const node of diskBlockdevs(disk, path)) argv.push('-blockdev', json(node));
    argv.push('-device', json(diskDevice(def, disk, path)));
  });
  (def.devices?.interfaces ?? []).forEach((net, i) => {
    const { netdev, device } = nicParts(def, net, netAlias(net, i), `/domain/devices/interface[${i + 1}]`, opts);
    argv.push('-netdev', json(netdev), '-device', json(device));
  });
  argv.push(...chardevArgs(def, opts.paths), ...inputArgs(def), ...graphicsArgs(def, opts.paths), ...videoArgs(def), ...miscArgs(def));
  if (opts.incoming) argv.push('-incoming', `tcp:${opts.incoming.host.includes(':') ? `[${opts.incoming.host}]` : opts.incoming.host}:${opts.incoming.port}`);
  else argv.push('-S');
  argv.push('-msg', 'timestamp=on');
  return argv;
}

// ------------------------------------------------------------------ hotplug

/** What hot-plugging `dev` into the running `def` takes, and the alias it gets. */
export function hotplugCalls(def: DomainDef, dev: DeviceDef, opts: Pick<ArgvOptions, 'hostNetworks'> & { readonly takenAliases: ReadonlySet<string> }): { alias: string; calls: QmpCall[] } {
  if (dev.kind === 'disk') {
    const disk = dev.def;
    const path = `/domain/devices/disk[${(def.devices?.disks?.length ?? 0) + 1}]`;
    const bus = disk.target?.bus;
    if (bus !== 'virtio' && bus !== 'scsi') throw new VirtError('CONFIG_UNSUPPORTED', `disk bus '${bus ?? ''}' cannot be hotplugged`, `${path}/target/@bus`);
    const alias = diskAlias(disk);
    const calls: QmpCall[] = diskBlockdevs(disk, path).map((node) => ({ execute: 'blockdev-add', arguments: node }));
    calls.push({ execute: 'device_add', arguments: dropUndefined(diskDevice(def, disk, path)) });
    return { alias, calls };
  }
  if (dev.kind === 'interface') {
    const net = dev.def;
    let alias = net.alias?.name;
    for (let n = 0; alias === undefined; n++) if (!opts.takenAliases.has(`net${n}`)) alias = `net${n}`;
    const { netdev, device } = nicParts(def, net, alias, `/domain/devices/interface[${(def.devices?.interfaces?.length ?? 0) + 1}]`, opts);
    return { alias, calls: [{ execute: 'netdev_add', arguments: dropUndefined(netdev) }, { execute: 'device_add', arguments: dropUndefined(device) }] };
  }
  throw new VirtError('CONFIG_UNSUPPORTED', `live attach of device '${dev.kind}' is not supported`, `/domain/devices/${dev.kind}`);
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
