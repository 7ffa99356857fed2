/**
 * Capabilities of the non-QEMU hosts virtflow's drivers describe, as pure
 * builders: what libvirt's LXC (virLXCDriverCapsInit), libxl
 * (libxlMakeCapabilities / libxlCapsInitGuests) and bhyve (virBhyveCapsBuild)
 * drivers report. At define these drivers only match a guest by OS type,
 * arch and domain type (virCapabilitiesDomainSupported); LXC also copies the
 * guest's emulator. Machines, loaders and guest features are described only
 * as far as the types hold them.
 */
import type { Capabilities, GuestCaps } from './types.ts';

const WORDSIZE: Record<string, number> = {
  i686: 32, x86_64: 64, aarch64: 64, armv7l: 32, ppc: 32, ppc64: 64, ppc64le: 64, s390: 32, s390x: 64,
  parisc: 32, parisc64: 64, sparc: 32, sparc64: 64, mips: 32, mipsel: 32, mips64: 64, mips64el: 64, ia64: 64, riscv64: 64,
};

/** The guest word size libvirt reports for an arch (virArchGetWordSize), 64 when unlisted. */
export function wordsize(arch: string): number {
  return WORDSIZE[arch] ?? 64;
}

// ---------------------------------------------------------------------------
// LXC

/** Debian/Ubuntu's LIBEXECDIR helper; Fedora/RHEL use /usr/libexec/libvirt_lxc. */
export const LXC_EMULATOR_DEBIAN = '/usr/lib/libvirt/libvirt_lxc';
export const LXC_EMULATOR_FEDORA = '/usr/libexec/libvirt_lxc';

/** lxcContainerGetAlt32bitArch: the 32-bit personality a 64-bit host can also run. */
export function lxcAlt32bitArch(arch: string): string | undefined {
  const alt: Record<string, string> = {
    x86_64: 'i686', s390x: 's390', ppc64: 'ppc', parisc64: 'parisc', sparc64: 'sparc', mips64: 'mips', mips64el: 'mipsel', aarch64: 'armv7l',
  };
  return alt[arch];
}

export interface LxcCapsOptions {
  /** Path of the libvirt_lxc helper; default Debian's. */
  readonly emulator?: string;
  readonly cpus?: number;
  readonly memoryKiB?: number;
}

/** An LXC host: an `exe` guest for the host arch and, on 64-bit hosts, for its 32-bit personality. */
export function lxcCaps(hostArch: string, opts: LxcCapsOptions = {}): Capabilities {
  const emulator = opts.emulator ?? LXC_EMULATOR_DEBIAN;
  const guest = (arch: string): GuestCaps => ({ osType: 'exe', arch, wordsize: wordsize(arch), emulator, machines: [], domains: [{ type: 'lxc' }] });
  const alt = lxcAlt32bitArch(hostArch);
  return {
    host: { arch: hostArch, ...(opts.cpus ? { cpus: opts.cpus } : {}), ...(opts.memoryKiB ? { memoryKiB: opts.memoryKiB } : {}) },
    guests: [guest(hostArch), ...(alt ? [guest(alt)] : [])],
    cpuModels: [],
    source: `lxc: libvirt_lxc at ${emulator} (built)`,
  };
}

// ---------------------------------------------------------------------------
// Xen (libxl)

/** What `xl info` prints as xen_caps on a typical x86_64 host. */
export const XEN_CAPS_X86_64 = 'xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64';
export const XEN_CAPS_AARCH64 = 'xen-3.0-aarch64';

export interface XenCapsOptions {
  /** The hypervisor's capability string (xen_caps); default by host arch. */
  readonly xenCaps?: string;
  /** libvirt built against Xen >= 4.10 headers (WITH_XEN_PVH): each new HVM arch also gets a PVH guest. Default true. */
  readonly pvh?: boolean;
  /** LIBXL_EXECBIN_DIR; default /usr/lib/xen/bin. */
  readonly execbinDir?: string;
  readonly cpus?: number;
  readonly memoryKiB?: number;
}

const XEN_CAP_RE = /(xen|hvm)-\d+\.\d+-(aarch64|armv7l|x86_32|x86_64|ia64|powerpc64)(p|be)?/;

const XEN_ARCH: Record<string, string> = { x86_32: 'i686', x86_64: 'x86_64', ia64: 'ia64', powerpc64: 'ppc64', armv7l: 'armv7l', aarch64: 'aarch64' };

/**
 * A Xen host, from its capability string as libxlCapsInitGuests reads it:
 * `xen-*` tokens give PV guests (machine xenpv), `hvm-*` tokens HVM guests
 * (xenfv) and, with PVH support, a PVH guest (xenpvh) after each new HVM
 * arch. Every guest runs under domain type `xen` with the device model
 * `qemu-system-i386`.
 */
