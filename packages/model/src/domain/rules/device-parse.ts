/**
 * Device checks libvirt's parser makes while reading <devices>
 * (virDomainDefParseXML and the per-device virDomain*DefParseXML of
 * domain_conf.c), in its device order: what is read as a number or an enum,
 * what may appear once, the USB-disabled sanity, and each device's info.
 * Each kind's own checks are in disk-parse.ts, net-hostdev-parse.ts and
 * device-kinds-parse.ts; what they share is device-parse-shared.ts's.
 */
import { VirtError } from '../../errors.ts';
import type { DomainDraft } from '../types.ts';
import { checkDeviceInfo, type DeviceInfoLike } from './device-info.ts';
import type { ParseContext, ParseRule } from './index.ts';
import { attrPath, devicePath, extraChildren, propEnum } from './xmlprop.ts';
import { CONTROLLER_TYPES } from './controllers.ts';
import { checkDisk, checkFilesystem, fsSourcePath } from './disk-parse.ts';
import { parseChardevs } from './chardev.ts';
import { parseRedirdevSource, parseRngEgdSource, parseSmartcardSource } from './chardev-other-sources.ts';
import { chardevSourcesValidate } from './chardev-source-validate.ts';
import { graphicsDefaults } from './graphics.ts';
import { checkHostdev, checkInterface, isVirtioNet } from './net-hostdev-parse.ts';
import {
  SMARTCARD_MODES,
  checkController,
  checkInput,
  checkIommu,
  checkMemballoon,
  checkMemoryDevice,
  checkPanic,
  checkRng,
  checkShmem,
  checkSoundCodecs,
  checkTpm,
  checkUsbControllers,
  checkVideo,
  checkVsock,
  checkWatchdog,
  inputBus,
  usbControllerSanity,
  usbDisabled,
} from './device-kinds-parse.ts';

export { CONTROLLER_TYPES, checkUsbControllers, fsSourcePath, inputBus, isVirtioNet, usbDisabled };

/** `f` on each device of a list, with the device's path and index. */
function eachDevice<T>(ctx: ParseContext, list: T[] | undefined, name: string, f: (item: T, at: string, i: number) => void): void {
  if (list) for (let i = 0; i < list.length; i++) f(list[i]!, devicePath(ctx, name, i), i);
}

/**
 * virDomainDefParseXML reads the devices a domain has at most one of as a
 * node set and refuses more than one ("only a single ... is supported"); the
 * decoder keeps the extra ones aside, and they are refused here. (A device
 * parsed alone is a single element: nothing to count.)
 */
function onlyOne(devices: NonNullable<DomainDraft['devices']>, name: string, code: 'INTERNAL_ERROR' | 'XML_ERROR', what: string): void {
  if (extraChildren(devices, name) > 0) throw new VirtError(code, `only a single ${what} is supported`, `/domain/devices/${name}[2]`);
}

/** `f` on a device that may appear once, with its path. */
function oneDevice<T>(ctx: ParseContext, item: T | undefined, name: string, f: (item: T, at: string) => void): void {
  if (item !== undefined) f(item, devicePath(ctx, name, 0, true));
}

const infoOnly = (c: DeviceInfoLike, at: string): void => checkDeviceInfo(c, at);

/**
 * Every device in the order virDomainDefParseXML reads them — disks,
 * controllers, filesystems, interfaces, smartcards, parallels, serials,
 * consoles, channels, inputs, graphics, sounds, videos, hostdevs, watchdog,
 * memballoon, rngs, tpms, nvram, hubs, redirdevs, panics, shmems, memory,
 * iommu, vsock — each device read whole before the next, with the
 * domain-wide USB checks where libvirt makes them; so of two bad devices, the
 * one libvirt reads first is the one reported. The chardev sources'
 * validation (domain_validate.c) comes after every device is read.
 */
