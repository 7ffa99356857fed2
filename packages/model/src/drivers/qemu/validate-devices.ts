/**
 * QEMU per-device validation (qemuValidateDomainDeviceDef in
 * src/qemu/qemu_validate.c) for every kind but disks and controllers
 * (validate-disk.ts, validate-controller.ts): network interfaces, character
 * devices, smartcards, RNGs, redirdevs, watchdogs, hostdevs, video,
 * graphics, filesystems, audio, sound, vsock, TPM, input, balloon, IOMMU,
 * nvram, hubs, memory devices and shmem.
 */
import type { DeviceKind, DomainDef } from '../../domain/types.ts';
import type { Ctx } from '../../postparse/types.ts';
import type { DeviceValidator } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import {
  arch,
  emulatorPath,
  fail,
  capsOf,
  hasSpiceGraphics,
  isARMVirt,
  isPPC64,
  isPSeries,
  isQ35,
  isRISCVVirt,
  isS390,
  isX86,
  isPow2,
  num,
  QEMU_HOST,
  requireSharedMemory,
  unsupported,
  type Has,
} from './validate-util.ts';

type DV<K extends DeviceKind> = DeviceValidator<QemuData, K>;

function pathOf(ctx: Ctx<QemuData>, kind: string): string {
  return ctx.devicePath ?? `/${kind}`;
}

// ------------------------------------------------------------ <interface>

const NET_MODELS = [
  'unknown', 'netfront', 'rtl8139', 'virtio', 'e1000', 'e1000e', 'virtio-transitional', 'virtio-non-transitional', 'usb-net',
  'spapr-vlan', 'lan9118', 'scm91c111', 'vlance', 'vmxnet', 'vmxnet2', 'vmxnet3', 'Am79C970A', 'Am79C973', '82540EM', '82545EM', '82543GC',
];

/** The interface model after post-parse: vdpa gets virtio; others (not hostdev) the arch's default, rtl8139 on x86. */
function netModel(type: string, model: string | undefined, def: DomainDef, ctx: Ctx<QemuData>): string | undefined {
  if (model !== undefined) return NET_MODELS.find((m) => m.toLowerCase() === model.toLowerCase()) ?? model;
  if (type === 'vdpa') return 'virtio';
  if (type === 'hostdev') return undefined;
  return isS390(arch(def, ctx)) || isARMVirt(def) || isRISCVVirt(def) ? 'virtio' : 'rtl8139';
}

const VIRTIO_MODELS = ['virtio', 'virtio-transitional', 'virtio-non-transitional'];

