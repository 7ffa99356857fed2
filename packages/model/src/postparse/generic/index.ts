/**
 * libvirt's generic (driver-independent) post-parse and validation
 * (domain_postparse.c, domain_validate.c), as rules in libvirt's order. The
 * runner interleaves them with the driver's callbacks as virDomainDefPostParse
 * and virDomainDefValidate do. Per-device generic defaults run as one pass
 * over all devices once the driver's device callbacks are done: each touches
 * only its own device, so the result is libvirt's.
 */
import type { Draft } from 'immer';
import type { DomainDef, DomainDraft } from '../../domain/types.ts';
import { type ParseContext, type ParseRule, postParseRules } from '../../domain/rules/index.ts';
import { type DomainRule, type Validator, domainRule } from '../rules.ts';
import type { Ctx } from '../types.ts';
import { genericDiskDefaults } from './disk.ts';
import { filesystemAccessmode, hostdevDefaults, implicitVideo, rngVsockMemoryDefaults } from './devices.ts';
import { consoleSerialAddress, formatAddresses, formatBootLoadparm, formatCpu, formatFilesystemModes, formatGraphicsAuth, formatHostdevManaged, formatInterfaces, formatPanics, formatRedirFilter } from './format.ts';
import { diskOrder, formatDisks } from './format-disk.ts';
import { formatBootMenu, formatIOThreads, formatSeclabels } from './format-domain.ts';
import { metadataNamespaces } from './metadata.ts';
import { formatDeviceSizes, formatFeatures, formatMemoryTuning, formatNuma, formatNumatune } from './format-memory.ts';

/** The parse-time context a whole-draft rule expects, from the post-parse context. */
export function parseContextOf(ctx: Ctx<unknown>): ParseContext {
  // One per post-parse run: every generic rule of the run reads the same settings.
  // The runner's context has a slot for it; any other context is looked up.
  const slot = ctx as { parseContext?: ParseContext };
  if (slot.parseContext !== undefined) return slot.parseContext;
  let pc = parseContexts.get(ctx);
  if (!pc) {
    pc = makeParseContext(ctx);
    if ('parseContext' in ctx) slot.parseContext = pc;
    else parseContexts.set(ctx, pc);
  }
  return pc;
}

const parseContexts = new WeakMap<Ctx<unknown>, ParseContext>();

function makeParseContext(ctx: Ctx<unknown>): ParseContext {
  return {
    random: ctx.random,
    inactive: ctx.flags.inactive,
    abiUpdate: ctx.flags.abiUpdate,
    warnings: [],
    deviceOnly: false,
    defArch: ctx.driver.defArch ?? ctx.caps.host.arch,
    macPrefix: ctx.driver.macPrefix ?? [0x52, 0x54, 0x00],
  };
}

const WHY: Record<string, string> = {
  controllerIndexes: 'a controller without an index takes the lowest free index of its type (USB2 companions share their master\'s)',
  chardevPorts: 'serial, parallel and console ports are numbered after the highest of their kind; ISA serials take the lowest free of four; a console without a target type is a serial console',
  videoDefaults: "libvirt's default video memory for the model, rounded up to a power of two, and one head",
  devicePostParseChecks: "libvirt's generic per-device post-parse checks (disk names, SCSI addresses, mediated devices)",
  currentMemory: 'currentMemory defaults to memory and never exceeds it',
  domainPostParseChecks: "libvirt's generic post-parse checks (memory sizes, firmware features, the CPU check)",
  duplicateControllers: 'two controllers of one type cannot share an index (USB companions aside)',
  bootOrder: "a guest with neither <boot dev> nor per-device boot order boots from the first hard disk: libvirt adds <boot dev='hd'/>",
  consoleCompat: 'in an hvm guest the first console is the first serial port: libvirt writes it as a copy of that serial',
  implicitControllers: 'every disk, channel, smartcard and SCSI hostdev needs its controller: libvirt adds the missing ones',
  primaryVideo: 'the first video device is the primary one',
  spiceListenNone: 'a SPICE display with no port, TLS port or autoport listens nowhere',
};

function fromWhole(name: string, rule: ParseRule): DomainRule {
  return domainRule(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), WHY[name] ?? `libvirt's generic ${name}`, (def, ctx) => rule(def as DomainDraft, parseContextOf(ctx)));
}

function validator(name: string, rule: ParseRule): Validator {
  // Validation never changes the definition: it gets the frozen definition itself.
  return { name, check: (def: DomainDef, ctx) => rule(def as unknown as DomainDraft, parseContextOf(ctx)) };
}

const rules = (group: Record<string, ParseRule>) => Object.entries(group).map(([n, r]) => fromWhole(n, r));

/** Before the driver's domain callback: the disks' parse-time order (virDomainDiskInsert), then virDomainAssignControllerIndexes. */
export const genericEarly: DomainRule[] = [diskOrder, ...rules(postParseRules.early)];
/** Per device, after the driver's device callbacks (virDomainDeviceDefPostParseCommon). */
// The checks of unknown disk names and SCSI address clashes look at disks before their addresses are filled.
const [chardevPortsRule, videoDefaultsRule, devicePostParseChecksRule] = rules(postParseRules.device);
export const genericDevice: DomainRule[] = [devicePostParseChecksRule!, genericDiskDefaults, hostdevDefaults, rngVsockMemoryDefaults, filesystemAccessmode, chardevPortsRule!, videoDefaultsRule!];
/**
 * The same pass again for the devices post-parsed a second time (the primary
 * video, the first serial, model-less SCSI controllers): the rules about
 * other kinds (disks, host devices, RNG/vsock/memory, filesystems) only fill
 * what is still unset, so a second run of theirs changes nothing and is left
 * out when no provenance is recorded. With provenance the whole pass runs, so
 * that what is recorded stays the same.
 */
export const genericDeviceAgain: DomainRule[] = [devicePostParseChecksRule!, chardevPortsRule!, videoDefaultsRule!];
/** After every device (virDomainDefPostParseCommon). */
const common = rules(postParseRules.common);
export const genericCommon: DomainRule[] = [...common.slice(0, 6), implicitVideo, common[6]!, metadataNamespaces, ...common.slice(7)];
/** Per device, before the driver's device validation (virDomainDeviceDefValidateInternal). */
export const genericDeviceValidate: Validator[] = Object.entries(postParseRules.validateDevices).map(([n, r]) => validator(n, r));
/** Last (virDomainDefValidateInternal). */
export const genericDomainValidate: Validator[] = Object.entries(postParseRules.validateDomain).map(([n, r]) => validator(n, r));

/**
 * Once the definition is valid: the spelling libvirt's formatter gives what
 * its parser stored (virDomainDefFormat), so the stored definition reads as
 * libvirt's own.
 */
export const genericFormat: DomainRule[] = [
  formatBootMenu,
  formatIOThreads,
  formatSeclabels,
  formatMemoryTuning,
  formatNumatune,
  formatFeatures,
  formatCpu,
  formatNuma,
  consoleSerialAddress,
  formatAddresses,
  formatHostdevManaged,
  formatInterfaces,
  formatGraphicsAuth,
  formatBootLoadparm,
  formatFilesystemModes,
  formatRedirFilter,
  formatPanics,
  formatDeviceSizes,
  formatDisks,
];

export type { Draft };
