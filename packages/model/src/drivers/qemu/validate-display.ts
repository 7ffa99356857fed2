/**
 * QEMU validation of video, graphics, audio, sound and input devices
 * (qemuValidateDomainDeviceDefVideo, ...Graphics, ...Audio, ...Sound,
 * ...Input in src/qemu/qemu_validate.c).
 */
import type { DomainDef } from '../../domain/types.ts';
import type { Ctx } from '../../postparse/types.ts';
import type { QemuData } from './data.ts';
import {
  arch,
  capsOf,
  fail,
  hasSpiceGraphics,
  isARMVirt,
  isPow2,
  isPPC64,
  isRISCVVirt,
  isS390,
  isX86,
  num,
  pathOf,
  QEMU_HOST,
  unsupported,
  type DV,
} from './validate-util.ts';

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
export const video: DV<'video'> = {
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
export const graphics: DV<'graphics'> = {
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
export const audio: DV<'audio'> = {
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
export const sound: DV<'sound'> = {
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
export const input: DV<'input'> = {
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
