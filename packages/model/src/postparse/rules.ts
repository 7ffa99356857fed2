/**
 * Drivers are written as lists of small named rules. Composing them here
 * gives the pure callbacks of DriverConf and records provenance for free:
 * each rule runs in its own `produceWithPatches` (immer's semantics, on the
 * lean drafts of drafts.ts), and every patch it makes becomes
 * `{path, value, driver, rule, why}`.
 */
import { Immer, enablePatches, type Draft, type Patch } from 'immer';
import type { AnySpec } from '../codec/spec.ts';
import { devicesSpec } from '../domain/spec/devices.ts';
import { domainSpec } from '../domain/spec/domain.ts';
import type { DeviceDef, DeviceKind, DomainDef } from '../domain/types.ts';
import { produceWithPatchesLean, UnsupportedDraft } from './drafts.ts';
import { leaves, xmlPath, type DataPath } from './paths.ts';
import type { Ctx } from './types.ts';

enablePatches();

/**
 * The runner freezes the finished definition once, deeply; freezing after
 * every rule as well only costs time, so rules run on an Immer of their own
 * without auto-freeze (the application's immer keeps its settings).
 */
const immer = new Immer({ autoFreeze: false });
const immerWithPatches = immer.produceWithPatches.bind(immer);

/**
 * Whether rules run on the lean drafts of drafts.ts (immer's semantics and
 * patches, much cheaper) rather than on immer's; on by default. A base those
 * drafts do not model goes to immer.
 */
let lean = true;

/** Switches the rules' drafts between the lean ones and immer's (for tests and comparisons). */
export function useLeanDrafts(on: boolean): void {
  lean = on;
}

function produceWithPatches<T>(base: T, recipe: (draft: Draft<T>) => void): [T, Patch[]] {
  if (lean) {
    try {
      return produceWithPatchesLean(immer, base, recipe);
    } catch (e) {
      // Thrown before the recipe ran: nothing happened yet.
      if (!(e instanceof UnsupportedDraft)) throw e;
    }
  }
  const [next, patches] = immerWithPatches(base, recipe as never);
  return [next as T, patches];
}

export interface DomainRule<Data = unknown> {
  readonly name: string;
  readonly why: string;
  apply(def: Draft<DomainDef>, ctx: Ctx<Data>): void;
}

type DeviceOf<K extends DeviceKind> = Extract<DeviceDef, { kind: K }>['def'];

export interface DeviceRule<Data = unknown, K extends DeviceKind = DeviceKind> {
  readonly name: string;
  readonly why: string;
  /** Device kinds the rule applies to. */
  readonly kinds: readonly K[];
  apply(dev: Draft<DeviceOf<K>>, def: DomainDef, ctx: Ctx<Data>, kind: K): void;
}

export function domainRule<Data = unknown>(name: string, why: string, apply: DomainRule<Data>['apply']): DomainRule<Data> {
  return { name, why, apply };
}

export function deviceRule<Data, K extends DeviceKind>(kinds: readonly K[], name: string, why: string, apply: DeviceRule<Data, K>['apply']): DeviceRule<Data, K> {
  return { name, why, kinds, apply };
}

/** Recording sink the runner installs on the context (not part of a driver's view). */
export interface Recorder {
  record(patches: readonly Patch[], spec: AnySpec, prefix: string, rule: string, why: string): void;
}

export function recorderOf(ctx: Ctx<unknown>): Recorder | undefined {
  return (ctx as { recorder?: Recorder }).recorder;
}

/**
 * Whether the runner handed a private working copy that rules may change in
 * place: when nobody asked for provenance, immer's drafts and patches are
 * pure overhead (the runner freezes the result once at the end).
 */
export function inPlace(ctx: Ctx<unknown>): boolean {
  return (ctx as { inPlace?: boolean }).inPlace === true;
}

