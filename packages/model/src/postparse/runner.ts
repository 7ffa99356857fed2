/**
 * The post-parse runner, in libvirt's order:
 *   parse → driver basic → driver data → generic early → driver domain →
 *   generic after-domain → for each device (driver device, generic device,
 *   feature checks) → generic common → driver addresses → feature checks →
 *   validation (driver domain, per device generic then driver, generic domain)
 *   → libvirt's formatter spelling (generic format) → operator policy stages.
 * A single device parsed against a domain runs the device steps and the
 * device validation only. An error anywhere fails the whole parse: nothing
 * half-enriched is ever returned.
 */
import { produce } from 'immer';
import { deepFreeze } from '../util/freeze.ts';
import { VirtError } from '../errors.ts';
import type { Capabilities } from '../caps/types.ts';
import type { Warning } from '../codec/codec.ts';
import { readDevice, readDomain, type ParseOptions } from '../domain/parse.ts';
import type { DeviceDef, DomainDef } from '../domain/types.ts';
import type { ReadOptions } from '../xml/read.ts';
import { type DeviceRef, listDevices, getDevice, setDevice, deviceKey, eachDeviceAt } from './devices.ts';
import { checkDeviceFeatures, checkDomainFeatures } from './features.ts';
import { driverAllows } from './edit-rules.ts';
import { checkUsbControllers } from '../domain/rules/device-parse.ts';
import { genericCommon, genericDevice, genericDeviceAgain, genericDeviceValidate, genericDomainValidate, genericEarly, genericFormat } from './generic/index.ts';
import type { DriverRegistry } from './registry.ts';
import { deviceRules, deviceValidators, domainRules, domainValidators, makeRecorder, type Recorder } from './rules.ts';
import type { Ctx, DriverConf, ParseFlags, PolicyStage, Provenance } from './types.ts';

export interface PostParseOptions {
  readonly caps: Capabilities;
  /** The driver to use; else the registry picks it by domain type. */
  readonly driver?: DriverConf<any>;
  readonly registry?: DriverRegistry;
  readonly flags?: Partial<ParseFlags>;
  readonly random?: (bytes: Uint8Array) => Uint8Array;
  /** Extra stages for this call, after the registry's. */
  readonly stages?: readonly PolicyStage[];
  readonly read?: ReadOptions;
  /** Record what each step filled and why (default true). Without it, rules run in place: faster. */
  readonly provenance?: boolean;
}

export interface PostParseResult<T> {
  readonly def: T;
  readonly provenance: readonly Provenance[];
  readonly warnings: readonly Warning[];
  readonly driver: string;
}

const DEFAULT_FLAGS: ParseFlags = Object.freeze({ inactive: true, abiUpdate: true, skipValidate: false });

const runGenericEarly = domainRules(genericEarly);
const runGenericDevices = domainRules(genericDevice);
const runGenericDevicesAgain = domainRules(genericDeviceAgain);
const runGenericCommon = domainRules(genericCommon);
const runGenericDeviceValidate = domainValidators(genericDeviceValidate);
const runGenericDomainValidate = domainValidators(genericDomainValidate);
const runGenericFormat = domainRules(genericFormat);

function defaultRandom(bytes: Uint8Array): Uint8Array {
  return globalThis.crypto.getRandomValues(bytes);
}

/**
 * One post-parse run: its context, what it recorded, and whose step is running.
 * A class rather than named closures over locals: this is made for every
 * definition, and under tsx (esbuild's keepNames) every named closure made
 * costs an Object.defineProperty of its name.
 */
class Session {
  /** The actor each step is recorded under: the driver's name, 'generic' or a stage's name. */
  actor = 'generic';
  readonly provenance: Provenance[] = [];
  readonly ctx: Ctx<any> & { recorder: Recorder | undefined; inPlace: boolean; devicePath?: string; parseContext: unknown };

  constructor(driver: DriverConf<any>, opts: PostParseOptions) {
    const wanted = opts.provenance !== false;
    const recorder = wanted ? makeRecorder(() => this.actor, (p) => this.provenance.push(p)) : undefined;
    const self = this;
    this.ctx = {
      caps: opts.caps,
      data: undefined as unknown,
      flags: driver.parseFlags || opts.flags ? { ...DEFAULT_FLAGS, ...driver.parseFlags, ...opts.flags } : DEFAULT_FLAGS,
      driver,
      random: opts.random ?? defaultRandom,
      recorder,
      inPlace: !wanted,
      devicePath: undefined as string | undefined,
      /** The generic rules' parse context, made on first use (generic/index.ts). */
      parseContext: undefined as unknown,
      filled(path: string, value: string | null, why: string, rule = 'manual') {
        if (wanted) self.provenance.push({ path, value, driver: self.actor, rule, why });
      },
    };
  }

