/**
 * detach-device and update-device on a persistent definition, as libvirt's
 * QEMU driver does them with --config (qemuDomainDetachDeviceConfig,
 * qemuDomainUpdateDeviceConfig): the device XML is parsed and post-parsed in
 * the domain's context (detach skips its validation, as libvirt parses it with
 * VIR_DOMAIN_DEF_PARSE_SKIP_VALIDATE), the device it means is found the way
 * libvirt finds it (edit/match.ts), removed or replaced, and the whole
 * definition goes through post-parse and validation again. Errors carry
 * libvirt's codes and messages. Pure: no I/O, randomness handed in.
 */
import { produce } from 'immer';
import { VirtError } from '../errors.ts';
import type { DeviceDef, DeviceKind, DomainDef } from '../domain/types.ts';
import { readXml } from '../xml/read.ts';
import { readDevice } from '../domain/parse.ts';
import { childElements } from '../xml/tree.ts';
import { deviceKey, getDevice, type DeviceRef } from '../postparse/devices.ts';
import { defineDevice, postParseDomain, type PostParseOptions, type PostParseResult } from '../postparse/runner.ts';
import { deviceTypeName, driverAllows } from '../postparse/edit-rules.ts';
import {
  chrEquals, diskIndexByName, hostdevMatch, inputEquals, kib, leaseIndex, memoryFindByInfo, memoryFindInactive, netFindIdx, num, obj,
  redirdevMatches, rngMatches, shmemEquals, soundEquals, str, vsockEquals, type Loose,
} from './match.ts';

export interface Edited {
  /** The definition after the change, post-parsed and validated again. */
  readonly domain: DomainDef;
  /** detach: the device removed, as the definition had it; update: the new device, as it now is. */
  readonly device: DeviceDef;
  /** Where the device was (detach) or is (update): `/domain/devices/disk[2]`. */
  readonly path: string;
}


/** Whether the device XML itself gave a MAC address (libvirt's !mac_generated): the parse fills one otherwise. */
function macSpecified(xml: string | Uint8Array, kind: DeviceKind, opts: PostParseOptions): boolean {
  if (kind !== 'interface') return false;
  const root = readXml(xml, { documentName: '(device_definition)', ...opts.read });
  return childElements(root).some((c) => c.name === 'mac' && c.attrs.address !== undefined);
}

function list(domain: DomainDef, kind: DeviceKind): readonly Loose[] {
  const v = (domain.devices as Loose | undefined)?.[deviceKey(kind).key];
  return Array.isArray(v) ? (v as Loose[]) : v === undefined ? [] : [v as Loose];
}

function ref(kind: DeviceKind, index: number): DeviceRef {
  const { many } = deviceKey(kind);
  return { kind, index, path: `/domain/devices/${kind}${many ? `[${index + 1}]` : ''}` };
}

const missing = (detail: string, path: string) => new VirtError('DEVICE_MISSING', detail, path);