export const deviceParseChecks: ParseRule = (def, ctx) => {
  const d = def.devices;
  if (!d) return;
  const usbNone = !ctx.deviceOnly && usbDisabled(def);

  eachDevice(ctx, d.disks, 'disk', checkDisk);
  const usb = usbControllerSanity();
  eachDevice(ctx, d.controllers, 'controller', (c, at) => {
    checkController(c, at);
    if (!ctx.deviceOnly) usb.add(c, at);
  });
  if (!ctx.deviceOnly) usb.end();
  eachDevice(ctx, d.filesystems, 'filesystem', checkFilesystem);
  eachDevice(ctx, d.interfaces, 'interface', (net, at) => checkInterface(net, at, ctx));
  eachDevice(ctx, d.smartcards, 'smartcard', (sc, at) => {
    parseSmartcardSource(sc, at, ctx);
    propEnum(sc.mode, 'mode', 'smartcard', at, SMARTCARD_MODES, { required: true });
    checkDeviceInfo(sc as DeviceInfoLike, at);
  });
  for (const kind of ['parallel', 'serial', 'console', 'channel'] as const) parseChardevs(def, ctx, kind, infoOnly);
  eachDevice(ctx, d.inputs, 'input', (input, at) => {
    checkInput(input, def, at);
    if (usbNone && inputBus(input, def) === 'usb') throw new VirtError('CONFIG_UNSUPPORTED', "Can't add USB input device. USB bus is disabled", at);
  });
  graphicsDefaults(def, ctx);
  eachDevice(ctx, d.sounds, 'sound', (s, at) => {
    checkSoundCodecs(s, at);
    checkDeviceInfo(s as DeviceInfoLike, at);
  });
  eachDevice(ctx, d.videos, 'video', checkVideo);
  eachDevice(ctx, d.hostdevs, 'hostdev', (h, at) => {
    checkHostdev(h, at);
    if (usbNone && (h.mode ?? 'subsystem') === 'subsystem' && h.type === 'usb') {
      throw new VirtError('CONFIG_UNSUPPORTED', "Can't add host USB device: USB is disabled in this host", at);
    }
  });
  onlyOne(d, 'watchdog', 'INTERNAL_ERROR', 'watchdog device');
  oneDevice(ctx, d.watchdog, 'watchdog', checkWatchdog);
  onlyOne(d, 'memballoon', 'INTERNAL_ERROR', 'memory balloon device');
  oneDevice(ctx, d.memballoon, 'memballoon', checkMemballoon);
  eachDevice(ctx, d.rngs, 'rng', (r, at) => checkRng(r, at, (b, path) => parseRngEgdSource(b, path, ctx)));
  eachDevice(ctx, d.tpms, 'tpm', checkTpm);
  onlyOne(d, 'nvram', 'INTERNAL_ERROR', 'nvram device');
  oneDevice(ctx, d.nvram, 'nvram', (n, at) => checkDeviceInfo(n as DeviceInfoLike, at));
  eachDevice(ctx, d.hubs, 'hub', (hub, at) => {
    // virDomainHubDefParseXML: virDomainHubType has 'usb' only.
    if (hub.type === undefined) throw new VirtError('INTERNAL_ERROR', 'missing hub device type', attrPath(at, 'type'));
    if (hub.type !== 'usb') throw new VirtError('CONFIG_UNSUPPORTED', `unknown hub device type '${hub.type}'`, attrPath(at, 'type'));
    checkDeviceInfo(hub as DeviceInfoLike, at);
    if (usbNone && hub.type === 'usb') throw new VirtError('CONFIG_UNSUPPORTED', "Can't add USB hub: USB is disabled for this domain", at);
  });
  eachDevice(ctx, d.redirdevs, 'redirdev', (r, at) => {
    if (r.bus !== undefined && r.bus !== 'usb') throw new VirtError('CONFIG_UNSUPPORTED', `unknown redirdev bus '${r.bus}'`, attrPath(at, 'bus'));
    parseRedirdevSource(r, at, ctx);
    checkDeviceInfo(r as DeviceInfoLike, at, { boot: true });
  });
  eachDevice(ctx, d.panics, 'panic', checkPanic);
  eachDevice(ctx, d.shmems, 'shmem', checkShmem);
  eachDevice(ctx, d.memoryDevices, 'memory', checkMemoryDevice);
  onlyOne(d, 'iommu', 'XML_ERROR', 'IOMMU device');
  oneDevice(ctx, d.iommu, 'iommu', checkIommu);
  onlyOne(d, 'vsock', 'XML_ERROR', 'vsock device');
  oneDevice(ctx, d.vsock, 'vsock', checkVsock);
  chardevSourcesValidate(def, ctx);
};