export function xenCaps(hostArch: string, opts: XenCapsOptions = {}): Capabilities {
  const capsString = opts.xenCaps ?? (hostArch === 'aarch64' ? XEN_CAPS_AARCH64 : hostArch === 'x86_64' || hostArch === 'i686' ? XEN_CAPS_X86_64 : '');
  const pvh = opts.pvh ?? true;
  const emulator = `${opts.execbinDir ?? '/usr/lib/xen/bin'}/qemu-system-i386`;
  // Entries as libvirt's guest_archs table: merged by (arch, hvm); a PVH entry counts as not hvm.
  const archs: Array<{ arch: string; hvm: boolean; pvh: boolean }> = [];
  for (const token of capsString.split(' ').filter(Boolean)) {
    const m = XEN_CAP_RE.exec(token);
    if (!m || archs.length >= 32) continue;
    const hvm = m[1] === 'hvm';
    const arch = XEN_ARCH[m[2]!]!;
    let i = archs.findIndex((a) => a.arch === arch && a.hvm === hvm);
    if (i < 0) {
      archs.push({ arch, hvm, pvh: false });
      i = archs.length - 1;
    }
    // libvirt adds the PVH guest when the HVM entry is the last of the table (in practice: a new one).
    if (pvh && hvm && i === archs.length - 1 && archs.length < 32) archs.push({ arch, hvm: false, pvh: true });
  }
  const guests: GuestCaps[] = archs.map((a) => ({
    osType: a.hvm ? 'hvm' : a.pvh ? 'xenpvh' : 'xen',
    arch: a.arch,
    wordsize: wordsize(a.arch),
    emulator,
    machines: [{ name: a.hvm ? 'xenfv' : a.pvh ? 'xenpvh' : 'xenpv', maxCpus: a.hvm ? 128 : 512 }],
    domains: [{ type: 'xen' }],
  }));
  return {
    host: { arch: hostArch, ...(opts.cpus ? { cpus: opts.cpus } : {}), ...(opts.memoryKiB ? { memoryKiB: opts.memoryKiB } : {}) },
    guests,
    cpuModels: [],
    source: `xen: ${capsString || '(no guests)'} (built)`,
  };
}

// ---------------------------------------------------------------------------
// bhyve

export interface BhyveCapsOptions {
  readonly cpus?: number;
  readonly memoryKiB?: number;
}

/** A bhyve host (FreeBSD): one guest, hvm on x86_64 under domain type bhyve, emulator `bhyve`, whatever the host arch. */
export function bhyveCaps(hostArch = 'x86_64', opts: BhyveCapsOptions = {}): Capabilities {
  return {
    host: { arch: hostArch, ...(opts.cpus ? { cpus: opts.cpus } : {}), ...(opts.memoryKiB ? { memoryKiB: opts.memoryKiB } : {}) },
    guests: [{ osType: 'hvm', arch: 'x86_64', wordsize: 64, emulator: 'bhyve', machines: [], domains: [{ type: 'bhyve' }] }],
    cpuModels: [],
    source: 'bhyve (built)',
  };
}

// ---------------------------------------------------------------------------

/** Whether the capabilities describe any guest for a domain type (a QEMU host's have no lxc, xen or bhyve guest). */
export function hasDomainType(caps: Capabilities, domainType: string): boolean {
  return caps.guests.some((g) => g.domains.some((d) => d.type === domainType));
}

/**
 * virCapabilitiesDomainDataLookup: the guest (and its emulator) matching an
 * OS type, arch and domain type, trying the host arch first when the arch is
 * unset. Undefined when none matches.
 */
export function lookupDomainData(caps: Capabilities, osType: string, arch: string | undefined, domainType: string): { guest: GuestCaps; emulator: string | undefined } | undefined {
  const find = (a: string | undefined) => {
    for (const g of caps.guests) {
      if (g.osType !== osType) continue;
      if (a !== undefined && g.arch !== a) continue;
      const d = g.domains.find((x) => x.type === domainType);
      if (d) return { guest: g, emulator: d.emulator ?? g.emulator };
    }
    return undefined;
  };
  return (arch === undefined ? find(caps.host.arch) : undefined) ?? find(arch);
}

/**
 * The detail of libvirt's `could not find capabilities for %s`: `ostype=X `
 * unless the OS type is hvm (enum value 0), `arch=A ` when set, then
 * `domaintype=T `, each with a trailing space.
 */
export function capsLookupDetail(osType: string, arch: string | undefined, domainType: string | undefined): string {
  let s = '';
  if (osType !== 'hvm') s += `ostype=${osType} `;
  if (arch) s += `arch=${arch} `;
  if (domainType && domainType !== 'none') s += `domaintype=${domainType} `;
  return `could not find capabilities for ${s || 'any configuration'}`;
}