/** The device(s) a detach removes (a chardev may take the console that mirrors it along), or libvirt's error. */
function detachTargets(domain: DomainDef, dev: DeviceDef, mac: boolean): DeviceRef[] {
  const kind = dev.kind;
  const want = dev.def as Loose;
  const have = list(domain, kind);
  const found = (i: number, err: () => VirtError): DeviceRef[] => {
    if (i < 0) throw err();
    return [ref(kind, i)];
  };
  switch (kind) {
    case 'disk': {
      const dst = str(obj(want.target).dev) ?? '';
      return found(diskIndexByName(have, dst), () => missing(`no target device ${dst}`, '/disk/target/@dev'));
    }
    case 'interface':
      return [ref(kind, netFindIdx(have, want, mac))];
    case 'sound':
      return found(have.findIndex((s) => soundEquals(want, s)), () => missing('device not present in domain configuration', '/sound'));
    case 'hostdev':
      return found(have.findIndex((h) => hostdevMatch(want, h)), () => missing('device not present in domain configuration', '/hostdev/source'));
    case 'lease':
      return found(leaseIndex(have, want), () => missing(`Lease ${str(want.key) ?? '(null)'} in lockspace ${str(want.lockspace) ?? '(null)'} does not exist`, '/lease'));
    case 'controller':
      return found(
        have.findIndex((c) => str(c.type) === str(want.type) && num(c.index) === num(want.index)),
        () => missing('device not present in domain configuration', '/controller'),
      );
    case 'serial':
    case 'parallel':
    case 'console':
    case 'channel':
      return chrTargets(domain, kind, want);
    case 'filesystem':
      return found(have.findIndex((f) => str(obj(f.target).dir) === str(obj(want.target).dir)), () => missing('no matching filesystem device was found', '/filesystem/target/@dir'));
    case 'rng':
      return found(have.findIndex((r) => rngMatches(want, r)), () => missing('no matching RNG device was found', '/rng'));
    case 'memory':
      return found(memoryFindInactive(have, want), () => missing('matching memory device was not found', '/memory'));
    case 'redirdev':
      // libvirt's message, its double negative included.
      return found(have.findIndex((r) => redirdevMatches(want, r)), () => missing('no matching redirdev was not found', '/redirdev'));
    case 'shmem':
      return found(have.findIndex((s) => shmemEquals(want, s)), () => missing('matching shmem device was not found', '/shmem'));
    case 'watchdog':
      return found(have.length ? 0 : -1, () => missing('domain has no watchdog', '/watchdog'));
    case 'input':
      return found(have.findIndex((x) => inputEquals(want, x)), () => missing('matching input device not found', '/input'));
    case 'vsock':
      return found(have.length && vsockEquals(want, have[0]!) ? 0 : -1, () => new VirtError('OPERATION_FAILED', 'matching vsock device not found', '/vsock'));
    default:
      throw new VirtError('OPERATION_UNSUPPORTED', `persistent detach of device '${deviceTypeName(kind)}' is not supported`, `/${kind}`);
  }
}

/** qemuDomainChrRemove. */
function chrTargets(domain: DomainDef, kind: DeviceKind, want: Loose): DeviceRef[] {
  if (kind === 'console' && str(obj(want.target).type) === 'serial') {
    throw new VirtError('OPERATION_INVALID', 'detaching serial console is not supported', '/console/target/@type');
  }
  const i = list(domain, kind).findIndex((c) => chrEquals(kind, c, want));
  if (i < 0) throw new VirtError('INVALID_ARG', 'device not present in domain configuration', `/${kind}`);
  // The first serial port is mirrored by the first console: removing it removes that console too.
  const serials = list(domain, 'serial');
  const consoles = list(domain, 'console');
  const compat = kind === 'serial' && i === 0 && serials.length > 0 && consoles.length > 0 && str(obj(consoles[0]!.target).type) === 'serial';
  return compat ? [ref(kind, i), ref('console', 0)] : [ref(kind, i)];
}

function without(domain: DomainDef, refs: readonly DeviceRef[], memoryKiB: number): DomainDef {
  return produce(domain, (d) => {
    const devs = d.devices as Record<string, unknown>;
    for (const r of refs) {
      const { key, many } = deviceKey(r.kind);
      if (!many) delete devs[key];
      else {
        const arr = devs[key] as unknown[];
        arr.splice(r.index, 1);
        if (arr.length === 0) delete devs[key];
      }
    }
    // A detached memory module takes its size out of the balloon (vmdef->mem.cur_balloon -= mem->size).
    if (memoryKiB > 0 && d.currentMemory?.text !== undefined) d.currentMemory.text = String(Math.max(0, Number(d.currentMemory.text) - memoryKiB));
  });
}

const driverOf = (domain: DomainDef, opts: PostParseOptions) => {
  if (opts.driver) return opts.driver;
  if (!opts.registry) throw new Error('a device edit needs a driver or a registry');
  return opts.registry.forType(domain.type);
};

/**
 * detach-device --config: removes the device the XML matches and post-parses
 * the definition again. The device XML is post-parsed first (no validation,
 * no operator stages: it only names a device).
 */
