/**
 * libvirt's parse-time defaults and checks, run on the decoded draft in the
 * order domain_conf.c applies them. Each rule names the path it is about.
 */
import type { Warning } from '../../codec/codec.ts';
import type { DomainDraft } from '../types.ts';
import { diskDefaults, duplicateDiskTargets } from './devices.ts';
import { domainType, genid, name, osType, titleAndDescription, uuid } from './identity.ts';
import { lifecycle } from './lifecycle.ts';
import { currentMemory, memorySizes } from './memory.ts';
import { vcpu } from './vcpu.ts';
import { cpuParse } from './cpu.ts';
import { spiceListenNone } from './graphics.ts';
import { bootOrder, clockOffset, defaultArch, osBootDevices } from './defaults.ts';
import { controllerDefaults, controllerIndexes, controllerOrder, duplicateControllers, implicitControllers } from './controllers.ts';
import { chardevPorts } from './chardev-ports.ts';
import { consoleCompat } from './chardev-console.ts';
import { onePrimaryVideo, primaryVideo, primaryVideoFirst, videoDefaults, videoValidate } from './video.ts';
import { deviceParseChecks } from './device-parse.ts';
import { featuresParse, seclabelsParse, sysinfoParse, sysinfoUuidDefault } from './domain-parse.ts';
import { numaCellsParse, numatuneParse } from './numa.ts';
import { cputuneParse } from './cputune.ts';
import { cputunePinsAndScheds, cputuneResctrl } from './cputune-format.ts';
import { devicePostParseChecks, domainPostParseChecks } from './postparse-checks.ts';
import { validateDevices } from './validate-devices.ts';
import { validateDomain } from './validate-domain.ts';

export interface ParseContext {
  readonly random: (bytes: Uint8Array) => Uint8Array;
  readonly inactive: boolean;
  readonly warnings: Warning[];
  /** A single device parsed alone (attach-device): domain-level rules are skipped. */
  readonly deviceOnly?: boolean;
  /** Arch when <os><type arch> is absent: the driver's defArch, else the host's. */
  readonly defArch: string;
  /** Prefix of generated MAC addresses (the driver's; libvirt's default 52:54:00). */
  readonly macPrefix: readonly [number, number, number];
  /** VIR_DOMAIN_DEF_PARSE_ABI_UPDATE: a new definition whose defaults may change (post-parse only). */
  readonly abiUpdate?: boolean;
}

export type ParseRule = (def: DomainDraft, ctx: ParseContext) => void;

/** Parse time, about the whole domain, in libvirt's order (virDomainDefParseXML). */
const domainRules: ParseRule[] = [domainType, name, sysinfoUuidDefault, uuid, genid, titleAndDescription, osType, memorySizes, vcpu, lifecycle, defaultArch, clockOffset, osBootDevices, seclabelsParse, cpuParse, numaCellsParse, numatuneParse, cputuneParse, cputunePinsAndScheds, cputuneResctrl, featuresParse];
/** Parse time, about devices; they also run for a device parsed alone. Every device kind is read in deviceParseChecks, in libvirt's order. */
const deviceRules: ParseRule[] = [diskDefaults, deviceParseChecks, controllerDefaults];
/**
 * Parse time, once every device is read: the primary video moved to the
 * front (libvirt inserts it there as it reads the videos, which it reads in
 * document order, so their checks name them in that order), sysinfo and the
 * controllers' insertion order.
 */
const finalRules: ParseRule[] = [primaryVideoFirst, sysinfoParse, controllerOrder];

export function applyParseRules(def: DomainDraft, ctx: ParseContext): void {
  if (!ctx.deviceOnly) for (const rule of domainRules) rule(def, ctx);
  for (const rule of deviceRules) rule(def, ctx);
  if (!ctx.deviceOnly) for (const rule of finalRules) rule(def, ctx);
}

/**
 * The rules of libvirt's generic post-parse and validation written against the
 * whole draft; postparse/generic runs them at their place between the
 * driver's callbacks.
 */
export const postParseRules = {
  /** virDomainAssignControllerIndexes, before the driver's domain callback. */
  early: { controllerIndexes },
  /** virDomainDeviceDefPostParseCommon and the ISA serial pass, after the driver's device callbacks. */
  device: { chardevPorts, videoDefaults, devicePostParseChecks },
  /** virDomainDefPostParseCommon, in its order. */
  common: { currentMemory, domainPostParseChecks, duplicateControllers, bootOrder, consoleCompat, implicitControllers, primaryVideo, spiceListenNone },
  /** virDomainDeviceDefValidateInternal, per device. */
  validateDevices: { videoValidate, validateDevices },
  /** virDomainDefValidateInternal. */
  validateDomain: { onePrimaryVideo, duplicateDiskTargets, validateDomain },
} as const;
