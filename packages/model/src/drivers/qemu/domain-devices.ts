/**
 * qemuDomainDefAddDefaultDevices (src/qemu/qemu_domain.c): the devices a
 * QEMU machine has built in or libvirt always gives it — PS/2 inputs on x86,
 * the USB controller, SATA on q35, the PCI root, the memballoon, USB inputs
 * and panic on ppc64, panic on s390, and the default audio backend. It runs
 * before the machine alias is made canonical, so every test here accepts
 * both `pc` and `pc-i440fx-7.2`.
 */
import type { Draft } from 'immer';
import { VirtError } from '../../errors.ts';
import { domainRule, type DomainRule } from '../../postparse/rules.ts';
import type { DomainDef } from '../../domain/types.ts';
import { isARMVirt, isMipsMalta, isPPC64, isPSeries, isQ35, isI440fx, isRISCVVirt, isS390, isX86, type QemuData } from './data.ts';

type Def = Draft<DomainDef>;
type Devices = NonNullable<Def['devices']>;
type Controller = NonNullable<Devices['controllers']>[number];

/** What the machine family wants: libvirt's per-arch switch. `usbModel` undefined is "the machine's default", chosen per device later. */
interface Plan {
  readonly usb: boolean;
  readonly usbModel?: string;
  readonly sata: boolean;
  readonly pciRoot: boolean;
  readonly pcieRoot: boolean;
  readonly memballoon: boolean;
  readonly usbInputs: boolean;
  readonly panic: boolean;
}

/** The q35 USB controller: USB3 if the binary has it, else USB2 with its companions, else none. */
function q35UsbModel(data: QemuData): string | undefined {
  if (data.has('qemu-xhci')) return 'qemu-xhci';
  if (data.has('nec-usb-xhci')) return 'nec-xhci';
  if (data.has('ich9-usb-ehci1')) return 'ich9-ehci1';
  return undefined;
}

/** The plans are shared constants (the rules below ask for one each): one per variant. */
const BASE: Plan = { usb: true, sata: false, pciRoot: false, pcieRoot: false, memballoon: true, usbInputs: false, panic: false };
const variants = new Map<string, Plan>();

function variant(change: Partial<Plan>): Plan {
  const key = JSON.stringify(change);
  let plan = variants.get(key);
  if (!plan) variants.set(key, (plan = Object.freeze({ ...BASE, ...change })));
  return plan;
}

const ISAPC = variant({ usb: false });
const I440FX = variant({ pciRoot: true });
const X86_OTHER = variant({});
/** The q35 plan depends on the binary's USB controllers only: one per driver data. */
const q35Plans = new WeakMap<QemuData, Plan>();

function q35Plan(data: QemuData): Plan {
  let plan = q35Plans.get(data);
  if (!plan) {
    const model = q35UsbModel(data);
    q35Plans.set(data, (plan = { ...BASE, usb: model !== undefined, ...(model ? { usbModel: model } : {}), pcieRoot: true, sata: true }));
  }
  return plan;
}

export function defaultDevicePlan(def: DomainDef, data: QemuData): Plan {
  const arch = def.os?.type?.arch;
  const machine = def.os?.type?.machine ?? '';
  switch (arch) {
    case 'i686':
    case 'x86_64': {
      if (machine === 'isapc') return ISAPC;
      if (isQ35(def)) return q35Plan(data);
      return isI440fx(def) ? I440FX : X86_OTHER;
    }
    case 'armv6l':
      return variant({ usb: false, memballoon: false, pciRoot: machine === 'versatilepb' });
    case 'armv7l':
    case 'aarch64':
      return variant({ usb: false, memballoon: false, pcieRoot: isARMVirt(def) && data.has('gpex-pcihost') });
    case 'ppc64':
    case 'ppc64le':
      return variant({ pciRoot: true, usbInputs: true, panic: isPSeries(def) });
    case 'alpha':
    case 'ppc':
    case 'ppcemb':
    case 'sh4':
    case 'sh4eb':
    case 'sparc64':
      return variant({ pciRoot: true });
    case 'riscv32':
    case 'riscv64':
      return variant({ usb: false, pcieRoot: isRISCVVirt(def) && data.has('gpex-pcihost') });
    case 's390':
    case 's390x':
      return variant({ usb: false, panic: true, pciRoot: data.has('zpci') });
    case 'sparc':
      return variant({ usb: false, memballoon: false });
    case 'mips':
    case 'mipsel':
    case 'mips64':
    case 'mips64el':
      return variant({ pciRoot: isMipsMalta(def) });
    default:
      return BASE;
  }
}

