/**
 * A pure reader of libvirt's QEMU capabilities cache: the `<qemuCaps>`
 * document virQEMUCapsFormatCache writes for one emulator binary (under
 * /var/cache/libvirt/qemu/capabilities/, and the files of libvirt's
 * tests/qemucapabilitiesdata). It reads what virQEMUCapsLoadCache
 * (src/qemu/qemu_capabilities.c) reads — the capability flags, the version,
 * the arch, per accelerator the host CPU, the CPU models and the machine
 * types, then the GIC, SEV, SGX and Hyper-V data — and turns it into our
 * Capabilities the way virQEMUCapsInitGuestFromBinary builds a guest from
 * a binary's caps, keeping the flags and the per-accelerator machine lists
 * the QEMU driver's post-parse consults (drivers/qemu/data.ts).
 *
 * Differences from libvirt: flag names are not checked against libvirt's
 * list (libvirt rejects an unknown one), the cache's invalidation stamps
 * (selfctime, selfvers, qemuctime) are read but not compared, and the host
 * CPU's properties and the SEV limits probed at load are left out.
 */
import { VirtError } from '../errors.ts';
import { readXml } from '../xml/read.ts';
import { childElements, textOf, type XmlElement } from '../xml/tree.ts';
import { wordsize } from './other.ts';
import type { Capabilities, CpuModel, GuestCaps, GuestDomainType, MachineType } from './types.ts';

/** libvirt's accelerators as the cache names them (virQEMUCapsAccelStr). */
export type QemuAccel = 'kvm' | 'hvf' | 'tcg';

/** One `<machine>` (virQEMUCapsMachineType). */
export interface QemuCapsMachine {
  readonly name: string;
  /** QEMU's alias for the machine (`pc` for `pc-i440fx-8.0`). */
  readonly alias?: string;
  /** 0 when the cache does not say. */
  readonly maxCpus: number;
  readonly hotplugCpus: boolean;
  /** QEMU's own default machine (`default='yes'`). */
  readonly qemuDefault: boolean;
  readonly numaMemSupported: boolean;
  /** The QOM type of the machine's default CPU (`qemu64-x86_64-cpu`). */
  readonly defaultCPU?: string;
  readonly defaultRAMid?: string;
  readonly deprecated: boolean;
}

/** One `<cpu>` (qemuMonitorCPUDefInfo). */
export interface QemuCapsCpu {
  readonly name: string;
  /** The QOM type (`qemu64-x86_64-cpu`). */
  readonly typename?: string;
  readonly usable: 'unknown' | 'yes' | 'no';
  /** The features that keep the model from being usable on the host. */
  readonly blockers: readonly string[];
  readonly deprecated: boolean;
}

/** What the cache holds per accelerator (virQEMUCapsAccel). */
export interface QemuCapsAccelInfo {
  /** `<hostCPU>`: the model QEMU expands the host CPU from (its properties are not kept). */
  readonly hostCPU?: { readonly model: string; readonly migratability: boolean };
  readonly cpuModels: readonly QemuCapsCpu[];
  /** In the cache's order, which is libvirt's: the first is the preferred machine. */
  readonly machines: readonly QemuCapsMachine[];
}

export interface QemuCapsGIC {
  readonly version: number;
  /** Implemented in the kernel (usable with KVM). */
  readonly kernel: boolean;
  /** Emulated by QEMU (usable with TCG). */
  readonly emulated: boolean;
}

export interface QemuCapsXml {
  readonly emulator: string;
  readonly selfctime: number;
  readonly selfvers: number;
  readonly qemuctime: number;
  /** Capability flags in the cache's order, named as libvirt names them (`qemu-xhci`). */
  readonly flags: readonly string[];
  /** major * 1000000 + minor * 1000 + micro. */
  readonly version: number;
  readonly kvmVersion: number;
  readonly microcodeVersion: number;
  readonly package?: string;
  readonly kernelVersion?: string;
  readonly hostCPUSignature?: string;
  /** The binary's target arch, in libvirt's names (`x86_64`). */
  readonly arch: string;
  /** Read as libvirt reads them: `kvm` only with the kvm flag, `hvf` only with the hvf flag, `tcg` always. */
  readonly accels: Readonly<Partial<Record<QemuAccel, QemuCapsAccelInfo>>>;
  readonly gic: readonly QemuCapsGIC[];
  /** Read only with the sev-guest flag, as libvirt does. */
  readonly sev?: { readonly cbitpos: number; readonly reducedPhysBits: number; readonly pdh: string; readonly certChain: string };
  /** Read only with the sgx-epc flag, as libvirt does. */
  readonly sgx?: {
    readonly flc: boolean;
    readonly sgx1: boolean;
    readonly sgx2: boolean;
    readonly sectionSize: number;
    readonly sections: ReadonlyArray<{ readonly node: number; readonly size: number }>;
  };
  readonly hyperv?: { readonly supported: 'yes' | 'no' | 'absent'; readonly features: readonly string[] };
  readonly kvmSupportsNesting: boolean;
  readonly kvmSupportsSecureGuest: boolean;
}

