/**
 * Host safety, the part libvirt's security drivers play for a node: a
 * definition must not make the agent (or the hypervisor it starts) open a host
 * file outside the storage it was given. Every place of a domain or device
 * definition that names a host path — disk and filesystem sources, kernel,
 * initrd, loader, nvram, character device files and sockets, logs, the
 * emulator, rendernodes, TPM and RNG devices, host device nodes, tap scripts
 * and device nodes, smartcard databases, audio files — must lie under one of the
 * host's allowed roots once normalised (`.` and `..` resolved: `..` cannot
 * climb out of a root). QEMU command-line pass-through can name any file, so
 * it is refused while a restriction is in force.
 *
 * Pure: it reads the XML text only. Symbolic links are the agent's to resolve
 * (services/host-agent/src/storage-guard.ts) before it asks again.
 */
import type { Capabilities } from '../caps/types.ts';
import { VirtError } from '../errors.ts';
import { readXml } from '../xml/read.ts';
import { isElement, textOf, type XmlElement } from '../xml/tree.ts';

/** A host path named by a definition, and where. */
export interface HostPath {
  /** Where it is written: `/domain/devices/disk[2]/source/@file`, `/domain/os/kernel`. */
  readonly path: string;
  /** As written. */
  readonly value: string;
}

/** Something a restriction refuses outright, whatever the roots (QEMU pass-through). */
export interface Unsafe {
  readonly path: string;
  readonly why: string;
}

// Attributes of a <source> (at any depth under a device) that name a host path.
const SOURCE_ATTRS = ['file', 'dir', 'dev', 'path', 'evdev', 'socket'] as const;
// Elements under <os> whose text is a host file.
const OS_FILES: ReadonlySet<string> = new Set(['kernel', 'initrd', 'loader', 'nvram', 'dtb']);

interface Walk {
  readonly found: HostPath[];
  readonly unsafe: Unsafe[];
}

/** Every host path a domain (or, for attach-device, a device) definition names, in document order. */
export function hostPaths(input: string | XmlElement): { readonly paths: readonly HostPath[]; readonly unsafe: readonly Unsafe[] } {
  const root = typeof input === 'string' ? readXml(input) : input;
  const w: Walk = { found: [], unsafe: [] };
  visit(root, `/${root.name}`, [], w, root.name !== 'domain');
  return { paths: w.found, unsafe: w.unsafe };
}

function visit(el: XmlElement, at: string, ancestors: readonly XmlElement[], w: Walk, rootIsDevice: boolean): void {
  collect(el, at, ancestors, w, rootIsDevice);
  const counts = new Map<string, number>();
  const totals = new Map<string, number>();
  for (const c of el.children) if (isElement(c)) totals.set(c.name, (totals.get(c.name) ?? 0) + 1);
  const next = [...ancestors, el];
  for (const c of el.children) {
    if (!isElement(c)) continue;
    const i = (counts.get(c.name) ?? 0) + 1;
    counts.set(c.name, i);
    // libvirt's paths index an element only among same-named siblings: disk[2].
    visit(c, `${at}/${c.name}${totals.get(c.name)! > 1 ? `[${i}]` : ''}`, next, w, rootIsDevice);
  }
}