const controllers = (def: Def): Controller[] => ((def.devices ??= {}).controllers ??= []);
const hasController = (def: Def, type: string, index: number): boolean =>
  (def.devices?.controllers ?? []).some((c) => c.type === type && c.index !== undefined && Number(c.index) === index);

function maybeAddInput(def: Def, type: string, bus: string): void {
  const inputs = ((def.devices ??= {}).inputs ??= []);
  if (inputs.some((i) => i.type === type && i.bus === bus)) return;
  inputs.push({ type, bus });
}

const planOf = (def: Def, data: QemuData): Plan => defaultDevicePlan(def as DomainDef, data);

const ps2Inputs = domainRule<QemuData>('input-ps2-default', 'an x86 QEMU machine always has a PS/2 mouse and keyboard', (def) => {
  if (!isX86(def.os?.type?.arch)) return;
  maybeAddInput(def, 'mouse', 'ps2');
  maybeAddInput(def, 'keyboard', 'ps2');
});

const usbController = domainRule<QemuData>(
  'usb-controller-default',
  'QEMU gives the guest a USB controller at index 0 unless one is defined: USB3 (qemu-xhci) on q35, the machine default elsewhere; none on isapc, ARM, RISC-V and s390',
  (def, ctx) => {
    const plan = planOf(def, ctx.data);
    if (!plan.usb || hasController(def, 'usb', 0)) return;
    const list = controllers(def);
    list.push({ type: 'usb', index: '0', ...(plan.usbModel ? { model: plan.usbModel } : {}) });
    if (plan.usbModel !== 'ich9-ehci1') return;
    // The EHCI controller's UHCI companions share its index.
    list.push({ type: 'usb', index: '0', model: 'ich9-uhci1', master: { startport: '0' } });
    list.push({ type: 'usb', index: '0', model: 'ich9-uhci2', master: { startport: '2' } });
    list.push({ type: 'usb', index: '0', model: 'ich9-uhci3', master: { startport: '4' } });
  },
);

const sataController = domainRule<QemuData>('sata-controller-default', 'a q35 machine has a built-in SATA (AHCI) controller at index 0', (def, ctx) => {
  if (!planOf(def, ctx.data).sata || hasController(def, 'sata', 0)) return;
  controllers(def).push({ type: 'sata', index: '0' });
});

const pciRoot = domainRule<QemuData>('pci-root-default', 'the machine has a PCI root bus (pci-root on i440fx and ppc64, pcie-root on q35 and ARM/RISC-V virt), controller index 0', (def, ctx) => {
  const plan = planOf(def, ctx.data);
  const want = plan.pciRoot ? 'pci-root' : plan.pcieRoot ? 'pcie-root' : undefined;
  if (!want) return;
  const list = def.devices?.controllers ?? [];
  const i = list.findIndex((c) => c.type === 'pci' && c.index !== undefined && Number(c.index) === 0);
  if (i < 0) {
    controllers(def).push({ type: 'pci', index: '0', model: want });
    return;
  }
  const found = list[i]!.model;
  if (found !== want) {
    throw new VirtError(
      'XML_ERROR',
      `The PCI controller with index='0' must be model='${want}' for this machine type, but model='${found ?? '(null)'}' was found instead`,
      `/domain/devices/controller[${i + 1}]${found === undefined ? '' : '/@model'}`,
    );
  }
});

const memballoon = domainRule<QemuData>('memballoon-default', 'QEMU gives every guest a virtio memory balloon unless <memballoon> is defined (none on ARM and 32-bit SPARC)', (def, ctx) => {
  if (!planOf(def, ctx.data).memballoon || def.devices?.memballoon) return;
  (def.devices ??= {}).memballoon = { model: 'virtio' };
});