// ------------------------------------------------------------ reading

const internal = (detail: string): VirtError => new VirtError('INTERNAL_ERROR', detail, '/qemuCaps');
const xmlError = (detail: string): VirtError => new VirtError('XML_ERROR', detail, '/qemuCaps');

const children = (el: XmlElement, name: string): XmlElement[] => childElements(el).filter((c) => c.name === name);
const child = (el: XmlElement, name: string): XmlElement | undefined => childElements(el).find((c) => c.name === name);

/** XPath string() of the first such child: its whole text, '' when absent. */
function stringOf(el: XmlElement, name: string): string | undefined {
  const c = child(el, name);
  return c === undefined ? undefined : deepText(c);
}

function deepText(el: XmlElement): string {
  let out = '';
  for (const c of el.children) out += typeof c === 'string' ? c : deepText(c);
  return out;
}

/** virXPathUInt / virXPathLongLong: a whole decimal number (a leading sign only where signed). */
function numberOf(el: XmlElement, name: string, signed: boolean): number | undefined {
  const s = stringOf(el, name);
  if (s === undefined || !(signed ? /^\s*-?\d+$/ : /^\s*\d+$/).test(s)) return undefined;
  return Number(s);
}

const yes = (v: string | undefined): boolean => v === 'yes';

function loadMachines(root: XmlElement, accel: QemuAccel): QemuCapsMachine[] {
  return children(root, 'machine')
    .filter((m) => m.attrs.type === accel)
    .map((m) => {
      const a = m.attrs;
      if (a.name === undefined) throw internal('missing machine name in QEMU capabilities cache');
      let maxCpus = 0;
      if (a.maxCpus !== undefined) {
        if (!/^\s*\d+$/.test(a.maxCpus)) throw internal('malformed machine cpu count in QEMU capabilities cache');
        maxCpus = Number(a.maxCpus);
      }
      return {
        name: a.name,
        ...(a.alias !== undefined ? { alias: a.alias } : {}),
        maxCpus,
        hotplugCpus: yes(a.hotplugCpus),
        qemuDefault: yes(a.default),
        numaMemSupported: yes(a.numaMemSupported),
        ...(a.defaultCPU !== undefined ? { defaultCPU: a.defaultCPU } : {}),
        ...(a.defaultRAMid !== undefined ? { defaultRAMid: a.defaultRAMid } : {}),
        deprecated: yes(a.deprecated),
      };
    });
}

const USABLE = ['unknown', 'yes', 'no'] as const;

function loadCpuModels(root: XmlElement, accel: QemuAccel): QemuCapsCpu[] {
  return children(root, 'cpu')
    .filter((c) => c.attrs.type === accel)
    .map((c) => {
      const a = c.attrs;
      let usable: QemuCapsCpu['usable'] = 'unknown';
      if (a.usable !== undefined) {
        if (!(USABLE as readonly string[]).includes(a.usable)) throw internal(`unknown value '${a.usable}' in attribute 'usable'`);
        usable = a.usable as QemuCapsCpu['usable'];
      }
      if (a.name === undefined) throw internal('missing cpu name in QEMU capabilities cache');
      const blockers = children(c, 'blocker').map((b) => {
        if (b.attrs.name === undefined) throw internal('missing blocker name in QEMU capabilities cache');
        return b.attrs.name;
      });
      return { name: a.name, ...(a.typename !== undefined ? { typename: a.typename } : {}), usable, blockers, deprecated: yes(a.deprecated) };
    });
}

function loadHostCPU(root: XmlElement, accel: QemuAccel): QemuCapsAccelInfo['hostCPU'] {
  const h = children(root, 'hostCPU').find((x) => x.attrs.type === accel);
  if (!h) return undefined;
  if (h.attrs.model === undefined) throw internal('missing host CPU model name in QEMU capabilities cache');
  const m = h.attrs.migratability;
  if (m !== 'yes' && m !== 'no') {
    throw xmlError(m === undefined ? "Missing required attribute 'migratability' in element 'hostCPU'" : `Invalid value for attribute 'migratability' in element 'hostCPU': '${m}'. Expected 'yes' or 'no'`);
  }
  return { model: h.attrs.model, migratability: m === 'yes' };
}