/** qemuValidateDomainDeviceDefNetwork. */
const network: DV<'interface'> = {
  name: 'interface',
  kinds: ['interface'],
  check(net, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'interface');
    const type = net.type ?? '';
    const ips = net.ips ?? [];
    const routes = net.routes ?? [];
    const model = netModel(type, net.model?.type, def, ctx);
    if (type === 'user') {
      if (routes.length) unsupported('Invalid attempt to set network interface guest-side IP route, not supported by QEMU', `${p}/route[1]`);
      let v4 = false;
      let v6 = false;
      ips.forEach((ip, i) => {
        const at = `${p}/ip[${i + 1}]`;
        if (ip.peer !== undefined) unsupported('Invalid attempt to set peer IP for guest', `${at}/@peer`);
        const family = ip.family ?? ((ip.address ?? '').includes(':') ? 'ipv6' : 'ipv4');
        const prefix = num(ip.prefix) ?? 0;
        if (family === 'ipv4') {
          if (v4) unsupported('Only one IPv4 address per interface is allowed', at);
          v4 = true;
          if (prefix > 0 && (prefix < 4 || prefix > 27)) fail('XML_ERROR', 'invalid prefix, must be in range of 4-27', `${at}/@prefix`);
        } else {
          if (v6) unsupported('Only one IPv6 address per interface is allowed', at);
          v6 = true;
          if (prefix && prefix !== 64) unsupported(`unsupported IPv6 address prefix='${prefix}' - must be 64`, `${at}/@prefix`);
        }
      });
    } else if (type === 'vdpa') {
      if (!has('netdev.vhost-vdpa')) unsupported('vDPA devices are not supported with this QEMU binary', `${p}/@type`);
      if (model !== 'virtio') {
        const known = NET_MODELS.includes(model ?? '') ? model : 'unknown';
        unsupported(`invalid model for interface of type '${type}': '${known}'`, `${p}/model/@type`);
      }
    } else if (ips.length || routes.length) {
      unsupported('Invalid attempt to set network interface guest-side IP route and/or address info, not supported by QEMU', ips.length ? `${p}/ip[1]` : `${p}/route[1]`);
    }
    const virtio = model !== undefined && VIRTIO_MODELS.includes(model);
    if (virtio) {
      const drv = net.driver;
      const rx = num(drv?.rxQueueSize) ?? 0;
      const tx = num(drv?.txQueueSize) ?? 0;
      if (rx && !isPow2(rx)) unsupported('rx_queue_size has to be a power of two', `${p}/driver/@rx_queue_size`);
      if (tx && !isPow2(tx)) unsupported('tx_queue_size has to be a power of two', `${p}/driver/@tx_queue_size`);
      if (drv?.rss !== undefined && !has('virtio-net.rss')) unsupported('virtio rss is not supported with this QEMU binary', `${p}/driver/@rss`);
      if (drv?.rssHashReport !== undefined && !has('virtio-net.rss')) {
        unsupported('virtio rss hash report is not supported with this QEMU binary', `${p}/driver/@rss_hash_report`);
      }
    }
    if ((num(net.mtu?.size) ?? 0) > 0) {
      const ok = ['network', 'bridge', 'ethernet', 'vhostuser'].includes(type) || (type === 'user' && net.backend?.type === 'passt');
      if (!ok) unsupported(`setting MTU on interface type ${type} is not supported yet`, `${p}/mtu`);
    }
    const teaming = net.teaming?.type;
    if (teaming === 'persistent' && !virtio) {
      unsupported(`virtio-net teaming persistent interface must be <model type='virtio'/>, not '${model ?? '(null)'}'`, `${p}/teaming`);
    }
    if (teaming === 'transient' && type !== 'hostdev' && type !== 'network') {
      unsupported(`virtio-net teaming transient interface must be type='hostdev', not '${type}'`, `${p}/teaming`);
    }
    if (net.coalesce !== undefined && type !== 'network' && type !== 'bridge') unsupported(`coalesce settings on interface type ${type} are not supported`, `${p}/coalesce`);
  },
};

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
const chardev: DV<'serial' | 'parallel' | 'channel' | 'console'> = {
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
const smartcard: DV<'smartcard'> = {
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
const rng: DV<'rng'> = {
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
const redirdev: DV<'redirdev'> = {
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
const watchdog: DV<'watchdog'> = {
  name: 'watchdog',
  kinds: ['watchdog'],
  check(w, def, ctx) {
    const p = pathOf(ctx, 'watchdog');
    const model = w.model ?? '';
    const addr = w.address?.type;
    switch (model) {
      case 'i6300esb':
        if (addr !== undefined && addr !== 'pci') unsupported(`${model} model of watchdog can go only on PCI bus`, `${p}/address/@type`);
        break;
      case 'ib700':
        if (addr !== undefined) unsupported(`${model} model of watchdog does not support configuring the address`, `${p}/address`);
        break;
      case 'diag288':
        if (addr !== undefined) unsupported(`${model} model of watchdog is virtual and cannot go on any bus.`, `${p}/address`);
        if (!isS390(arch(def, ctx))) unsupported(`${model} model of watchdog is allowed for s390 and s390x only`, `${p}/@model`);
        break;
      default:
        break;
    }
  },
};

/** qemuValidateDomainDeviceDefHostdev (with the mediated-device checks). */
const hostdev: DV<'hostdev'> = {
  name: 'hostdev',
  kinds: ['hostdev'],
  check(h, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'hostdev');
    const mode = h.mode ?? 'subsystem';
    if (mode === 'capabilities') unsupported(`hostdev mode 'capabilities' is not supported in ${def.type}`, `${p}/@mode`);
    if (mode !== 'subsystem') return;
    const boot = h.boot?.order !== undefined;
    switch (h.type) {
      case 'usb':
        if (h.source?.guestReset !== undefined && !has('usb-host.guest-resets-all')) {
          unsupported('guestReset is not supported with this version of QEMU', `${p}/source/@guestReset`);
        }
        break;
      case 'pci':
        if (h.driver?.name === 'vfio' && !has('vfio-pci')) unsupported('VFIO PCI device assignment is not supported by this version of qemu', `${p}/driver/@name`);
        if (h.source?.writeFiltering !== undefined) {
          unsupported('Write filtering of PCI device configuration space is not supported by qemu', `${p}/source/@writeFiltering`);
        }
        break;
      case 'scsi_host':
        if (boot) unsupported('booting from assigned devices is not supported by vhost SCSI devices', `${p}/boot`);
        if (h.source?.protocol === 'vhost' && !has('vhost-scsi')) unsupported("This QEMU doesn't support vhost-scsi devices", `${p}/source/@protocol`);
        break;
      case 'mdev':
        switch (h.model) {
          case 'vfio-pci':
            if (!has('vfio-pci')) unsupported('VFIO PCI device assignment is not supported by this version of QEMU', `${p}/@model`);
            if (boot) unsupported('booting from assigned devices is not supported by mediated devices of model vfio-pci', `${p}/boot`);
            if (h.display === undefined) break;
            if (!has('vfio-pci.display')) unsupported('display property of device vfio-pci is not supported by this version of QEMU', `${p}/@display`);
            if (h.display === 'on' && !(def.devices?.graphics ?? []).length) {
              unsupported("graphics device is needed for attribute value 'display=on' in <hostdev>", `${p}/@display`);
            }
            break;
          case 'vfio-ap': {
            if (!has('vfio-ap')) unsupported('VFIO AP device assignment is not supported by this version of QEMU', `${p}/@model`);
            if (boot) unsupported('booting from assigned devices is not supported by mediated devices of model vfio-ap', `${p}/boot`);
            const aps = (def.devices?.hostdevs ?? []).filter((x) => x.type === 'mdev' && x.model === 'vfio-ap');
            if (aps.length > 1) unsupported('Only one hostdev of model vfio-ap is supported', p);
            break;
          }
          case 'vfio-ccw':
            if (!has('vfio-ccw')) unsupported('VFIO CCW device assignment is not supported by this version of QEMU', `${p}/@model`);
            break;
          default:
            break;
        }
        break;
      default:
        break;
    }
  },
};

// ------------------------------------------------------------ <video>, <graphics>, <audio>, <sound>

const VIDEO_CAPS: Record<string, string> = {
  vga: 'VGA',
  cirrus: 'cirrus-vga',
  vmvga: 'vmware-svga',
  qxl: 'qxl',
  virtio: 'virtio-gpu',
  bochs: 'bochs-display',
  ramfb: 'ramfb',
};

/** The default video model post-parse picks (qemuDomainDefaultVideoDevice). */
function defaultVideo(def: DomainDef, ctx: Ctx<QemuData>): string | undefined {
  const has = capsOf(ctx);
  const a = arch(def, ctx);
  if (isPPC64(a)) return 'vga';
  if (isARMVirt(def) || isRISCVVirt(def) || isS390(a)) return 'virtio';
  return has('cirrus-vga') ? 'cirrus' : has('VGA') ? 'vga' : undefined;
}

/** qemuValidateDomainDeviceDefVideo. */
const video: DV<'video'> = {
  name: 'video',
  kinds: ['video'],
  check(v, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'video');
    const m = v.model;
    const type = m?.type ?? defaultVideo(def, ctx) ?? 'default';
    if (type === 'none') return;
    const flag = VIDEO_CAPS[type];
    if (flag === undefined || !has(flag)) unsupported(`domain configuration does not support video model '${type}'`, `${p}/model/@type`);
    if (type !== 'qxl' && type !== 'virtio') {
      // The parser marked the first video primary.
      const primary = m?.primary === 'yes' || (def.devices?.videos ?? [])[0] === v;
      if (!primary) unsupported(`video type '${type}' is only valid as primary video device`, `${p}/model/@type`);
      if ((num(m?.heads) ?? 1) !== 1) unsupported(`video type '${type}' doesn't support multiple 'heads'`, `${p}/model/@heads`);
    }
    if (m?.acceleration?.accel2d === 'yes') unsupported('qemu does not support the accel2d setting', `${p}/model/acceleration/@accel2d`);
    if (type === 'qxl') {
      const limit = 4294967295 / 1024;
      if ((num(m?.vram) ?? 0) > limit) fail('OVERFLOW', `value for 'vram' must be less than '${Math.floor(limit)}'`, `${p}/model/@vram`);
      if ((num(m?.ram) ?? 0) > limit) fail('OVERFLOW', `value for 'ram' must be less than '${Math.floor(limit)}'`, `${p}/model/@ram`);
      const vgamem = num(m?.vgamem) ?? 0;
      if (vgamem) {
        if (vgamem < 1024) unsupported("value for 'vgamem' must be at least 1 MiB (1024 KiB)", `${p}/model/@vgamem`);
        if (!isPow2(vgamem)) unsupported("value for 'vgamem' must be power of two", `${p}/model/@vgamem`);
      }
    }
    if (!['vga', 'qxl', 'virtio', 'bochs'].includes(type) && m?.resolution !== undefined) fail('XML_ERROR', 'model resolution is not supported', `${p}/model/resolution`);
    if (type === 'vga' || type === 'vmvga') {
      const vram = num(m?.vram) ?? 0;
      if (vram && vram < 1024) unsupported("value for 'vram' must be at least 1 MiB (1024 KiB)", `${p}/model/@vram`);
    }
    if (v.driver?.name === 'vhostuser') {
      if (type === 'virtio' && !has('vhost-user-gpu')) unsupported("this QEMU does not support 'vhost-user' video device", `${p}/driver/@name`);
    } else if (m?.acceleration?.accel3d === 'yes') {
      if (type !== 'virtio') unsupported("3d acceleration is supported only with 'virtio' video device", `${p}/model/acceleration/@accel3d`);
      if (!(has('virtio-gpu.virgl') || has('virtio-gpu-gl-pci') || has('virtio-vga-gl'))) {
        unsupported('3d acceleration is not supported by this QEMU binary', `${p}/model/acceleration/@accel3d`);
      }
    }
    if (type === 'ramfb' && v.address !== undefined) unsupported("'address' is not supported for 'ramfb' video devices", `${p}/address`);
  },
};

const GRAPHICS_CAPS: Record<string, string> = { sdl: 'sdl', vnc: 'vnc', spice: 'spice', 'egl-headless': 'egl-headless', dbus: 'display-dbus' };

/** qemuValidateDomainDeviceDefGraphics. spice_tls is off in qemu.conf by default, so a spice tlsPort fails. */
const graphics: DV<'graphics'> = {
  name: 'graphics',
  kinds: ['graphics'],
  check(g, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'graphics');
    const type = g.type ?? '';
    const flag = GRAPHICS_CAPS[type];
    if (flag === undefined || !has(flag)) unsupported(`${type} graphics are not supported with this QEMU`, `${p}/@type`);
    const gl = g.gl?.enable === 'yes';
    if ((def.devices?.graphics ?? []).some((x) => x.type === 'egl-headless')) {
      if (type !== 'egl-headless' && type !== 'vnc' && type !== 'spice') {
        unsupported("graphics type 'egl-headless' is only supported with one of: 'vnc', 'spice' graphics types", `${p}/@type`);
      }
      if (type === 'spice' && gl) unsupported('multiple OpenGL displays are not supported by QEMU', `${p}/gl/@enable`);
    }
    switch (type) {
      case 'spice': {
        // The parser always leaves a first listen: the one given, else a socket or an address one.
        const listen = g.listens?.[0]?.type ?? (g.socket !== undefined ? 'socket' : 'address');
        if ((listen === 'address' || listen === 'network') && (num(g.tlsPort) ?? 0) > 0 && !QEMU_HOST.spiceTLS) {
          unsupported('spice TLS port set in XML configuration, but TLS is disabled in qemu.conf', `${p}/@tlsPort`);
        }
        if (gl) {
          if (!has('spice-gl')) unsupported("This QEMU doesn't support spice OpenGL", `${p}/gl/@enable`);
          if (g.gl?.rendernode !== undefined && !has('spice-rendernode')) unsupported("This QEMU doesn't support spice OpenGL rendernode", `${p}/gl/@rendernode`);
        }
        break;
      }
      case 'egl-headless':
        if (g.gl?.rendernode !== undefined && !has('egl-headless.rendernode')) {
          unsupported("This QEMU doesn't support OpenGL rendernode with egl-headless graphics type", `${p}/gl/@rendernode`);
        }
        break;
      case 'vnc': {
        if (g.powerControl !== undefined && !has('vnc-power-control')) unsupported('VNC power control is not available', `${p}/@powerControl`);
        const len = g.passwd !== undefined ? Buffer.byteLength(g.passwd, 'utf8') : 0;
        if (len > 8) unsupported(`VNC password is ${len} characters long, only 8 permitted`, `${p}/@passwd`);
        break;
      }
      case 'dbus': {
        const id = num(g.audio?.id) ?? 0;
        const audio = id > 0 ? (def.devices?.audios ?? []).find((a) => num(a.id) === id) : undefined;
        if (audio && audio.type !== 'dbus') unsupported("The associated audio is not of 'dbus' kind.", `${p}/audio/@id`);
        break;
      }
      default:
        break;
    }
  },
};

/** qemuValidateDomainDeviceDefAudio. */
const audio: DV<'audio'> = {
  name: 'audio',
  kinds: ['audio'],
  check(a, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'audio');
    if (a.type === 'spice' && !hasSpiceGraphics(def)) unsupported('Spice audio is not supported without spice graphics', `${p}/@type`);
    if (a.type === 'dbus' && !has('display-dbus')) unsupported('D-Bus audio is not supported with this QEMU', `${p}/@type`);
  },
};

