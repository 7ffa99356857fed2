/**
 * A tiny bootable guest, built at test time from Debian packages: Debian's
 * kernel (linux-image-*-amd64) and an initramfs of busybox-static whose /init
 * mounts proc/sys/dev, loads the ACPI button, evdev and virtio modules, prints
 * a ready marker on the serial console and powers off when the ACPI power
 * button is pressed (QMP system_powerdown).
 *
 * The packages are fetched with `apt-get download` into a cache folder
 * (VIRTFLOW_GUEST_CACHE, default /tmp/virtflow-guest-cache) and only the
 * needed members are extracted (dpkg-deb --fsys-tarfile | tar). The initramfs
 * is written here in the cpio newc format, gzip'd by node: no cpio binary needed.
 */
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface TinyGuest {
  readonly kernel: string;
  readonly initrd: string;
  readonly cmdline: string;
  /** Printed on the serial console once the power button is watched. */
  readonly readyMarker: string;
}

export const READY_MARKER = 'VIRTFLOW-GUEST-READY';

/** Modules to load, dependencies first (modules.dep is not in the package: depmod writes it at install). */
const MODULES = [
  'drivers/acpi/button.ko',
  'drivers/input/evdev.ko',
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_pci_legacy_dev.ko',
  'drivers/virtio/virtio_pci_modern_dev.ko',
  'drivers/virtio/virtio_pci.ko',
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/net/virtio_net.ko',
  'drivers/block/virtio_blk.ko',
];

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ${MODULES.map((m) => m.slice(m.lastIndexOf('/') + 1, -3)).join(' ')}; do insmod /lib/modules/$m.ko 2>/dev/null; done
# The ACPI power button is an input device named "Power Button": wait for its
# event node, then power off on its first event.
watched=0
for try in $(seq 1 100); do
  for d in /sys/class/input/event*; do
    [ -e "$d/device/name" ] || continue
    if grep -q "Power Button" "$d/device/name"; then
      ev=/dev/input/\${d##*/}
      while [ ! -e "$ev" ]; do sleep 0.05; done
      (dd if="$ev" of=/dev/null bs=24 count=1 2>/dev/null; echo "virtflow-guest: power button, powering off"; poweroff -f) &
      watched=1
    fi
  done
  [ "$watched" = 1 ] && break
  sleep 0.05
done
[ "$watched" = 1 ] || echo "virtflow-guest: no power button found"
echo ${READY_MARKER}
while true; do sleep 3600; done
`;

function cacheDir(): string {
  return process.env['VIRTFLOW_GUEST_CACHE'] ?? '/tmp/virtflow-guest-cache';
}

function sh(cmd: string, cwd?: string): string {
  return execSync(cmd, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 300_000 });
}

/** The newest linux-image-<version>-amd64 the apt sources offer. */
function kernelPackage(): string {
  const deps = sh('apt-cache depends linux-image-amd64');
  const m = /Depends: (linux-image-[0-9][^\s]*-amd64)\b/.exec(deps);
  if (!m) throw new Error('apt-cache names no linux-image-*-amd64 behind linux-image-amd64');
  return m[1]!;
}

function download(pkg: string, dir: string): string {
  const have = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (have) return join(dir, have);
  sh(`apt-get download ${pkg}`, dir);
  const got = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!got) throw new Error(`apt-get download ${pkg} left no .deb`);
  return join(dir, got);
}

/** Extracts only `patterns` (tar wildcards) of a .deb into `dest`. */
function extract(deb: string, dest: string, patterns: readonly string[]): void {
  mkdirSync(dest, { recursive: true });
  execSync(`dpkg-deb --fsys-tarfile '${deb}' | tar -x -C '${dest}' --wildcards ${patterns.map((p) => `'${p}'`).join(' ')}`, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
}

// ------------------------------------------------------------------ cpio newc

interface Entry {
  readonly name: string;
  readonly mode: number;
  readonly data?: Buffer;
  readonly rdev?: [number, number];
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** The SVR4 "newc" cpio format the kernel unpacks into its initramfs. */
export function newcArchive(entries: readonly Entry[]): Buffer {
  const parts: Buffer[] = [];
  const pad4 = (len: number) => Buffer.alloc((4 - (len % 4)) % 4);
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const name = Buffer.from(`${e.name}\0`);
    const data = e.data ?? Buffer.alloc(0);
    const header = ['070701', hex8(e.name === 'TRAILER!!!' ? 0 : ino++), hex8(e.mode), hex8(0), hex8(0), hex8(1), hex8(0), hex8(data.length), hex8(0), hex8(0), hex8(e.rdev?.[0] ?? 0), hex8(e.rdev?.[1] ?? 0), hex8(name.length), hex8(0)].join('');
    parts.push(Buffer.from(header), name, pad4(110 + name.length), data, pad4(data.length));
  }
  return Buffer.concat(parts);
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

function initramfs(busybox: Buffer, modules: ReadonlyArray<[string, Buffer]>): Buffer {
  const entries: Entry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules'].map((name) => ({ name, mode: S_IFDIR | 0o755 })),
    // The kernel opens /dev/console for init's stdio before devtmpfs is mounted.
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(INIT) },
    ...modules.map(([name, data]) => ({ name: `lib/modules/${name}`, mode: S_IFREG | 0o644, data })),
  ];
  return gzipSync(newcArchive(entries), { level: 6 });
}

/**
 * Builds (or finds in the cache) the tiny guest. Returns a string saying what
 * is missing when it cannot be built, for a test to skip with.
 */
export function tinyGuest(): TinyGuest | string {
  const dir = cacheDir();
  const cmdline = 'console=ttyS0 loglevel=4';
  try {
    mkdirSync(dir, { recursive: true });
    const pkg = process.env['VIRTFLOW_GUEST_KERNEL_PKG'] ?? kernelPackage();
    const out = join(dir, `tiny-${pkg}`);
    const kernel = join(out, 'vmlinuz');
    const initrd = join(out, 'initrd.gz');
    const stamp = join(out, 'init.sh');
    if (existsSync(kernel) && existsSync(initrd) && existsSync(stamp) && readFileSync(stamp, 'utf8') === INIT) {
      return { kernel, initrd, cmdline, readyMarker: READY_MARKER };
    }
    const kdeb = download(pkg, dir);
    const bdeb = download('busybox-static', dir);
    const work = join(dir, `extract-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    extract(kdeb, work, ['./boot/vmlinuz-*', ...MODULES.map((m) => `*/kernel/${m}`)]);
    extract(bdeb, work, ['./bin/busybox']);
    const boot = readdirSync(join(work, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!boot) throw new Error(`${kdeb} has no /boot/vmlinuz-*`);
    const modRoot = ['lib', 'usr/lib'].map((p) => join(work, p, 'modules')).find(existsSync);
    if (!modRoot) throw new Error(`${kdeb} has no lib/modules`);
    const kver = readdirSync(modRoot)[0]!;
    const modules = MODULES.map((m): [string, Buffer] => [m.slice(m.lastIndexOf('/') + 1), readFileSync(join(modRoot, kver, 'kernel', m))]);
    const tmp = `${out}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, 'vmlinuz'), readFileSync(join(work, 'boot', boot)));
    writeFileSync(join(tmp, 'initrd.gz'), initramfs(readFileSync(join(work, 'bin/busybox')), modules));
    writeFileSync(join(tmp, 'init.sh'), INIT);
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
    rmSync(work, { recursive: true, force: true });
    if (statSync(initrd).size === 0) throw new Error('empty initramfs');
    return { kernel, initrd, cmdline, readyMarker: READY_MARKER };
  } catch (e) {
    return `needs a Debian kernel and busybox-static (apt-get download linux-image-amd64's kernel, busybox-static into ${dir}): ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Whether the tools the builder runs are here. */
export function tinyGuestToolsMissing(): string | undefined {
  for (const tool of ['apt-get', 'apt-cache', 'dpkg-deb', 'tar']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool} to build the tiny guest`;
    }
  }
  return undefined;
}