  setActor(name: string): void {
    this.actor = name;
  }
}

function session(driver: DriverConf<any>, opts: PostParseOptions): Session {
  return new Session(driver, opts);
}

function pickDriver(def: { type?: string }, opts: PostParseOptions): DriverConf<any> {
  if (opts.driver) return opts.driver;
  if (!opts.registry) throw new Error('postParse needs a driver or a registry');
  return opts.registry.forType(def.type);
}

/** The parse-time defaults of the driver that will take a domain of a type (a closure without a name to keep: see Session). */
function driverDefaultsOf(opts: PostParseOptions): NonNullable<ParseOptions['driverDefaults']> {
  return (type) => {
    const d = opts.driver ?? (type !== undefined && opts.registry?.has(type) ? opts.registry.forType(type) : undefined);
    return { defArch: d?.defArch ?? opts.caps.host.arch, ...(d?.macPrefix ? { macPrefix: d.macPrefix } : {}) };
  };
}

/** Parses a domain XML and runs the full post-parse for its driver. */
export function defineDomain(xml: string | Uint8Array, opts: PostParseOptions): PostParseResult<DomainDef> {
  const parsed = readDomain(xml, {
    ...opts.read,
    mutable: opts.provenance === false,
    ...(opts.random ? { random: opts.random } : {}),
    driverDefaults: driverDefaultsOf(opts),
  });
  const result = postParseDomain(parsed.def, opts);
  return { ...result, warnings: [...parsed.warnings, ...result.warnings] };
}

/** Runs driver and generic post-parse and validation on a parsed definition. */
export function postParseDomain(parsed: DomainDef, opts: PostParseOptions): PostParseResult<DomainDef> {
  const driver = pickDriver(parsed, opts);
  const s = session(driver, opts);
  const { ctx } = s;
  // In place, the rules need a private, unfrozen copy.
  let def = ctx.inPlace && Object.isFrozen(parsed) ? (structuredClone(parsed) as DomainDef) : parsed;
  // Each step is recorded under its actor: the driver's name, 'generic' or a stage's name.
  s.setActor(driver.name);
  if (driver.domainPostParseBasic) def = driver.domainPostParseBasic(def, ctx);
  (ctx as { data: unknown }).data = driver.createData ? driver.createData(opts.caps, def) : undefined;
  s.setActor('generic');
  def = runGenericEarly(def, ctx);
  s.setActor(driver.name);
  if (driver.domainPostParse) def = driver.domainPostParse(def, ctx);
  def = driverDevicePass(def, listDevices(def), driver, s);
  s.setActor('generic');
  def = runGenericDevices(def, ctx);
  def = runGenericCommon(def, ctx);
  // §8.11–8.13: the primary video, the first serial and SCSI controllers without a model
  // (often implicit ones) go through the device post-parse again.
  const again = devicesAgain(def);
  if (again.length) {
    def = driverDevicePass(def, again, driver, s);
    s.setActor('generic');
    def = ctx.inPlace ? runGenericDevicesAgain(def, ctx) : runGenericDevices(def, ctx);
  }
  s.setActor(driver.name);
  if (driver.assignAddresses) def = driver.assignAddresses(def, ctx);
  def = checkDomainFeatures(def, driver);
  if (!ctx.flags.skipValidate) validateDomain(def, driver, ctx);
  s.setActor('generic');
  def = runGenericFormat(def, ctx);
  s.setActor(driver.name);
  if (driver.define) def = driver.define(def, ctx);
  const stages = opts.registry?.stages ?? [];
  for (const stage of opts.stages ? [...stages, ...opts.stages] : stages) {
    s.setActor(stage.name);
    def = runStage(stage, def, ctx);
  }
  return { def: deepFreeze(def), provenance: s.provenance, warnings: [], driver: driver.name };
}

/**
 * The devices the device post-parse sees again, in libvirt's visiting order:
 * the primary video (unless a first video of type none was cleared instead,
 * virDomainDefPostParseVideo), the SCSI controllers without a model, the
 * first serial.
 */