function loadAccel(root: XmlElement, accel: QemuAccel): QemuCapsAccelInfo {
  const hostCPU = loadHostCPU(root, accel);
  return { ...(hostCPU ? { hostCPU } : {}), cpuModels: loadCpuModels(root, accel), machines: loadMachines(root, accel) };
}

function loadGIC(root: XmlElement): QemuCapsGIC[] {
  return children(root, 'gic').map((g) => {
    const { version, kernel, emulated } = g.attrs;
    if (version === undefined) throw internal('missing GIC version in QEMU capabilities cache');
    if (!/^\s*\d+$/.test(version)) throw internal('malformed GIC version in QEMU capabilities cache');
    if (kernel === undefined) throw internal('missing in-kernel GIC information in QEMU capabilities cache');
    if (kernel !== 'yes' && kernel !== 'no') throw internal('malformed in-kernel GIC information in QEMU capabilities cache');
    if (emulated === undefined) throw internal('missing emulated GIC information in QEMU capabilities cache');
    if (emulated !== 'yes' && emulated !== 'no') throw internal('malformed emulated GIC information in QEMU capabilities cache');
    return { version: Number(version), kernel: kernel === 'yes', emulated: emulated === 'yes' };
  });
}

function loadSEV(root: XmlElement): QemuCapsXml['sev'] {
  const sev = child(root, 'sev');
  if (!sev) throw xmlError('missing SEV platform data in QEMU capabilities cache');
  const cbitpos = numberOf(sev, 'cbitpos', false);
  if (cbitpos === undefined) throw xmlError('missing or malformed SEV cbitpos information in QEMU capabilities cache');
  const reducedPhysBits = numberOf(sev, 'reducedPhysBits', false);
  if (reducedPhysBits === undefined) throw xmlError('missing or malformed SEV reducedPhysBits information in QEMU capabilities cache');
  const pdh = stringOf(sev, 'pdh');
  if (!pdh) throw xmlError('missing SEV pdh information in QEMU capabilities cache');
  const certChain = stringOf(sev, 'certChain');
  if (!certChain) throw xmlError('missing SEV certChain information in QEMU capabilities cache');
  return { cbitpos, reducedPhysBits, pdh, certChain };
}

function loadSGX(root: XmlElement): QemuCapsXml['sgx'] {
  const sgx = child(root, 'sgx');
  if (!sgx) throw xmlError('missing SGX platform data in QEMU capabilities cache');
  const yesNo = (name: string): boolean => {
    const v = stringOf(sgx, name);
    if (v !== 'yes' && v !== 'no') throw xmlError(`missing or invalid SGX platform ${name} in QEMU capabilities cache`);
    return v === 'yes';
  };
  const flc = yesNo('flc');
  const sgx1 = yesNo('sgx1');
  const sgx2 = yesNo('sgx2');
  const sectionSize = numberOf(sgx, 'section_size', false);
  if (sectionSize === undefined) throw xmlError('missing or malformed SGX platform section_size in QEMU capabilities cache');
  const sectionsEl = child(sgx, 'sections');
  const sections = (sectionsEl ? children(sectionsEl, 'section') : []).map((s) => {
    if (!/^\d+$/.test(s.attrs.node ?? '')) throw internal('missing node name in QEMU capabilities cache');
    if (!/^\d+$/.test(s.attrs.size ?? '')) throw internal('missing size name in QEMU capabilities cache');
    return { node: Number(s.attrs.node), size: Number(s.attrs.size) };
  });
  return { flc, sgx1, sgx2, sectionSize, sections };
}

function loadHyperv(root: XmlElement): QemuCapsXml['hyperv'] {
  const h = child(root, 'hypervCapabilities');
  if (!h) return undefined;
  const s = h.attrs.supported;
  if (s !== 'yes' && s !== 'no' && s !== 'absent') {
    throw xmlError(s === undefined ? "Missing required attribute 'supported' in element 'hypervCapabilities'" : `Invalid value for attribute 'supported' in element 'hypervCapabilities': '${s}'.`);
  }
  const features = children(h, 'cap').map((c) => {
    if (c.attrs.name === undefined) throw xmlError("Missing required attribute 'name' in element 'cap'");
    return c.attrs.name;
  });
  return { supported: s, features };
}

export interface QemuCapsReadOptions {
  /** Largest document accepted, in bytes. Default 16 MiB (the caches of libvirt's tests are 100 to 300 KiB). */
  readonly maxBytes?: number;
}