const CODEC_CAPS: Record<string, string> = { duplex: 'hda-duplex', micro: 'hda-micro', output: 'hda-output' };

/** qemuValidateDomainDeviceDefSound. */
const sound: DV<'sound'> = {
  name: 'sound',
  kinds: ['sound'],
  check(s, _def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'sound');
    const model = s.model ?? '';
    if (model === 'usb' && !has('usb-audio')) unsupported('usb-audio controller is not supported by this QEMU binary', `${p}/@model`);
    if (model === 'ich9' && !has('ich9-intel-hda')) unsupported('The ich9-intel-hda audio controller is not supported in this QEMU binary', `${p}/@model`);
    if (model === 'ich7') fail('INTERNAL_ERROR', `sound card model '${model}' is not supported by qemu`, `${p}/@model`);
    if (model === 'ich6' || model === 'ich9') {
      (s.codecs ?? []).forEach((c, i) => {
        const flag = CODEC_CAPS[c.type ?? ''];
        if (flag === undefined || !has(flag)) unsupported(`hda-${c.type} not supported in this QEMU binary`, `${p}/codec[${i + 1}]/@type`);
      });
    }
  },
};

// ------------------------------------------------------------ <filesystem>

/** qemuValidateDomainDeviceDefFS. Generic post-parse made an absent accessmode passthrough unless a vhost-user socket is used. */
const filesystem: DV<'filesystem'> = {
  name: 'filesystem',
  kinds: ['filesystem'],
  check(fs, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'filesystem');
    if ((fs.type ?? 'mount') !== 'mount') unsupported('only supports mount filesystem type', `${p}/@type`);
    const multidevs = fs.multidevs !== undefined && fs.multidevs !== 'default';
    if (multidevs && !has('fsdev.multidevs')) unsupported('multidevs is not supported with this QEMU binary', `${p}/@multidevs`);
    const socket = fs.source?.socket !== undefined;
    const access = fs.accessmode ?? (socket ? undefined : 'passthrough');
    const fdmode = (num(fs.fmode) ?? 0) !== 0 || (num(fs.dmode) ?? 0) !== 0;
    if (fdmode && access !== 'mapped') unsupported('fmode and dmode must be used with accessmode=mapped', `${p}/@accessmode`);
    const driver = fs.driver?.type;
    const sandbox = fs.binary?.sandbox?.mode;
    if (driver !== 'virtiofs' && sandbox !== undefined && sandbox !== 'default') unsupported('sandbox can only be used with driver=virtiofs', `${p}/binary/sandbox`);
    switch (driver) {
      case 'handle':
        if (access !== 'passthrough') unsupported('only supports passthrough accessmode', `${p}/@accessmode`);
        break;
      case 'loop':
      case 'nbd':
      case 'ploop':
        unsupported('Filesystem driver type not supported', `${p}/driver/@type`);
      case 'virtiofs':
        if (!socket) {
          if (fs.readonly !== undefined) unsupported('virtiofs does not yet support read-only mode', `${p}/readonly`);
          if (!QEMU_HOST.privileged) unsupported('virtiofs is not yet supported in session mode', `${p}/driver/@type`);
          if (access !== 'passthrough') unsupported('virtiofs only supports passthrough accessmode', `${p}/@accessmode`);
          if (fs.driver?.wrpolicy !== undefined) unsupported('virtiofs does not support wrpolicy', `${p}/driver/@wrpolicy`);
        }
        if (fs.model !== undefined && fs.model !== 'default') unsupported('virtiofs does not support model', `${p}/@model`);
        if (fs.driver?.format !== undefined) unsupported('virtiofs does not support format', `${p}/driver/@format`);
        if (!has('vhost-user-fs')) unsupported('virtiofs is not supported with this QEMU binary', `${p}/driver/@type`);
        if (multidevs) unsupported('virtiofs does not support multidevs', `${p}/@multidevs`);
        if (fdmode) unsupported('virtiofs does not support fmode and dmode', p);
        requireSharedMemory(def, 'virtiofs', `${p}/driver/@type`);
        if (fs.boot?.order !== undefined && !has('vhost-user-fs.bootindex')) {
          unsupported('setting virtiofs boot order is not supported with this QEMU binary', `${p}/boot`);
        }
        break;
      default:
        break;
    }
  },
};