function devicesAgain(def: DomainDef): DeviceRef[] {
  const out: DeviceRef[] = [];
  const devs = def.devices;
  if (!devs) return out;
  const video = devs.videos?.[0] as { model?: { type?: string } } | undefined;
  if (video !== undefined && video.model?.type !== 'none') out.push({ kind: 'video', index: 0, path: '/domain/devices/video[1]' });
  const controllers = (devs.controllers ?? []) as ReadonlyArray<{ type?: string; model?: string }>;
  for (let i = 0; i < controllers.length; i++) {
    const c = controllers[i]!;
    if (c.type === 'scsi' && c.model === undefined) out.push({ kind: 'controller', index: i, path: `/domain/devices/controller[${i + 1}]` });
  }
  if (devs.serials?.length) out.push({ kind: 'serial', index: 0, path: '/domain/devices/serial[1]' });
  return out;
}

/** The driver's device callback and the feature checks, for the given devices in order. */
function driverDevicePass(def: DomainDef, refs: readonly DeviceRef[], driver: DriverConf<any>, s: Session): DomainDef {
  const { ctx } = s;
  s.setActor(driver.name);
  for (const ref of refs) {
    ctx.devicePath = ref.path;
    const before = getDevice(def, ref)!;
    const dev = driver.devicePostParse ? driver.devicePostParse(before, def, ctx) : before;
    checkDeviceFeatures(dev, driver, ref.path);
    if (dev.def !== before.def) def = ctx.inPlace ? (withDevice(def, ref, dev, true), def) : withDeviceCopied(def, ref, dev);
  }
  ctx.devicePath = undefined;
  return def;
}

/**
 * virDomainDefValidate: the driver's domain check, the generic device checks,
 * the driver's device checks, then the generic domain checks.
 */
function validateDomain(def: DomainDef, driver: DriverConf<any>, ctx: Session['ctx']): void {
  driver.domainValidate?.(def, ctx);
  runGenericDeviceValidate(def, ctx);
  if (driver.deviceValidate) {
    eachDeviceAt(def, (dev, path) => {
      ctx.devicePath = path;
      driver.deviceValidate!(dev, def, ctx);
    });
    ctx.devicePath = undefined;
  }
  runGenericDomainValidate(def, ctx);
}

/** One operator stage over a definition: its domain step, then its device step for each device. */
export function runStage(stage: PolicyStage, def: DomainDef, ctx: Ctx<unknown> & { devicePath?: string | undefined }): DomainDef {
  if (stage.domain) def = stage.domain(def, ctx) ?? def;
  if (stage.device) {
    for (const ref of listDevices(def)) {
      ctx.devicePath = ref.path;
      const dev = getDevice(def, ref)!;
      const next = stage.device(dev, def, ctx);
      if (next && next.def !== dev.def) def = setDevice(def, ref, next);
    }
    ctx.devicePath = undefined;
  }
  return def;
}

/**
 * One device parsed in the context of a domain (attach-device): the driver's
 * and the generic device steps, the feature checks and the device
 * validation; none of the domain-level steps.
 */
export function defineDevice(xml: string | Uint8Array, domain: DomainDef, opts: PostParseOptions): PostParseResult<DeviceDef> {
  const parsed = readDevice(xml, { ...opts.read, ...(opts.random ? { random: opts.random } : {}) });
  const driver = pickDriver(domain, opts);
  const s = session(driver, opts);
  const { ctx } = s;
  // The device's path is the one it will have once attached: after the existing ones.
  const ref = appendedRef(domain, parsed.def.kind);
  ctx.devicePath = ref.path;
  (ctx as { data: unknown }).data = driver.createData ? driver.createData(opts.caps, domain) : undefined;
  let dev = ctx.inPlace ? (structuredClone(parsed.def) as DeviceDef) : parsed.def;
  s.setActor(driver.name);
  if (driver.devicePostParse) dev = driver.devicePostParse(dev, domain, ctx);
  checkDeviceFeatures(dev, driver, ref.path);
  // The generic per-device rules see the device in its domain, as libvirt computes
  // serial ports and drive addresses against the existing definition.
  s.setActor('generic');
  let holder = ctx.inPlace ? withDevice(structuredClone(domain) as DomainDef, ref, dev, true) : withDevice(domain, ref, dev);
  holder = runGenericDevices(holder, ctx);
  dev = getDevice(holder, ref)!;
  if (!ctx.flags.skipValidate) {
    runGenericDeviceValidate(holder, ctx);
    ctx.devicePath = ref.path;
    driver.deviceValidate?.(dev, holder, ctx);
  }
  s.setActor('generic');
  dev = getDevice(runGenericFormat(holder, ctx), ref)!;
  for (const stage of [...(opts.registry?.stages ?? []), ...(opts.stages ?? [])]) {
    if (!stage.device) continue;
    s.setActor(stage.name);
    dev = stage.device(dev, domain, ctx) ?? dev;
  }
  return { def: deepFreeze(dev), provenance: s.provenance, warnings: parsed.warnings, driver: driver.name };
}