/** virQEMUCapsLoadCache: reads a `<qemuCaps>` document; throws VirtError where libvirt fails the load. */
export function parseQemuCapsXml(input: string | Uint8Array, opts: QemuCapsReadOptions = {}): QemuCapsXml {
  const root = readXml(input, { maxBytes: opts.maxBytes ?? 16 * 1024 * 1024, documentName: 'qemuCaps' });
  if (root.name !== 'qemuCaps') throw xmlError(`expecting root element of 'qemuCaps', not '${root.name}'`);

  const selfctime = numberOf(root, 'selfctime', true);
  if (selfctime === undefined) throw xmlError('missing selfctime in QEMU capabilities XML');
  const selfvers = numberOf(root, 'selfvers', false);
  if (selfvers === undefined) throw internal('missing selfvers in QEMU capabilities cache');
  const emulator = stringOf(root, 'emulator');
  if (!emulator) throw internal('missing emulator in QEMU capabilities cache');
  const qemuctime = numberOf(root, 'qemuctime', true);
  if (qemuctime === undefined) throw xmlError('missing qemuctime in QEMU capabilities XML');

  const flags = children(root, 'flag').map((f) => {
    if (f.attrs.name === undefined) throw internal('missing flag name in QEMU capabilities cache');
    return f.attrs.name;
  });
  const has = new Set(flags);

  const version = numberOf(root, 'version', false);
  if (version === undefined) throw internal('missing version in QEMU capabilities cache');
  const kvmVersion = numberOf(root, 'kvmVersion', false);
  if (kvmVersion === undefined) throw internal('missing version in QEMU capabilities cache');
  const microcodeVersion = numberOf(root, 'microcodeVersion', false);
  if (microcodeVersion === undefined) throw internal('missing microcode version in QEMU capabilities cache');
  const hostCPUSignature = stringOf(root, 'hostCPUSignature');
  const pkg = stringOf(root, 'package');
  const kernelVersion = stringOf(root, 'kernelVersion');
  const arch = stringOf(root, 'arch');
  if (!arch) throw internal('missing arch in QEMU capabilities cache');

  const accels: Partial<Record<QemuAccel, QemuCapsAccelInfo>> = {};
  if (has.has('kvm')) accels.kvm = loadAccel(root, 'kvm');
  if (has.has('hvf')) accels.hvf = loadAccel(root, 'hvf');
  accels.tcg = loadAccel(root, 'tcg');

  const gic = loadGIC(root);
  const sev = has.has('sev-guest') ? loadSEV(root) : undefined;
  const sgx = has.has('sgx-epc') ? loadSGX(root) : undefined;
  const hyperv = loadHyperv(root);

  return {
    emulator,
    selfctime,
    selfvers,
    qemuctime,
    flags,
    version,
    kvmVersion,
    microcodeVersion,
    ...(pkg !== undefined ? { package: pkg } : {}),
    ...(kernelVersion ? { kernelVersion } : {}),
    ...(hostCPUSignature ? { hostCPUSignature } : {}),
    arch,
    accels,
    gic,
    ...(sev ? { sev } : {}),
    ...(sgx ? { sgx } : {}),
    ...(hyperv ? { hyperv } : {}),
    kvmSupportsNesting: child(root, 'kvmSupportsNesting') !== undefined,
    kvmSupportsSecureGuest: child(root, 'kvmSupportsSecureGuest') !== undefined,
  };
}

// ----------------------------------------------------- test-suite tweak

/**
 * virQEMUCapsStripMachineAliases: every alias becomes a machine of its own,
 * a copy of the machine it named (default CPU, maxCpus, QEMU's default
 * mark and all), added at the end of the accelerator's list; the named
 * machine loses its alias. libvirt's tests apply it to the "latest"
 * capabilities so that `pc` or `q35` in a test input stays as written
 * instead of becoming whatever versioned machine the newest QEMU maps it
 * to. The preferred machine (the list's first) is unchanged.
 */
export function stripMachineAliases(caps: QemuCapsXml): QemuCapsXml {
  const strip = (a: QemuCapsAccelInfo): QemuCapsAccelInfo => {
    const copies: QemuCapsMachine[] = [];
    const machines = a.machines.map(({ alias, ...m }) => {
      if (alias !== undefined) copies.push({ ...m, name: alias });
      return m;
    });
    return { ...a, machines: [...machines, ...copies] };
  };
  const accels: Partial<Record<QemuAccel, QemuCapsAccelInfo>> = {};
  for (const [k, v] of Object.entries(caps.accels) as Array<[QemuAccel, QemuCapsAccelInfo]>) accels[k] = strip(v);
  return { ...caps, accels };
}

// ------------------------------------------------------ to Capabilities