// ------------------------------------------------------------ <tpm>

/**
 * qemuValidateDomainDeviceDefTPM. The emulator and external backends and
 * the TPM versions come from the host's swtpm, which the hosts we assume do
 * not have (QEMU_HOST).
 */
const tpm: DV<'tpm'> = {
  name: 'tpm',
  kinds: ['tpm'],
  check(t, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'tpm');
    const a = arch(def, ctx);
    const model = t.model ?? (isPPC64(a) ? 'tpm-spapr' : 'tpm-tis');
    const backend = t.backend?.type ?? '';
    if (backend === 'emulator') {
      const version = t.backend?.version ?? (model === 'tpm-spapr' || model === 'tpm-crb' || isARMVirt(def) ? '2.0' : '1.2');
      const offered = QEMU_HOST.swtpm && QEMU_HOST.swtpmVersions.includes(version);
      if (!offered) unsupported(`TPM version '${version}' is not supported`, `${p}/backend`);
      if (version === '1.2') {
        if (model === 'tpm-crb') unsupported(`Unsupported interface '${model}' for TPM 1.2`, `${p}/@model`);
        if (model === 'tpm-spapr') unsupported('TPM 1.2 is not supported with the SPAPR device model', `${p}/@model`);
        if (isARMVirt(def)) unsupported('TPM 1.2 is not supported on ARM', `${p}/backend/@version`);
      }
    }
    const backendOffered = backend === 'passthrough' ? has('tpm-passthrough') : backend === 'emulator' || backend === 'external' ? QEMU_HOST.swtpm && has('tpm-emulator') : false;
    if (!backendOffered) unsupported(`The QEMU executable ${emulatorPath(def, ctx)} does not support TPM backend type ${backend}`, `${p}/backend/@type`);
    if (isPPC64(a) && model === 'spapr-tpm-proxy' && backend !== 'passthrough') unsupported(`TPM Proxy model ${model} requires 'Passthrough' backend`, `${p}/backend/@type`);
    const MODEL_CAPS: Record<string, string> = { 'tpm-tis': 'tpm-tis', 'tpm-crb': 'tpm-crb', 'tpm-spapr': 'tpm-spapr', 'spapr-tpm-proxy': 'spapr-tpm-proxy' };
    const flag = MODEL_CAPS[model];
    if (flag === undefined || !has(flag)) unsupported(`The QEMU executable ${emulatorPath(def, ctx)} does not support TPM model ${model}`, `${p}/@model`);
  },
};

