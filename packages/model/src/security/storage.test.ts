import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtError } from '../errors.ts';
import { checkStoragePaths, hostPaths, normalizePath, underRoots } from './storage.ts';

const ROOTS = ['/srv/images', '/var/lib/virtflow/'];

function domain(devices: string, os = ''): string {
  return `<domain type='kvm'><name>vm</name><memory>1024</memory><os><type>hvm</type>${os}</os><devices>${devices}</devices></domain>`;
}

function denied(xml: string, roots = ROOTS): VirtError {
  try {
    checkStoragePaths(xml, roots);
  } catch (e) {
    assert.ok(e instanceof VirtError, String(e));
    assert.equal(e.code, 'OPERATION_DENIED');
    return e;
  }
  assert.fail('expected OPERATION_DENIED');
}

describe('storage allow-list (libvirt security drivers role)', () => {
  it('normalises paths: dots resolved, .. cannot climb out of a root, relative paths are not paths', () => {
    assert.equal(normalizePath('/srv/images/./a//b/'), '/srv/images/a/b');
    assert.equal(normalizePath('/srv/images/../../etc/shadow'), '/etc/shadow');
    assert.equal(normalizePath('/../../etc'), '/etc');
    assert.equal(normalizePath('images/a.qcow2'), undefined);
    assert.ok(underRoots('/srv/images/a', ['/srv/images']));
    assert.ok(!underRoots('/srv/images-evil/a', ['/srv/images']), 'a sibling with the root as prefix is not under it');
    assert.ok(underRoots('/anything', ['/']));
  });

  it('allows a definition whose every host path lies under a root', () => {
    const xml = domain(
      "<disk type='file' device='disk'><source file='/srv/images/a.qcow2'/><backingStore type='file'><source file='/srv/images/base.qcow2'/></backingStore><target dev='vda'/></disk>"
      + "<filesystem type='mount'><source dir='/var/lib/virtflow/share'/><target dir='s'/></filesystem>"
      + "<serial type='pty'><source path='/dev/pts/3'/></serial>"
      + "<interface type='direct'><source dev='eth0' mode='vepa'/></interface>",
      "<kernel>/srv/images/vmlinuz</kernel><initrd>/srv/images/initrd</initrd>",
    );
    const checked = checkStoragePaths(xml, ROOTS);
    assert.deepEqual(checked.map((p) => p.path), [
      '/domain/os/kernel', '/domain/os/initrd',
      '/domain/devices/disk/source/@file', '/domain/devices/disk/backingStore/source/@file',
      '/domain/devices/filesystem/source/@dir',
    ]);
  });

  it('refuses a disk source outside the roots, naming the element and the roots', () => {
    const e = denied(domain("<disk type='file'><source file='/srv/images/ok.img'/><target dev='vda'/></disk><disk type='file'><source file='/etc/shadow'/><target dev='vdb'/></disk>"));
    assert.equal(e.path, '/domain/devices/disk[2]/source/@file');
    assert.match(e.message, /'\/etc\/shadow' is outside the allowed storage paths \(allowed: \/srv\/images, \/var\/lib\/virtflow\)/);
  });

  it('refuses a .. escape out of a root', () => {
    const e = denied(domain("<disk type='file'><source file='/srv/images/../../etc/passwd'/><target dev='vda'/></disk>"));
    assert.equal(e.path, '/domain/devices/disk/source/@file');
  });

  it('refuses a relative path', () => {
    const e = denied(domain("<disk type='file'><source file='images/a.qcow2'/><target dev='vda'/></disk>"));
    assert.match(e.message, /is not an absolute path/);
  });

  for (const [what, devices, os, path] of [
    ['a block device', "<disk type='block'><source dev='/dev/sda'/><target dev='vda'/></disk>", '', '/domain/devices/disk/source/@dev'],
    ['a filesystem source', "<filesystem type='mount'><source dir='/'/><target dir='root'/></filesystem>", '', '/domain/devices/filesystem/source/@dir'],
    ['a virtiofsd binary', "<filesystem type='mount'><driver type='virtiofs'/><binary path='/usr/bin/evil'/><source dir='/srv/images/x'/><target dir='t'/></filesystem>", '', '/domain/devices/filesystem/binary/@path'],
    ['a kernel', '', '<kernel>/boot/vmlinuz</kernel>', '/domain/os/kernel'],
    ['a loader', '', "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>", '/domain/os/loader'],
    ['an nvram template', '', "<nvram template='/etc/shadow'>/srv/images/vars.fd</nvram>", '/domain/os/nvram/@template'],
    ['a serial file', "<serial type='file'><source path='/root/.ssh/authorized_keys'/></serial>", '', '/domain/devices/serial/source/@path'],
    ['a console log', "<console type='pty'><log file='/etc/cron.d/x'/></console>", '', '/domain/devices/console/log/@file'],
    ['a channel socket', "<channel type='unix'><source mode='bind' path='/run/evil.sock'/><target type='virtio'/></channel>", '', '/domain/devices/channel/source/@path'],
    ['the emulator', '<emulator>/bin/sh</emulator>', '', '/domain/devices/emulator'],
    ['an RNG device', "<rng model='virtio'><backend model='random'>/dev/mem</backend></rng>", '', '/domain/devices/rng/backend'],
    ['a TPM device', "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>", '', '/domain/devices/tpm/backend/device/@path'],
    ['an input evdev', "<input type='evdev'><source dev='/dev/input/event0'/></input>", '', '/domain/devices/input/source/@dev'],
    ['a tap script', "<interface type='ethernet'><script path='/etc/qemu-ifup'/></interface>", '', '/domain/devices/interface/script/@path'],
    ['a tap device node', "<interface type='ethernet'><backend tap='/dev/net/tun'/></interface>", '', '/domain/devices/interface/backend/@tap'],
    ['a vhost-user socket', "<interface type='vhostuser'><source type='unix' path='/run/x.sock' mode='client'/><model type='virtio'/></interface>", '', '/domain/devices/interface/source/@path'],
    ['a host block device', "<hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>", '', '/domain/devices/hostdev/source/block'],
    ['a smartcard database', "<smartcard mode='host-certificates'><certificate>a</certificate><database>/etc/pki/nssdb/</database></smartcard>", '', '/domain/devices/smartcard/database'],
    ['an nvdimm backing file', "<memory model='nvdimm'><source><path>/etc/passwd</path></source><target><size unit='KiB'>524288</size><node>0</node></target></memory>", '', '/domain/devices/memory/source/path'],
  ] as const) {
    it(`refuses ${what} outside the roots`, () => {
      assert.equal(denied(domain(devices, os)).path, path);
    });
  }

  it('refuses QEMU command-line pass-through while restricted', () => {
    const xml = `<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>vm</name><memory>1024</memory><os><type>hvm</type></os>
      <qemu:commandline><qemu:arg value='-drive'/><qemu:arg value='file=/etc/shadow'/></qemu:commandline></domain>`;
    const e = denied(xml);
    assert.equal(e.path, '/domain/qemu:commandline');
    assert.doesNotThrow(() => checkStoragePaths(xml, undefined), 'no restriction: nothing checked');
  });

  it('checks a device definition on its own (attach-device)', () => {
    assert.equal(denied("<disk type='file'><source file='/etc/passwd'/><target dev='vdc'/></disk>").path, '/disk/source/@file');
    assert.doesNotThrow(() => checkStoragePaths("<disk type='file'><source file='/srv/images/c.img'/><target dev='vdc'/></disk>", ROOTS));
  });

  it('no roots: no restriction', () => {
    assert.deepEqual(checkStoragePaths(domain("<disk type='file'><source file='/etc/shadow'/></disk>"), undefined), []);
    assert.deepEqual(checkStoragePaths(domain("<disk type='file'><source file='/etc/shadow'/></disk>"), []), []);
  });

  it('refuses a relative root with INVALID_ARG', () => {
    assert.throws(() => checkStoragePaths(domain(''), ['srv']), (e: unknown) => e instanceof VirtError && e.code === 'INVALID_ARG' && e.path === '/storagePaths[1]');
  });

  it('lists nothing for network disks and pools: they open no host file', () => {
    const { paths } = hostPaths(domain("<disk type='network'><source protocol='rbd' name='pool/img'><host name='mon1'/></source><target dev='vda'/></disk><disk type='volume'><source pool='p' volume='v'/><target dev='vdb'/></disk>"));
    assert.deepEqual(paths, []);
  });
});

describe('trusted binaries', () => {
  it("allows the host's own emulator wherever it is, and no other", () => {
    const xml = domain('<emulator>/usr/bin/qemu-system-x86_64</emulator>');
    assert.deepEqual(checkStoragePaths(xml, ROOTS, { trusted: ['/usr/bin/qemu-system-x86_64'] }), []);
    assert.equal(denied(domain('<emulator>/usr/bin/qemu-system-x86_64</emulator>'), ROOTS).path, '/domain/devices/emulator');
  });
});