const usbInputs = domainRule<QemuData>('input-usb-default', 'a ppc64 guest with graphics gets a USB keyboard, and a USB mouse unless it has a USB tablet', (def, ctx) => {
  if (!planOf(def, ctx.data).usbInputs) return;
  if (!def.devices?.graphics?.length) return;
  const tablet = (def.devices.inputs ?? []).some((i) => i.type === 'tablet' && i.bus === 'usb');
  maybeAddInput(def, 'keyboard', 'usb');
  if (!tablet) maybeAddInput(def, 'mouse', 'usb');
});

const panic = domainRule<QemuData>('panic-default', "pSeries firmware and s390 provide a panic notifier, so QEMU adds the <panic> device they stand for", (def, ctx) => {
  if (!planOf(def, ctx.data).panic) return;
  const arch = def.os?.type?.arch;
  const panics = ((def.devices ??= {}).panics ??= []);
  const covered = panics.some((p) => p.model === undefined || p.model === 'default' || (isPPC64(arch) && p.model === 'pseries') || (isS390(arch) && p.model === 's390'));
  if (!covered) panics.push({});
});

/** QEMU_AUDIO_DRV names: `pa` and `wav` are QEMU's own spellings of pulseaudio and file. */
const AUDIO_TYPES = ['none', 'alsa', 'coreaudio', 'jack', 'oss', 'pulseaudio', 'sdl', 'spice', 'file', 'dbus'];
const SDL_DRIVERS = ['esd', 'alsa', 'arts', 'pulseaudio'];

/** qemuDomainDefSuggestDefaultAudioBackend: the one <audio> a domain without any gets, or undefined. */
export function suggestDefaultAudio(def: DomainDef, data: QemuData): { type: string; driver?: string } | undefined {
  const cfg = data.config;
  let add = false;
  let backend = 'none';
  let passthrough = false;
  const graphics = def.devices?.graphics ?? [];
  for (const g of graphics) {
    if (g.type === 'vnc') {
      passthrough = cfg.vncAllowHostAudio;
      if (!passthrough) backend = 'none';
      add = true;
    } else if (g.type === 'spice') {
      passthrough = false;
      backend = 'spice';
      add = true;
    } else if (g.type === 'sdl') {
      passthrough = true;
      add = true;
    }
  }
  if (graphics.length === 0) {
    passthrough = cfg.nographicsAllowHostAudio;
    if (!passthrough) backend = 'none';
    add = true;
  }
  if (add && passthrough) {
    const env = cfg.env.QEMU_AUDIO_DRV;
    if (env === undefined) return undefined;
    const t = env === 'pa' ? 'pulseaudio' : env === 'wav' ? 'file' : env;
    if (!AUDIO_TYPES.includes(t)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown QEMU_AUDIO_DRV setting ${env}`, '/domain/devices/audio');
    backend = t;
  }
  if (!add) return undefined;
  if (backend === 'sdl' && cfg.env.SDL_AUDIODRIVER !== undefined) {
    const drv = cfg.env.SDL_AUDIODRIVER;
    if (!SDL_DRIVERS.includes(drv)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown SDL_AUDIODRIVER setting ${drv}`, '/domain/devices/audio');
    return { type: backend, driver: drv };
  }
  return { type: backend };
}

const audio = domainRule<QemuData>(
  'audio-default',
  "QEMU gives a domain without <audio> one backend: spice's with SPICE graphics, else none (qemu.conf keeps host audio off for VNC and headless guests)",
  (def, ctx) => {
    if (def.devices?.audios?.length) return;
    const a = suggestDefaultAudio(def as DomainDef, ctx.data);
    if (!a) return;
    ((def.devices ??= {}).audios ??= []).push({ id: '1', ...a });
  },
);

/** qemuDomainDefAddDefaultDevices, in libvirt's order. */
export const qemuDefaultDeviceRules: DomainRule<QemuData>[] = [ps2Inputs, usbController, sataController, pciRoot, memballoon, usbInputs, panic, audio];