// ------------------------------------------------------------ <input>

/** The QEMU device of each virtio input type; its capability flag has the same name. */
const INPUT_DEVICES: Record<string, string> = {
  mouse: 'virtio-mouse',
  tablet: 'virtio-tablet',
  keyboard: 'virtio-keyboard',
  passthrough: 'virtio-input-host',
  evdev: 'input-linux',
};

/** qemuValidateDomainDeviceDefInput. */
const input: DV<'input'> = {
  name: 'input',
  kinds: ['input'],
  check(i, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'input');
    const type = i.type ?? '';
    // The parser gives passthrough inputs the virtio bus and evdev ones none.
    const bus = i.bus ?? (type === 'passthrough' ? 'virtio' : undefined);
    if (bus === 'ps2' && !isX86(arch(def, ctx)) && !has('i8042')) unsupported('ps2 is not supported by this QEMU binary', `${p}/@bus`);
    if (bus === 'usb' && type === 'keyboard' && !has('usb-kbd')) unsupported('usb keyboard is not supported by this QEMU binary', `${p}/@type`);
    if (bus !== 'virtio') return;
    if (i.model === 'virtio-transitional' || i.model === 'virtio-non-transitional') {
      unsupported(`virtio (non-)transitional models are not supported for input type=${type}`, `${p}/@model`);
    }
    const dev = INPUT_DEVICES[type];
    // No virtio-*-ccw device exists on x86, so a ccw address fails too.
    if (dev && (!has(dev) || i.address?.type === 'ccw')) unsupported(`${dev} is not supported by this QEMU binary`, `${p}/@type`);
  },
};

