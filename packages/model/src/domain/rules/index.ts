/**
 * libvirt's parse-time defaults and checks, run on the decoded draft in the
 * order domain_conf.c applies them. Each rule names the path it is about.
 */
import type { Warning } from '../../codec/codec.ts';
import type { DomainDraft } from '../types.ts';
import { diskDefaults, duplicateDiskTargets, macAddresses } from './devices.ts';
import { domainType, genid, name, osType, titleAndDescription, uuid } from './identity.ts';
import { lifecycle } from './lifecycle.ts';
import { currentMemory, memorySizes } from './memory.ts';
import { vcpu } from './vcpu.ts';
import { graphicsDefaults, spiceListenNone } from './graphics.ts';
import { bootOrder, clockOffset, defaultArch, osBootDevices } from './defaults.ts';
import { controllerDefaults, controllerIndexes, controllerOrder, duplicateControllers, implicitControllers } from './controllers.ts';
import { chardevs, consoleCompat, otherChardevSources } from './chardev.ts';
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
}

export type ParseRule = (def: DomainDraft, ctx: ParseContext) => void;

/** Rules about the whole domain, in libvirt's order. */
const domainRules: ParseRule[] = [domainType, name, sysinfoUuidDefault, uuid, genid, titleAndDescription, osType, memorySizes, vcpu, lifecycle, primaryVideoFirst, defaultArch, clockOffset, osBootDevices, seclabelsParse, numaCellsParse, numatuneParse, cputuneParse, cputunePinsAndScheds, cputuneResctrl, featuresParse];
/** Rules about devices; they also run for a device parsed alone. */
const deviceRules: ParseRule[] = [diskDefaults, macAddresses, graphicsDefaults, videoDefaults, videoValidate, chardevs, otherChardevSources, deviceParseChecks, controllerDefaults];
/** Whole-domain checks that need every device parsed. */
const finalRules: ParseRule[] = [
  sysinfoParse,
  currentMemory,
  controllerOrder,
  controllerIndexes,
  devicePostParseChecks,
  domainPostParseChecks,
  duplicateControllers,
  bootOrder,
  spiceListenNone,
  consoleCompat,
  implicitControllers,
  primaryVideo,
  onePrimaryVideo,
  validateDevices,
  duplicateDiskTargets,
  validateDomain,
];

export function applyParseRules(def: DomainDraft, ctx: ParseContext): void {
  if (!ctx.deviceOnly) for (const rule of domainRules) rule(def, ctx);
  for (const rule of deviceRules) rule(def, ctx);
  if (!ctx.deviceOnly) for (const rule of finalRules) rule(def, ctx);
}