export function detachDevice(domain: DomainDef, xml: string | Uint8Array, opts: PostParseOptions): PostParseResult<Edited> {
  const driver = driverOf(domain, opts);
  const { kind } = readDevice(xml, { ...opts.read, random: () => new Uint8Array(6) }).def;
  // The device is post-parsed as if it were the only one of its kind: the domain-wide rules
  // would otherwise reject it as a duplicate (a serial port, a controller index already taken)
  // of the very device it names. libvirt's device parse checks no duplicates either.
  const single = defineDevice(xml, without(domain, list(domain, kind).map((_, i) => ref(kind, i)).reverse(), 0), {
    caps: opts.caps, driver, flags: { ...opts.flags, skipValidate: true }, provenance: false,
    ...(opts.random ? { random: opts.random } : {}), ...(opts.read ? { read: opts.read } : {}),
  });
  const rules = driverAllows(driver.name, 'detach', kind);
  let targets: DeviceRef[];
  try {
    targets = detachTargets(domain, single.def, macSpecified(xml, single.def.kind, opts));
  } catch (e) {
    // LXC and libxl report a disk, hostdev or controller they cannot find as an invalid argument.
    if (rules && e instanceof VirtError && e.code === 'DEVICE_MISSING' && kind !== 'interface') throw new VirtError('INVALID_ARG', e.detail, e.path);
    throw e;
  }
  const first = targets[0]!;
  const removed = getDevice(domain, first)!;
  const memKiB = removed.kind === 'memory' ? kib(obj(obj(removed.def as Loose).target).size) : 0;
  const whole = postParseDomain(without(domain, targets, memKiB), { ...opts, driver });
  return { def: { domain: whole.def, device: removed, path: first.path }, provenance: whole.provenance, warnings: single.warnings, driver: whole.driver };
}

/** Where an update-device's XML goes, or libvirt's error (qemuDomainUpdateDeviceConfig). */
function updateTarget(domain: DomainDef, dev: DeviceDef, mac: boolean): DeviceRef {
  const want = dev.def as Loose;
  const have = list(domain, dev.kind);
  switch (dev.kind) {
    case 'disk': {
      const dst = str(obj(want.target).dev) ?? '';
      const i = diskIndexByName(have, dst);
      if (i < 0) throw new VirtError('INVALID_ARG', `target ${dst} doesn't exist.`, '/disk/target/@dev');
      return ref('disk', i);
    }
    case 'graphics': {
      const i = have.findIndex((g) => str(g.type) === str(want.type));
      if (i < 0) throw new VirtError('INVALID_ARG', `cannot find existing graphics type '${str(want.type)}' device to modify`, '/graphics/@type');
      return ref('graphics', i);
    }
    case 'interface':
      return ref('interface', netFindIdx(have, want, mac));
    case 'memory': {
      const i = memoryFindByInfo(have, want);
      if (i < 0) throw new VirtError('INVALID_ARG', 'memory not found', '/memory');
      return ref('memory', i);
    }
    default:
      throw new VirtError('OPERATION_UNSUPPORTED', `persistent update of device '${deviceTypeName(dev.kind)}' is not supported`, `/${dev.kind}`);
  }
}

const BOOTABLE: readonly DeviceKind[] = ['disk', 'interface', 'hostdev', 'filesystem', 'redirdev'];
const isUsb = (dev: DeviceDef): boolean => {
  const d = dev.def as Loose;
  switch (dev.kind) {
    case 'disk': return str(obj(d.target).bus) === 'usb';
    case 'input': return str(d.bus) === 'usb';
    case 'hostdev': return (str(d.mode) ?? 'subsystem') === 'subsystem' && str(d.type) === 'usb';
    case 'hub': return str(d.type) === 'usb';
    case 'redirdev': return str(d.bus) === 'usb';
    default: return false;
  }
};