// ------------------------------------------------------------ the rest

const memballoon: DV<'memballoon'> = {
  name: 'memballoon',
  kinds: ['memballoon'],
  check(m, _def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'memballoon');
    const model = m.model ?? '';
    if (model === 'none') return;
    if (!VIRTIO_MODELS.includes(model)) unsupported(`Memory balloon device type '${model}' is not supported by this version of qemu`, `${p}/@model`);
    if (m.autodeflate !== undefined && !has('virtio-balloon-pci.deflate-on-oom')) unsupported('deflate-on-oom is not supported by this QEMU binary', `${p}/@autodeflate`);
    if (m.freePageReporting !== undefined && !has('virtio-balloon.free-page-reporting')) {
      unsupported('freePageReporting is not supported by this QEMU binary', `${p}/@freePageReporting`);
    }
  },
};

/** qemuValidateDomainDeviceDefIOMMU. */
const iommu: DV<'iommu'> = {
  name: 'iommu',
  kinds: ['iommu'],
  check(io, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'iommu');
    const model = io.model ?? '';
    const at = `${p}/@model`;
    switch (model) {
      case 'intel':
        if (!isQ35(def)) unsupported(`IOMMU device: '${model}' is only supported with Q35 machines`, at);
        if (!has('intel-iommu')) unsupported(`IOMMU device: '${model}' is not supported with this QEMU binary`, at);
        break;
      case 'smmuv3':
        if (!isARMVirt(def)) unsupported(`IOMMU device: '${model}' is only supported with ARM Virt machines`, at);
        unsupported(`IOMMU device: '${model}' is not supported with this QEMU binary`, at);
      case 'virtio':
        if (!isARMVirt(def) && !isQ35(def)) unsupported(`IOMMU device: '${model}' is only supported with Q35 and ARM Virt machines`, at);
        if (!has('virtio-iommu-pci') || !has('virtio-iommu.boot-bypass')) unsupported(`IOMMU device: '${model}' is not supported with this QEMU binary`, at);
        if (def.features?.acpi === undefined) unsupported(`IOMMU device: '${model}' requires ACPI`, at);
        if (io.address?.type !== undefined && io.address.type !== 'pci') unsupported(`IOMMU device: '${model}' needs a PCI address`, `${p}/address/@type`);
        break;
      default:
        break;
    }
    const d = io.driver;
    if (!d) return;
    const at2 = `${p}/driver`;
    if (d.intremap !== undefined && !has('intel-iommu.intremap')) unsupported('iommu: interrupt remapping is not supported with this QEMU binary', `${at2}/@intremap`);
    if (d.cachingMode !== undefined && !has('intel-iommu.caching-mode')) unsupported('iommu: caching mode is not supported with this QEMU binary', `${at2}/@caching_mode`);
    if (d.eim !== undefined && !has('intel-iommu.eim')) unsupported('iommu: eim is not supported with this QEMU binary', `${at2}/@eim`);
    if (d.iotlb !== undefined && !has('intel-iommu.device-iotlb')) unsupported('iommu: device IOTLB is not supported with this QEMU binary', `${at2}/@iotlb`);
    if ((num(d.awBits) ?? 0) > 0 && !has('intel-iommu.aw-bits')) unsupported('iommu: aw_bits is not supported with this QEMU binary', `${at2}/@aw_bits`);
  },
};