/** 7002050 → `7.2.50`. */
export function qemuVersionString(version: number): string {
  return `${Math.floor(version / 1000000)}.${Math.floor(version / 1000) % 1000}.${version % 1000}`;
}

/**
 * An accelerator's machines as our MachineType list, in the cache's order:
 * each machine, then its alias as an entry of its own naming it
 * (`canonical`), as virQEMUCapsGetMachineTypesCaps lists them. The default
 * CPU is resolved from its QOM type to the model name through the
 * accelerator's CPU models (virQEMUCapsGetMachineDefaultCPU).
 */
function machineTypes(a: QemuCapsAccelInfo): MachineType[] {
  const out: MachineType[] = [];
  for (const m of a.machines) {
    const cpu = m.defaultCPU !== undefined ? a.cpuModels.find((c) => c.typename === m.defaultCPU)?.name : undefined;
    out.push({
      name: m.name,
      maxCpus: m.maxCpus,
      ...(m.qemuDefault ? { isDefault: true } : {}),
      ...(m.deprecated ? { deprecated: true } : {}),
      ...(cpu !== undefined ? { defaultCPU: cpu } : {}),
      ...(m.hotplugCpus ? { hotplugCpus: true } : {}),
      ...(m.numaMemSupported ? { numaMemSupported: true } : {}),
      ...(m.defaultRAMid !== undefined ? { defaultRAMid: m.defaultRAMid } : {}),
    });
    if (m.alias !== undefined) out.push({ name: m.alias, canonical: m.name, maxCpus: m.maxCpus, ...(m.deprecated ? { deprecated: true } : {}) });
  }
  return out;
}

function cpuModels(a: QemuCapsAccelInfo): CpuModel[] {
  return a.cpuModels.map((c) => ({
    name: c.name,
    ...(c.typename !== undefined ? { typename: c.typename } : {}),
    usable: c.usable,
    ...(c.deprecated ? { deprecated: true } : {}),
  }));
}

export interface QemuCapsToCapabilitiesOptions {
  /** The host's arch; default the binary's. */
  readonly hostArch?: string;
  /** Where the facts came from; default names the cache's emulator and version. */
  readonly source?: string;
}

/**
 * Capabilities of a host with this one binary, as virQEMUCapsInitGuestFromBinary
 * describes it: one hvm guest for the binary's arch whose machines are those
 * of the first accelerator probed (kvm, hvf, then tcg); domain types `qemu`
 * with the tcg flag, `kvm` and `hvf` with theirs, each with its own machine
 * list; the binary's flags on the guest. CPU models are the same first
 * accelerator's.
 */
export function qemuCapsToCapabilities(q: QemuCapsXml, opts: QemuCapsToCapabilitiesOptions = {}): Capabilities {
  const has = new Set(q.flags);
  const first = (has.has('kvm') && q.accels.kvm) || (has.has('hvf') && q.accels.hvf) || q.accels.tcg;
  const domains: GuestDomainType[] = [];
  const domain = (type: string, a: QemuCapsAccelInfo | undefined) => domains.push({ type, machines: a ? machineTypes(a) : [] });
  if (has.has('tcg')) domain('qemu', q.accels.tcg);
  if (has.has('kvm')) domain('kvm', q.accels.kvm);
  if (has.has('hvf')) domain('hvf', q.accels.hvf);
  const guest: GuestCaps = {
    osType: 'hvm',
    arch: q.arch,
    wordsize: wordsize(q.arch),
    emulator: q.emulator,
    machines: first ? machineTypes(first) : [],
    domains,
    qemuFlags: q.flags,
  };
  const version = qemuVersionString(q.version);
  return {
    host: { arch: opts.hostArch ?? q.arch },
    guests: [guest],
    cpuModels: first ? cpuModels(first) : [],
    source: opts.source ?? `libvirt QEMU capabilities cache: ${q.emulator} ${version}${q.package ? ` (${q.package})` : ''}`,
    qemuVersion: version,
    qemuVersionNumber: q.version,
  };
}

export interface ReadQemuCapsOptions extends QemuCapsReadOptions, QemuCapsToCapabilitiesOptions {
  /** Apply virQEMUCapsStripMachineAliases first, as libvirt's tests do with the latest capabilities. */
  readonly stripMachineAliases?: boolean;
}

/** parseQemuCapsXml, then optionally stripMachineAliases, then qemuCapsToCapabilities. */
export function readQemuCapsXml(input: string | Uint8Array, opts: ReadQemuCapsOptions = {}): Capabilities {
  const q = parseQemuCapsXml(input, opts);
  return qemuCapsToCapabilities(opts.stripMachineAliases ? stripMachineAliases(q) : q, opts);
}
