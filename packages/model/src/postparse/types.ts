/**
 * The driver configuration: libvirt's virDomainDefParserConfig in TypeScript.
 * A driver fills defaults and validates a definition right after parsing,
 * through pure callbacks that receive the driver's opaque data and the host
 * capabilities and return a new frozen definition, or throw VirtError.
 */
import type { Capabilities } from '../caps/types.ts';
import type { DeviceDef, DomainDef } from '../domain/types.ts';

/** libvirt's VIR_DOMAIN_DEF_FEATURE_* bits: what the driver supports. */
export type DriverFeature =
  | 'WIDE_SCSI'
  | 'MEMORY_HOTPLUG'
  | 'OFFLINE_VCPUPIN'
  | 'NAME_SLASH'
  | 'INDIVIDUAL_VCPUS'
  | 'USER_ALIAS'
  | 'NO_BOOT_ORDER'
  | 'FW_AUTOSELECT'
  | 'NET_MODEL_STRING'
  | 'DISK_FD';

/** What a step filled, and why: the provenance libvirt lacks. */
export interface Provenance {
  /** The node, as `/domain/devices/disk[1]/target/@bus`. */
  readonly path: string;
  /** The value filled; `null` when the step removed the node. */
  readonly value: string | null;
  /** `generic`, a driver name (`qemu`), or a policy stage's name. */
  readonly driver: string;
  /** The rule that filled it, e.g. `machine-default`. */
  readonly rule: string;
  /** Why, in a sentence a user can act on. */
  readonly why: string;
}

export interface ParseFlags {
  /** Parse as a persistent definition (libvirt's VIR_DOMAIN_DEF_PARSE_INACTIVE). Default true. */
  readonly inactive: boolean;
  /** libvirt's ABI_UPDATE: defaults may change (a new define, not a reload). Default true. */
  readonly abiUpdate: boolean;
  /** Skip the validation callbacks (post-parse checks still run). */
  readonly skipValidate: boolean;
}

export interface Ctx<Data = unknown> {
  readonly caps: Capabilities;
  readonly data: Data;
  readonly flags: ParseFlags;
  readonly driver: DriverConf<Data>;
  /** Randomness for generated values (MAC suffixes, UUIDs): handed in, never taken. */
  readonly random: (bytes: Uint8Array) => Uint8Array;
  /** Records provenance by hand; rules built with `domainRule`/`deviceRule` record theirs automatically. */
  filled(path: string, value: string | null, why: string, rule?: string): void;
  /** Path of the device being post-parsed, e.g. `/domain/devices/disk[2]`. */
  readonly devicePath?: string;
}

export interface DriverConf<Data = unknown> {
  readonly name: string;
  /** Domain types this driver takes: `['qemu', 'kvm']`. */
  readonly domainTypes: readonly string[];
  /** Prefix of generated MAC addresses; libvirt's default is 52:54:00. */
  readonly macPrefix?: readonly [number, number, number];
  /** Arch when `<os><type arch>` is absent; else the host's. */
  readonly defArch?: string;
  readonly features?: readonly DriverFeature[];
  /**
   * The parse flags the driver's define API uses, under the caller's (libvirt's
   * test driver defines without VIR_DOMAIN_DEF_PARSE_ABI_UPDATE, QEMU with it).
   */
  readonly parseFlags?: Partial<ParseFlags>;
  /** The opaque data every callback receives (libvirt's parseOpaque). */
  createData?(caps: Capabilities, def: DomainDef): Data;
  /** Runs before the data exists (qemu: the emulator path). */
  domainPostParseBasic?(def: DomainDef, ctx: Ctx<Data>): DomainDef;
  domainPostParse?(def: DomainDef, ctx: Ctx<Data>): DomainDef;
  devicePostParse?(dev: DeviceDef, def: DomainDef, ctx: Ctx<Data>): DeviceDef;
  assignAddresses?(def: DomainDef, ctx: Ctx<Data>): DomainDef;
  /** Throws VirtError; must not change the definition. */
  domainValidate?(def: DomainDef, ctx: Ctx<Data>): void;
  deviceValidate?(dev: DeviceDef, def: DomainDef, ctx: Ctx<Data>): void;
  /** What the driver's define API does once the definition is valid (libvirt's <driver>DomainDefineXMLFlags). */
  define?(def: DomainDef, ctx: Ctx<Data>): DomainDef;
}

/**
 * An operator's extra step (a policy), registered from outside the package:
 * runs after the driver's, and its errors fail the parse the same way.
 */
export interface PolicyStage {
  readonly name: string;
  readonly description?: string;
  domain?(def: DomainDef, ctx: Ctx<unknown>): DomainDef | void;
  device?(dev: DeviceDef, def: DomainDef, ctx: Ctx<unknown>): DeviceDef | void;
}