/** virDomainDefCompatibleDevice(def, dev, oldDev, UPDATE, live=false). */
function compatible(domain: DomainDef, dev: DeviceDef, old: DeviceRef): void {
  const hasUsb = list(domain, 'controller').some((c) => str(c.type) === 'usb' && str(c.model) !== 'none');
  if (!hasUsb && domain.os?.type?.text !== 'exe' && isUsb(dev)) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'Device configuration is not compatible: Domain has no USB bus support', `/${dev.kind}`);
  }
  const order = num(obj(obj(dev.def as Loose).boot).order);
  if (order > 0) {
    if ((domain.os?.boots?.length ?? 0) > 0) throw new VirtError('CONFIG_UNSUPPORTED', 'per-device boot elements cannot be used together with os/boot elements', `/${dev.kind}/boot/@order`);
    for (const kind of BOOTABLE) {
      list(domain, kind).forEach((d, i) => {
        if (kind === old.kind && i === old.index) return;
        if (num(obj(d.boot).order) === order) throw new VirtError('CONFIG_UNSUPPORTED', `boot order ${order} is already used by another device`, `/${dev.kind}/boot/@order`);
      });
    }
  }
}

/**
 * update-device --config: the new device (post-parsed and validated in the
 * domain's context, the operator's device stages included) replaces the one
 * it names — a disk by target, an interface as virDomainNetFindIdx finds it,
 * graphics by type, a memory module by address — and the definition is
 * post-parsed again. libvirt's config update replaces the whole device (a
 * cdrom's new media, an interface's link state or bandwidth, ...); other
 * kinds are refused with OPERATION_UNSUPPORTED.
 */
export function updateDevice(domain: DomainDef, xml: string | Uint8Array, opts: PostParseOptions): PostParseResult<Edited> {
  const driver = driverOf(domain, opts);
  // What names the device to replace (target dev, MAC, address, alias, graphics type) is
  // what the user wrote: the parse alone finds it, and refuses a kind libvirt cannot update.
  const probe = readDevice(xml, { ...opts.read, random: () => new Uint8Array(6) }).def;
  const rules = driverAllows(driver.name, 'update', probe.kind);
  const target = updateTarget(domain, probe, macSpecified(xml, probe.kind, opts));
  if (rules && driver.name === 'xen' && target.kind === 'disk') return updateXenMedia(domain, xml, target, { ...opts, driver });
  // Validated against the domain without the device it replaces (a disk keeps its target).
  const rest = without(domain, [target], 0);
  const single = defineDevice(xml, rest, { ...opts, driver });
  compatible(domain, single.def, target);
  const { key } = deviceKey(target.kind);
  const replaced = produce(domain, (d) => {
    const arr = (d.devices as Record<string, unknown[]>)[key]!;
    arr[target.index] = single.def.def as never;
  });
  const whole = postParseDomain(replaced, { ...opts, driver });
  return {
    def: { domain: whole.def, device: getDevice(whole.def, target)!, path: target.path },
    provenance: [...single.provenance, ...whole.provenance],
    warnings: single.warnings,
    driver: whole.driver,
  };
}

/**
 * libxl's config update of a disk: only a cdrom's media — its source, type, format and driver
 * name take the new device's; the rest of the disk stays as it was.
 */
function updateXenMedia(domain: DomainDef, xml: string | Uint8Array, target: DeviceRef, opts: PostParseOptions): PostParseResult<Edited> {
  const orig = getDevice(domain, target)!.def as Loose;
  if (str(orig.device) !== 'cdrom') throw new VirtError('INVALID_ARG', "this disk doesn't support update", '/disk');
  const rest = without(domain, [target], 0);
  const single = defineDevice(xml, rest, opts);
  const next = single.def.def as Loose;
  const driverOf = (d: Loose) => obj(d.driver);
  const replaced = produce(domain, (d) => {
    const disk = (d.devices as Record<string, Record<string, unknown>[]>).disks![target.index]!;
    const put = (k: string, v: unknown) => (v === undefined ? delete disk[k] : (disk[k] = v));
    put('type', next.type);
    put('source', next.source);
    const drv: Record<string, unknown> = { ...driverOf(orig) };
    for (const k of ['name', 'type'] as const) {
      if (driverOf(next)[k] === undefined) delete drv[k];
      else drv[k] = driverOf(next)[k];
    }
    put('driver', Object.keys(drv).length ? drv : undefined);
  });
  const whole = postParseDomain(replaced, opts);
  return {
    def: { domain: whole.def, device: getDevice(whole.def, target)!, path: target.path },
    provenance: [...single.provenance, ...whole.provenance],
    warnings: single.warnings,
    driver: whole.driver,
  };
}