export function makeRecorder(driverOf: () => string, sink: (p: { path: string; value: string | null; driver: string; rule: string; why: string }) => void): Recorder {
  return {
    record(patches, spec, prefix, rule, why) {
      const driver = driverOf();
      for (const p of patches) {
        if (p.op === 'remove') {
          sink({ path: xmlPath(spec, prefix, p.path as DataPath), value: null, driver, rule, why });
          continue;
        }
        for (const [keys, value] of leaves(p.value, p.path as DataPath)) sink({ path: xmlPath(spec, prefix, keys), value, driver, rule, why });
      }
    },
  };
}

/** A pure domain callback from rules, run in order, each recorded. */
export function domainRules<Data>(rules: ReadonlyArray<DomainRule<Data>>): (def: DomainDef, ctx: Ctx<Data>) => DomainDef {
  return (def, ctx) => {
    if (inPlace(ctx as Ctx<unknown>)) {
      for (let i = 0; i < rules.length; i++) rules[i]!.apply(def as Draft<DomainDef>, ctx);
      return def;
    }
    const rec = recorderOf(ctx as Ctx<unknown>);
    for (const rule of rules) {
      const [next, patches] = produceWithPatches(def, (d) => rule.apply(d, ctx));
      if (patches.length) rec?.record(patches, domainSpec, '/domain', rule.name, rule.why);
      def = next;
    }
    return def;
  };
}

const deviceSpecs = devicesSpec.children as Record<string, { spec: AnySpec }>;

/** The items that apply to a kind, in their order, looked up once per kind instead of per device. */
function byKind<T extends { readonly kinds: readonly string[] }>(items: ReadonlyArray<T>): (kind: string) => readonly T[] {
  const index = new Map<string, readonly T[]>();
  return (kind) => {
    let list = index.get(kind);
    if (!list) index.set(kind, (list = items.filter((r) => r.kinds.includes(kind))));
    return list;
  };
}

/** A pure device callback from rules: the rules whose kinds match run in order, each recorded. */
export function deviceRules<Data>(rules: ReadonlyArray<DeviceRule<Data, any>>): (dev: DeviceDef, def: DomainDef, ctx: Ctx<Data>) => DeviceDef {
  const rulesFor = byKind(rules);
  return (dev, def, ctx) => {
    const matching = rulesFor(dev.kind);
    if (inPlace(ctx as Ctx<unknown>)) {
      for (let i = 0; i < matching.length; i++) matching[i]!.apply(dev.def as Draft<DeviceOf<DeviceKind>>, def, ctx, dev.kind);
      return dev;
    }
    const rec = recorderOf(ctx as Ctx<unknown>);
    let current = dev.def as DeviceOf<DeviceKind>;
    for (const rule of matching) {
      const [next, patches] = produceWithPatches(current, (d) => rule.apply(d, def, ctx, dev.kind));
      if (patches.length) rec?.record(patches, deviceSpecs[dev.kind]!.spec, ctx.devicePath ?? `/${dev.kind}`, rule.name, rule.why);
      current = next;
    }
    if (current === dev.def) return dev;
    return { kind: dev.kind, def: current } as DeviceDef;
  };
}

export interface Validator<Data = unknown> {
  readonly name: string;
  check(def: DomainDef, ctx: Ctx<Data>): void;
}

export interface DeviceValidator<Data = unknown, K extends DeviceKind = DeviceKind> {
  readonly name: string;
  readonly kinds: readonly K[];
  check(dev: DeviceOf<K>, def: DomainDef, ctx: Ctx<Data>, kind: K): void;
}

export function domainValidators<Data>(checks: ReadonlyArray<Validator<Data>>): (def: DomainDef, ctx: Ctx<Data>) => void {
  return (def, ctx) => {
    for (let i = 0; i < checks.length; i++) checks[i]!.check(def, ctx);
  };
}

export function deviceValidators<Data>(checks: ReadonlyArray<DeviceValidator<Data, any>>): (dev: DeviceDef, def: DomainDef, ctx: Ctx<Data>) => void {
  const checksFor = byKind(checks);
  return (dev, def, ctx) => {
    const matching = checksFor(dev.kind);
    for (let i = 0; i < matching.length; i++) matching[i]!.check(dev.def, def, ctx, dev.kind);
  };
}