const nvram: DV<'nvram'> = {
  name: 'nvram',
  kinds: ['nvram'],
  check(_n, def, ctx) {
    const p = pathOf(ctx, 'nvram');
    if (!isPSeries(def)) unsupported('nvram device is only supported for PPC64', p);
    unsupported('nvram device is not supported by this QEMU binary', p);
  },
};

const hub: DV<'hub'> = {
  name: 'hub',
  kinds: ['hub'],
  check(h, _def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'hub');
    if ((h.type ?? 'usb') !== 'usb') unsupported(`hub type ${h.type} not supported`, `${p}/@type`);
    if (!has('usb-hub')) unsupported('usb-hub not supported by QEMU binary', p);
  },
};

/**
 * qemuValidateDomainDeviceDefMemory. `sgx-epc` is host-dependent: libvirt
 * only sets it on SGX hosts, which the hosts we assume are not.
 */
const memory: DV<'memory'> = {
  name: 'memory-device',
  kinds: ['memory'],
  check(m, _def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'memory');
    const at = `${p}/@model`;
    switch (m.model) {
      case 'dimm':
        if (!has('pc-dimm')) unsupported("memory hotplug isn't supported by this QEMU binary", at);
        break;
      case 'nvdimm':
        if (!has('nvdimm')) unsupported("nvdimm isn't supported by this QEMU binary", at);
        if (m.target?.readonly !== undefined && !has('nvdimm.unarmed')) unsupported('nvdimm readonly property is not available with this QEMU binary', `${p}/target/readonly`);
        break;
      case 'virtio-pmem':
        if (!has('virtio-pmem-pci')) unsupported("virtio-pmem isn't supported by this QEMU binary", at);
        break;
      case 'virtio-mem':
        if (!has('virtio-mem-pci')) unsupported("virtio-mem isn't supported by this QEMU binary", at);
        break;
      case 'sgx-epc':
        if (!has('sgx-epc')) unsupported("sgx epc isn't supported by this QEMU binary", at);
        unsupported("this QEMU version didn't provide SGX EPC NUMA info", at);
      default:
        break;
    }
  },
};

