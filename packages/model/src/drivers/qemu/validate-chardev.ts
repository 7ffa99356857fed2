/**
 * QEMU validation of character devices and the devices with a chardev
 * source (qemuValidateDomainChrDef, qemuValidateDomainSmartcardDef,
 * qemuValidateDomainRNGDef, qemuValidateDomainRedirdevDef in
 * src/qemu/qemu_validate.c).
 */
import type { DomainDef } from '../../domain/types.ts';
import {
  arch,
  capsOf,
  fail,
  hasSpiceGraphics,
  isARMVirt,
  isPSeries,
  isRISCVVirt,
  isS390,
  isX86,
  num,
  pathOf,
  unsupported,
  type Has,
  type DV,
} from './validate-util.ts';

// ------------------------------------------------------------ character devices

type ChrSource = { readonly reconnect?: { readonly enabled?: string; readonly timeout?: string } };

/** qemuValidateDomainChrSourceDef: also used by smartcards (passthrough), egd RNGs and redirdevs. */
function chrSource(type: string | undefined, sources: readonly ChrSource[] | undefined, def: DomainDef, p: string, has: Has): void {
  switch (type) {
    case 'tcp':
    case 'unix': {
      const r = sources?.[0]?.reconnect;
      if (r?.enabled === 'yes' && (num(r.timeout) ?? 0) === 0) fail('INVALID_ARG', "chardev reconnect source timeout cannot be '0'", `${p}/source/reconnect`);
      break;
    }
    case 'qemu-vdagent':
      if (!has('chardev.qemu-vdagent')) unsupported(`chardev '${type}' not supported in this QEMU binary`, `${p}/@type`);
      break;
    case 'spicevmc':
    case 'spiceport':
      if (!hasSpiceGraphics(def)) unsupported(`chardev '${type}' not supported without spice graphics`, `${p}/@type`);
      break;
    default:
      break;
  }
}

const SERIAL_TYPE_ADDRESS: Record<string, string> = {
  'isa-serial': 'isa',
  'isa-debug': 'isa',
  'usb-serial': 'usb',
  'pci-serial': 'pci',
  'spapr-vio-serial': 'spapr-vio',
};

const SERIAL_MODEL_TYPE: Record<string, string> = {
  'isa-serial': 'isa-serial',
  'usb-serial': 'usb-serial',
  'pci-serial': 'pci-serial',
  'spapr-vty': 'spapr-vio-serial',
  pl011: 'system-serial',
  '16550a': 'system-serial',
  sclpconsole: 'sclp-serial',
  sclplmconsole: 'sclp-serial',
  'isa-debugcon': 'isa-debug',
};

const SERIAL_DEFAULT_MODEL: Record<string, string> = {
  'isa-serial': 'isa-serial',
  'usb-serial': 'usb-serial',
  'pci-serial': 'pci-serial',
  'spapr-vio-serial': 'spapr-vty',
  'sclp-serial': 'sclpconsole',
  'isa-debug': 'isa-debugcon',
};

/** qemuValidateDomainChrDef (with qemuValidateDomainChrTargetDef), on serial target types and models as post-parse left them. */
export const chardev: DV<'serial' | 'parallel' | 'channel' | 'console'> = {
  name: 'chardev',
  kinds: ['serial', 'parallel', 'channel', 'console'],
  check(chr, def, ctx, kind) {
    const p = pathOf(ctx, kind);
    chrSource(chr.type, chr.sources, def, p, capsOf(ctx));
    const a = arch(def, ctx);
    if (kind === 'parallel' && (isS390(a) || isPSeries(def))) unsupported('parallel ports are not supported', p);
    if (kind !== 'serial') return;
    let type = chr.target?.type;
    if (type === undefined || type === 'isa-serial') {
      type = isX86(a) ? 'isa-serial' : isPSeries(def) ? 'spapr-vio-serial' : isARMVirt(def) || isRISCVVirt(def) ? 'system-serial' : isS390(a) ? 'sclp-serial' : undefined;
    }
    let model = chr.target?.model?.name;
    if (model === undefined && type !== undefined) {
      model = type === 'system-serial' ? (isARMVirt(def) ? 'pl011' : isRISCVVirt(def) ? '16550a' : undefined) : SERIAL_DEFAULT_MODEL[type];
    }
    const addr = chr.address?.type;
    if (type !== undefined) {
      const expected = SERIAL_TYPE_ADDRESS[type];
      if (expected !== undefined && addr !== undefined && addr !== expected) unsupported(`Target type '${type}' requires address type '${expected}'`, `${p}/address/@type`);
      if ((type === 'system-serial' || type === 'sclp-serial') && addr !== undefined) unsupported(`Target type '${type}' cannot have an associated address`, `${p}/address`);
    }
    if (model !== undefined) {
      const expected = SERIAL_MODEL_TYPE[model];
      if (expected !== undefined && type !== expected) unsupported(`Target model '${model}' requires target type '${expected}'`, `${p}/target/model/@name`);
    }
    const compatible = !(
      (type === 'system-serial' && model === 'pl011' && !isARMVirt(def)) ||
      (type === 'system-serial' && model === '16550a' && !isRISCVVirt(def)) ||
      (!isPSeries(def) && (type === 'spapr-vio-serial' || model === 'spapr-vty')) ||
      (!isS390(a) && (type === 'sclp-serial' || model === 'sclpconsole' || model === 'sclplmconsole'))
    );
    if (!compatible) {
      unsupported(`Serial device with target type '${type ?? 'none'}' and target model '${model ?? 'none'}' not compatible with guest architecture or machine type`, `${p}/target`);
    }
  },
};