/** Where a new device of this kind goes: after the existing ones. */
function appendedRef(domain: DomainDef, kind: DeviceDef['kind']): DeviceRef {
  const { key, many } = deviceKey(kind);
  const existing = (domain.devices as Record<string, unknown> | undefined)?.[key];
  const index = many ? ((existing as unknown[] | undefined)?.length ?? 0) : 0;
  return { kind, index, path: `/domain/devices/${kind}${many ? `[${index + 1}]` : ''}` };
}

/**
 * setDevice's definition (a new root, <devices> and list, the rest shared)
 * without immer's produce.
 */
function withDeviceCopied(def: DomainDef, ref: DeviceRef, dev: DeviceDef): DomainDef {
  const { key, many } = deviceKey(ref.kind);
  const devs = def.devices as Record<string, unknown>;
  let value: unknown = dev.def;
  if (many) {
    const list = devs[key] as unknown[];
    const next = list.slice();
    next[ref.index] = dev.def;
    value = next;
  }
  // The new nodes frozen, as immer's produce froze them (the rest is shared and frozen already).
  if (many) Object.freeze(value);
  return Object.freeze({ ...def, devices: Object.freeze({ ...devs, [key]: value }) }) as DomainDef;
}

/** The domain with the device at `ref`: a new frozen domain, or, in place, the same one changed. */
function withDevice(domain: DomainDef, ref: DeviceRef, dev: DeviceDef, inPlace = false): DomainDef {
  const { key, many } = deviceKey(ref.kind);
  const put = (d: { devices?: unknown }) => {
    const target = (d.devices ??= {}) as Record<string, unknown>;
    if (many) ((target[key] ??= []) as unknown[])[ref.index] = dev.def;
    else target[key] = dev.def;
  };
  if (inPlace) {
    put(domain as { devices?: unknown });
    return domain;
  }
  return produce(domain, put);
}

export interface Attached {
  /** The domain with the device in place, addresses assigned and validated. */
  readonly domain: DomainDef;
  readonly device: DeviceDef;
  /** Where the device now is: `/domain/devices/disk[3]`. */
  readonly path: string;
}

/**
 * attach-device on a persistent definition (libvirt's
 * qemuDomainAttachDeviceConfig): the device's own post-parse and validation,
 * then it joins the domain after the devices of its kind and the whole
 * definition goes through post-parse again (implicit controllers, addresses)
 * and validation, as libvirt does before saving the new config.
 */
export function attachDevice(domain: DomainDef, xml: string | Uint8Array, opts: PostParseOptions): PostParseResult<Attached> {
  const single = defineDevice(xml, domain, opts);
  // As libvirt: the device parses first, then the driver says whether it attaches this kind at all.
  driverAllows(single.driver, 'attach', single.def.kind);
  const { key, many } = deviceKey(single.def.kind);
  if (!many && (domain.devices as Record<string, unknown> | undefined)?.[key] !== undefined) {
    throw new VirtError('OPERATION_INVALID', `domain already has a ${single.def.kind} device`, `/domain/devices/${single.def.kind}`);
  }
  const ref = appendedRef(domain, single.def.kind);
  const joined = withDevice(domain, ref, single.def);
  // What a define of the result would refuse at parse time, attach refuses now: the saved config must load again.
  if (single.def.kind === 'controller') checkUsbControllers(joined.devices?.controllers ?? []);
  const whole = postParseDomain(joined, opts);
  const device = getDevice(whole.def, ref)!;
  return {
    def: deepFreeze({ domain: whole.def, device, path: ref.path }),
    provenance: [...single.provenance, ...whole.provenance],
    warnings: single.warnings,
    driver: whole.driver,
  };
}