const shmem: DV<'shmem'> = {
  name: 'shmem',
  kinds: ['shmem'],
  check(s, _def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'shmem');
    const model = s.model?.type ?? 'ivshmem';
    // The legacy ivshmem device left QEMU in 4.0.
    if (model === 'ivshmem' && !has('ivshmem')) unsupported('ivshmem device is not supported with this QEMU binary', `${p}/model`);
    if ((model === 'ivshmem-plain' || model === 'ivshmem-doorbell') && !has(model)) {
      unsupported(`shmem model '${model}' is not supported by this QEMU binary`, `${p}/model/@type`);
    }
  },
};

const vsock: DV<'vsock'> = {
  name: 'vsock',
  kinds: ['vsock'],
  check(_v, _def, ctx) {
    const has = capsOf(ctx);
    if (!has('vhost-vsock')) unsupported('vsock device is not supported with this QEMU binary', pathOf(ctx, 'vsock'));
  },
};

/** The per-kind checks of qemuValidateDomainDeviceDef, after the device-info ones. */
export const qemuDeviceKindChecks: DeviceValidator<QemuData, any>[] = [
  network,
  chardev,
  smartcard,
  rng,
  redirdev,
  watchdog,
  hostdev,
  video,
  vsock,
  tpm,
  graphics,
  input,
  memballoon,
  iommu,
  filesystem,
  nvram,
  hub,
  sound,
  memory,
  shmem,
  audio,
];