/** qemuValidateDomainSmartcardDef. */
export const smartcard: DV<'smartcard'> = {
  name: 'smartcard',
  kinds: ['smartcard'],
  check(sc, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'smartcard');
    const addr = sc.address;
    // The parser gives an address-less smartcard the next CCID slot of controller 0.
    const badAddr = addr !== undefined && (addr.type !== 'ccid' || (num(addr.controller) ?? 0) !== 0 || (num(addr.slot) ?? 0) !== 0);
    if ((def.devices?.smartcards ?? []).length > 1 || badAddr) unsupported('this QEMU binary lacks multiple smartcard support', p);
    switch (sc.mode) {
      case 'host':
      case 'host-certificates':
        if (!has('ccid-emulated')) unsupported('this QEMU binary lacks smartcard host mode support', `${p}/@mode`);
        break;
      case 'passthrough':
        if (!has('ccid-passthru')) unsupported('this QEMU binary lacks smartcard passthrough mode support', `${p}/@mode`);
        chrSource(sc.type, sc.sources, def, p, has);
        break;
      default:
        break;
    }
  },
};

/** qemuValidateDomainRNGDef. */
export const rng: DV<'rng'> = {
  name: 'rng',
  kinds: ['rng'],
  check(r, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'rng');
    const b = r.backend;
    const at = `${p}/backend/@model`;
    switch (b?.model) {
      case 'random':
        if (!has('rng-random')) unsupported("this qemu doesn't support the rng-random backend", at);
        break;
      case 'egd':
        if (!has('rng-egd')) unsupported("this qemu doesn't support the rng-egd backend", at);
        chrSource(b.type, b.sources, def, `${p}/backend`, has);
        break;
      case 'builtin':
        if (!has('rng-builtin')) unsupported("this qemu doesn't support the rng-builtin backend", at);
        break;
      default:
        break;
    }
    const model = r.model ?? 'virtio';
    const offered = has('virtio-rng') && (model === 'virtio' || (has('virtio-pci-non-transitional') && (model === 'virtio-transitional' || model === 'virtio-non-transitional')));
    if (!offered) unsupported(`domain configuration does not support rng model '${model}'`, `${p}/@model`);
  },
};

/** qemuValidateDomainRedirdevDef. */
export const redirdev: DV<'redirdev'> = {
  name: 'redirdev',
  kinds: ['redirdev'],
  check(r, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'redirdev');
    chrSource(r.type, r.sources, def, p, has);
    const bus = r.bus ?? 'usb';
    if (bus !== 'usb') unsupported(`Redirection bus ${bus} is not supported by QEMU`, `${p}/@bus`);
    if (!has('usb-redir')) unsupported('USB redirection is not supported by this version of QEMU', p);
    if ((def.devices?.redirfilter?.usbdevs ?? []).length && !has('usb-redir.filter')) {
      unsupported('USB redirection filter is not supported by this version of QEMU', '/domain/devices/redirfilter');
    }
  },
};

/** qemuValidateDomainWatchdogDef. */
