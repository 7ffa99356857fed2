/**
 * <video> as libvirt's generic layer reads it (virDomainVideoDefParseXML:
 * model, sizes, heads defaulting to 1, a primary='yes' video moved first),
 * fills it (virDomainVideoDefPostParse: default ram/vram rounded up to a
 * power of two; virDomainDefPostParseVideo: the first video is the primary
 * one, a first video of type none is cleared) and checks it
 * (virDomainVideoDefValidate, virDomainDefVideoValidate).
 *
 * A video without a model type is left for a driver to choose its model
 * (libvirt's 'default' type is not a value its schema accepts).
 */
import { VirtError } from '../../errors.ts';
import type { DomainDraft } from '../types.ts';
import { deviceList, devicePath, parseUInt32 } from './generic-helpers.ts';
import type { ParseRule } from './index.ts';

/** virDomainVideo, in enum order. */
export const VIDEO_TYPES = ['default', 'vga', 'cirrus', 'vmvga', 'xen', 'vbox', 'qxl', 'parallels', 'virtio', 'gop', 'none', 'bochs', 'ramfb'];

interface VideoModel {
  type?: string;
  ram?: string;
  vram?: string;
  vram64?: string;
  vgamem?: string;
  heads?: string;
  primary?: string;
  resolution?: { x?: string; y?: string };
}
interface Video {
  model?: VideoModel;
  alias?: unknown;
  address?: unknown;
  driver?: { name?: string };
}

/** virDomainVideoDefaultRAM, in KiB. */
function defaultRam(def: DomainDraft, type: string): number {
  switch (type) {
    case 'vga':
    case 'cirrus':
    case 'vmvga':
      return def.type === 'vbox' ? 8192 : def.type === 'vmware' ? 4096 : 16384;
    case 'bochs':
      return 16384;
    case 'xen':
      return 4096;
    case 'qxl':
      return 65536;
    default:
      return 0;
  }
}

/** VIR_ROUND_UP_POWER_OF_TWO on an unsigned int: 0 stays 0, above 2^31 gives 0. */
function roundUpPow2(n: number): number {
  if (n <= 0 || n > 2 ** 31) return 0;
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Per-video parse and post-parse defaults; they also run for a video parsed alone. */
export const videoDefaults: ParseRule = (def, ctx) => {
  deviceList<Video>(def, 'videos').forEach((v, i) => {
    const path = devicePath(ctx, 'video', i);
    const m = v.model;
    if (!m) return;
    if (m.type !== undefined && !VIDEO_TYPES.includes(m.type)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown video model '${m.type}'`, `${path}/model/@type`);
    const sizes: Record<string, number> = {};
    for (const k of ['ram', 'vram', 'vram64', 'vgamem'] as const) {
      if (m[k] === undefined) continue;
      const n = parseUInt32(m[k]);
      if (n === undefined) throw new VirtError('XML_ERROR', `cannot parse video ${k} '${m[k]}'`, `${path}/model/@${k}`);
      sizes[k] = n;
    }
    let heads = 1;
    if (m.heads !== undefined) {
      const n = parseUInt32(m.heads);
      if (n === undefined) throw new VirtError('INTERNAL_ERROR', `cannot parse video heads '${m.heads}'`, `${path}/model/@heads`);
      heads = n;
    }
    // A model type is what every default below depends on; without one a driver decides.
    if (m.type === undefined) return;
    let ram = sizes['ram'] ?? 0;
    let vram = sizes['vram'] ?? 0;
    if (ram === 0 && m.type === 'qxl') ram = defaultRam(def, m.type);
    if (vram === 0) vram = defaultRam(def, m.type);
    ram = roundUpPow2(ram);
    vram = roundUpPow2(vram);
    writeSize(m, 'ram', ram);
    writeSize(m, 'vram', vram);
    writeSize(m, 'vram64', sizes['vram64'] ?? 0);
    writeSize(m, 'vgamem', sizes['vgamem'] ?? 0);
    writeSize(m, 'heads', heads);
    // primary is written only as 'yes'; anything else reads as not primary.
    if (m.primary !== 'yes') delete m.primary;
  });
};

/** A video model size as libvirt writes it: absent when 0. */
function writeSize(m: Partial<Record<'ram' | 'vram' | 'vram64' | 'vgamem' | 'heads', string>>, k: 'ram' | 'vram' | 'vram64' | 'vgamem' | 'heads', n: number): void {
  if (n !== 0) m[k] = String(n);
  else delete m[k];
}

/** Parse time: a video with primary='yes' is inserted at the front, in document order (the last one ends first). */
export const primaryVideoFirst: ParseRule = (def) => {
  const videos = deviceList<Video>(def, 'videos');
  if (videos.length < 2) return;
  const ordered: Video[] = [];
  for (const v of videos) {
    if (v.model?.primary === 'yes') ordered.unshift(v);
    else ordered.push(v);
  }
  videos.splice(0, videos.length, ...ordered);
};

/** virDomainDefPostParseVideo: the first video is the primary one; a first video of type none keeps only its alias. */
export const primaryVideo: ParseRule = (def) => {
  const first = deviceList<Video>(def, 'videos')[0];
  if (!first?.model?.type) return;
  if (first.model.type === 'none') {
    for (const k of Object.keys(first) as (keyof Video)[]) if (k !== 'alias') delete first[k];
    first.model = { type: 'none' };
    return;
  }
  first.model.primary = 'yes';
};

/** virDomainVideoDefValidate. */
export const videoValidate: ParseRule = (def, ctx) => {
  const videos = deviceList<Video>(def, 'videos');
  videos.forEach((v, i) => {
    const path = devicePath(ctx, 'video', i);
    const m = v.model;
    if (!m?.type) return;
    if (m.type === 'none' && videos.length > 1) {
      throw new VirtError('CONFIG_UNSUPPORTED', "a 'none' video type must be the only video device defined for the domain", `${path}/model/@type`);
    }
    if (v.driver?.name === 'vhostuser' && m.type !== 'virtio') throw new VirtError('CONFIG_UNSUPPORTED', "'vhostuser' driver is only supported with 'virtio' device", `${path}/driver/@name`);
    if (m.resolution && (parseUInt32(m.resolution.x) === 0 || parseUInt32(m.resolution.y) === 0)) {
      throw new VirtError('CONFIG_UNSUPPORTED', 'video resolution values must be greater than 0', `${path}/model/resolution`);
    }
    if (m.type !== 'qxl') {
      for (const k of ['ram', 'vram64', 'vgamem'] as const) {
        if (m[k] !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', `${k} attribute only supported for video type qxl`, `${path}/model/@${k}`);
      }
    }
    if (m.type === 'ramfb' && v.address !== undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'address not supported for video type ramfb', `${path}/address`);
  });
};

/** virDomainDefVideoValidate: only one video may be primary. */
export const onePrimaryVideo: ParseRule = (def) => {
  const videos = deviceList<Video>(def, 'videos');
  if (videos[0]?.model?.primary !== 'yes') return;
  const j = videos.findIndex((v, k) => k > 0 && v.model?.primary === 'yes');
  if (j > 0) throw new VirtError('CONFIG_UNSUPPORTED', 'Only one primary video device is supported', `/domain/devices/video[${j + 1}]/model/@primary`);
};