function collect(el: XmlElement, at: string, ancestors: readonly XmlElement[], w: Walk, rootIsDevice: boolean): void {
  const names = ancestors.map((a) => a.name);
  const parent = ancestors[ancestors.length - 1];
  const inDevices = rootIsDevice || names.includes('devices');
  const attr = (a: string) => {
    const v = el.attrs[a];
    if (v !== undefined) w.found.push({ path: `${at}/@${a}`, value: v });
  };
  const text = () => {
    const v = textOf(el).trim();
    if (v !== '') w.found.push({ path: at, value: v });
  };
  if (/(^|:)(commandline|override)$/.test(el.name) && ancestors.length === 1 && ancestors[0]!.name === 'domain') {
    w.unsafe.push({ path: at, why: 'passes arguments to the hypervisor that can name any host file' });
    return;
  }
  if (parent?.name === 'os' && ancestors.length === 2) {
    if (OS_FILES.has(el.name)) text();
    if (el.name === 'nvram') attr('template');
    return;
  }
  if (el.name === 'table' && parent?.name === 'acpi' && names.includes('os')) return text();
  if (!inDevices) return;
  switch (el.name) {
    case 'source': {
      // A NIC's <source dev='eth0'> names a network interface; a pty's path is the one the host allocated.
      const owner = ancestors.find((a, i) => i >= ancestors.length - 3 && ['interface', 'serial', 'console', 'parallel', 'channel'].includes(a.name));
      for (const a of SOURCE_ATTRS) {
        if (a === 'dev' && owner?.name === 'interface') continue;
        if (a === 'path' && owner && owner.attrs.type === 'pty') continue;
        attr(a);
      }
      return;
    }
    case 'emulator':
      return text();
    case 'log':
    case 'mirror':
      return attr('file');
    case 'binary':
      return attr('path');
    case 'backend':
      if (parent?.name === 'interface') {
        attr('tap');
        attr('vhost');
        return undefined;
      }
      return parent?.name === 'rng' && el.attrs.model === 'random' ? text() : undefined;
    case 'device':
      return parent?.name === 'backend' ? attr('path') : undefined;
    case 'server':
      return parent?.name === 'shmem' ? attr('path') : undefined;
    case 'path':
      return parent?.name === 'source' ? text() : undefined;
    // A host device handed over (<hostdev mode='capabilities'>): its node.
    case 'block':
    case 'char':
      return parent?.name === 'source' ? text() : undefined;
    case 'database':
      return parent?.name === 'smartcard' ? text() : undefined;
    // Scripts the hypervisor runs when it brings a tap up or down, and a tap's device nodes.
    case 'script':
    case 'downscript':
      return attr('path');
    case 'audio':
      return attr('path');
    case 'graphics':
    case 'listen':
      return attr('socket');
    case 'gl':
    case 'driver':
      return attr('rendernode');
    default:
      return undefined;
  }
}

/** `path` with `.` and `..` resolved and repeated or trailing slashes dropped; undefined when not absolute. */
export function normalizePath(path: string): string | undefined {
  if (!path.startsWith('/') || path.includes('\0')) return undefined;
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/** Whether `path` (normalised) lies under one of `roots` (normalised). */
export function underRoots(path: string, roots: readonly string[]): boolean {
  return roots.some((r) => r === '/' || path === r || path.startsWith(`${r}/`));
}

/** The roots, normalised; INVALID_ARG naming the bad one. */
export function normalizeRoots(roots: readonly string[]): string[] {
  return roots.map((r, i) => {
    const n = normalizePath(r);
    if (n === undefined) throw new VirtError('INVALID_ARG', `storage root '${r}' must be an absolute path`, `/storagePaths[${i + 1}]`);
    return n;
  });
}

/** A refusal: the element's path, the value, the allowed roots. */
export function storageDenied(p: HostPath, roots: readonly string[], detail?: string): VirtError {
  const why = detail ?? (normalizePath(p.value) === undefined ? 'is not an absolute path' : 'is outside the allowed storage paths');
  return new VirtError('OPERATION_DENIED', `host path '${p.value}' ${why} (allowed: ${roots.join(', ')})`, p.path);
}

/**
 * The host's own binaries, allowed wherever they are: the emulators its
 * capabilities list (a driver fills `<emulator>` from them at post-parse).
 */
export function trustedBinaries(caps: Capabilities | undefined): string[] {
  const out = new Set<string>();
  for (const g of caps?.guests ?? []) {
    if (g.emulator) out.add(g.emulator);
    for (const d of g.domains) if (d.emulator) out.add(d.emulator);
  }
  return [...out];
}

/**
 * Throws OPERATION_DENIED for the first host path of `xml` outside `roots`
 * (or the first QEMU pass-through), naming the element's path and the roots.
 * `roots` undefined or empty: no restriction. Returns the paths checked, each
 * normalised, for a caller that resolves links and checks again (the
 * `trusted` ones, exact paths such as trustedBinaries(caps), are allowed as
 * they are and not returned).
 */
export function checkStoragePaths(xml: string | XmlElement, roots: readonly string[] | undefined, opts: { readonly trusted?: readonly string[] } = {}): readonly HostPath[] {
  if (!roots || roots.length === 0) return [];
  const allowed = normalizeRoots(roots);
  const trusted = new Set((opts.trusted ?? []).map((t) => normalizePath(t)).filter((t) => t !== undefined));
  const { paths, unsafe } = hostPaths(xml);
  const u = unsafe[0];
  if (u) throw new VirtError('OPERATION_DENIED', `<${u.path.slice(u.path.lastIndexOf('/') + 1)}> ${u.why}: refused while storage paths are restricted (allowed: ${allowed.join(', ')})`, u.path);
  const out: HostPath[] = [];
  for (const p of paths) {
    const n = normalizePath(p.value);
    if (n !== undefined && trusted.has(n)) continue;
    if (n === undefined || !underRoots(n, allowed)) throw storageDenied(p, allowed);
    out.push({ path: p.path, value: n });
  }
  return out;
}
