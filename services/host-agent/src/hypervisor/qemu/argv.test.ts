import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attachDevice, bookwormQemuCaps, defaultRegistry, defineDomain, type DomainDef } from '@virtflow/model';
import { buildArgv, diskAlias, escapeOpt, guestName, hotplugCalls, runPaths, type ArgvOptions } from './argv.ts';

const UUID = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';
const caps = { ...bookwormQemuCaps };
const opts = { caps, registry: defaultRegistry() };

function def(devices = '', more: { type?: string; os?: string; cpu?: string; features?: string; vcpu?: string; name?: string; machine?: string } = {}): DomainDef {
  return defineDomain(
    `<domain type='${more.type ?? 'kvm'}'><name>${more.name ?? 'vm1'}</name><uuid>${UUID}</uuid><memory unit='MiB'>256</memory>${more.vcpu ?? '<vcpu>2</vcpu>'}
<os><type arch='x86_64' machine='${more.machine ?? 'pc'}'>hvm</type>${more.os ?? ''}</os>${more.features ?? '<features><acpi/></features>'}${more.cpu ?? ''}
<devices>${devices}<memballoon model='none'/></devices></domain>`,
    opts,
  ).def;
}

const paths = runPaths('/run/vf', UUID);
const argv = (d: DomainDef, o: Partial<ArgvOptions> = {}) => buildArgv(d, { kvm: true, paths, ...o });
/** Every value given to `flag`. */
const values = (args: readonly string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
const devices = (args: readonly string[]) => values(args, '-device').map((d) => JSON.parse(d) as Record<string, unknown>);

describe('qemu argv', () => {
  test('names the guest, its uuid, machine with KVM, memory, CPUs, QMP socket and pidfile in the run folder, and starts with CPUs stopped', () => {
    const a = argv(def());
    assert.deepEqual(values(a, '-name'), ['guest=vm1,debug-threads=on']);
    assert.deepEqual(values(a, '-uuid'), [UUID]);
    assert.deepEqual(values(a, '-machine'), ['pc-i440fx-7.2,accel=kvm,usb=off,dump-guest-core=off']);
    assert.deepEqual(values(a, '-cpu'), ['qemu64']);
    assert.deepEqual(values(a, '-m'), ['size=262144k']);
    assert.deepEqual(values(a, '-smp'), ['2,maxcpus=2,sockets=2,cores=1,threads=1']);
    assert.deepEqual(values(a, '-qmp'), [`unix:/run/vf/${UUID}/qmp.sock,server=on,wait=off`]);
    assert.deepEqual(values(a, '-pidfile'), [`/run/vf/${UUID}/qemu.pid`]);
    for (const flag of ['-nodefaults', '-no-user-config', '-S']) assert.ok(a.includes(flag), flag);
    assert.deepEqual(values(a, '-display'), ['none']);
  });

  test('uses TCG when KVM is not usable, and always for a domain of type qemu', () => {
    assert.match(values(argv(def(), { kvm: false }), '-machine')[0]!, /accel=tcg/);
    assert.match(values(argv(def('', { type: 'qemu' })), '-machine')[0]!, /accel=tcg/);
  });

  test('refuses a domain type QEMU does not run', () => {
    const d = { ...def(), type: 'lxc' } as DomainDef;
    assert.throws(() => argv(d), { code: 'CONFIG_UNSUPPORTED', path: '/domain/@type' });
  });

  test('host-passthrough is -cpu host under KVM (with the host quirks) and max under TCG; custom models keep their name and features', () => {
    const hp = def('', { cpu: "<cpu mode='host-passthrough'/>" });
    assert.deepEqual(values(argv(hp, { hostCpuFlags: ['-arch-capabilities'] }), '-cpu'), ['host,-arch-capabilities']);
    assert.deepEqual(values(argv(hp, { kvm: false, hostCpuFlags: ['-arch-capabilities'] }), '-cpu'), ['max']);
    const custom = def('', { cpu: "<cpu mode='custom'><model>Nehalem</model><feature policy='require' name='aes'/><feature policy='disable' name='vmx'/></cpu>" });
    assert.deepEqual(values(argv(custom), '-cpu'), ['Nehalem,+aes,-vmx']);
  });

  test('-smp follows the topology and current vCPUs', () => {
    const d = def('', { vcpu: "<vcpu current='2'>4</vcpu>", cpu: "<cpu><topology sockets='1' dies='1' cores='2' threads='2'/></cpu>" });
    assert.deepEqual(values(argv(d), '-smp'), ['2,maxcpus=4,sockets=1,cores=2,threads=2']);
  });

  test('a domain without <acpi/> gets a machine without ACPI', () => {
    assert.match(values(argv(def('', { features: '' })), '-machine')[0]!, /,acpi=off$/);
  });

  test('kernel, initrd and cmdline become -kernel/-initrd/-append', () => {
    const a = argv(def('', { os: '<kernel>/k/vmlinuz</kernel><initrd>/k/initrd</initrd><cmdline>console=ttyS0 quiet</cmdline>' }));
    assert.deepEqual([values(a, '-kernel'), values(a, '-initrd'), values(a, '-append')], [['/k/vmlinuz'], ['/k/initrd'], ['console=ttyS0 quiet']]);
  });

  test('a virtio file disk becomes a file + format -blockdev pair and a virtio-blk-pci at its PCI address', () => {
    const d = def("<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='/img/a,b.qcow2'/><target dev='vdb' bus='virtio'/><boot order='1'/></disk>");
    const a = argv(d);
    assert.deepEqual(values(a, '-blockdev').map((b) => JSON.parse(b)), [
      { driver: 'file', filename: '/img/a,b.qcow2', 'node-name': 'virtio-disk1-storage', 'auto-read-only': true, discard: 'unmap', cache: { direct: true, 'no-flush': false } },
      { 'node-name': 'virtio-disk1-format', 'read-only': false, driver: 'qcow2', file: 'virtio-disk1-storage', cache: { direct: true, 'no-flush': false } },
    ]);
    const addr = d.devices!.disks![0]!.address!;
    assert.deepEqual(devices(a).find((x) => x['id'] === 'virtio-disk1'), {
      driver: 'virtio-blk-pci', bus: 'pci.0', addr: `0x${Number(addr.slot).toString(16)}`, id: 'virtio-disk1', drive: 'virtio-disk1-format', bootindex: 1,
    });
  });

  test('IDE cdroms are read-only ide-cd devices on their bus and unit; an empty tray has no drive', () => {
    const d = def("<disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='hdc' bus='ide'/><readonly/></disk><disk type='file' device='cdrom'><target dev='hdd' bus='ide'/><readonly/></disk>");
    const a = argv(d);
    assert.equal(JSON.parse(values(a, '-blockdev')[1]!)['read-only'], true);
    assert.deepEqual(devices(a).filter((x) => x['driver'] === 'ide-cd'), [
      { driver: 'ide-cd', bus: 'ide.1', unit: 0, id: 'ide0-1-0', drive: 'ide0-1-0-format' },
      { driver: 'ide-cd', bus: 'ide.1', unit: 1, id: 'ide0-1-1' },
    ]);
  });

  test('user-mode NICs keep their MAC and model; network/bridge NICs run on user-mode unless strict', () => {
    const d = def("<interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface><interface type='network'><source network='default'/><mac address='52:54:00:12:34:57'/><model type='e1000'/></interface>");
    const a = argv(d);
    assert.deepEqual(values(a, '-netdev').map((n) => JSON.parse(n)), [{ type: 'user', id: 'hostnet0' }, { type: 'user', id: 'hostnet1' }]);
    const nics = devices(a).filter((x) => x['netdev']);
    assert.deepEqual(nics.map((n) => [n['driver'], n['id'], n['mac'], n['bus']]), [['virtio-net-pci', 'net0', '52:54:00:12:34:56', 'pci.0'], ['e1000', 'net1', '52:54:00:12:34:57', 'pci.0']]);
    assert.throws(() => argv(d, { hostNetworks: 'strict' }), { code: 'CONFIG_UNSUPPORTED', path: '/domain/devices/interface[2]/@type' });
  });

  test('a pty serial goes to serial.log in the run folder; a file serial to its own file', () => {
    const a = argv(def("<serial type='pty'/><console type='pty'/>"));
    assert.deepEqual(values(a, '-chardev'), [`file,id=charserial0,path=/run/vf/${UUID}/serial.log,append=on`]);
    assert.deepEqual(devices(a).find((x) => x['driver'] === 'isa-serial'), { driver: 'isa-serial', chardev: 'charserial0', id: 'serial0', index: 0 });
    const f = argv(def("<serial type='file'><source path='/var/log/vm1,serial.log'/></serial>"));
    assert.deepEqual(values(f, '-chardev'), ['file,id=charserial0,path=/var/log/vm1,,serial.log']);
  });

  test('VNC listens on loopback at the first free display, or on a unix socket', () => {
    assert.deepEqual(values(argv(def("<graphics type='vnc' port='-1' autoport='yes'/>")), '-vnc'), ['127.0.0.1:0,to=99']);
    assert.deepEqual(values(argv(def("<graphics type='vnc' port='5905' autoport='no' listen='127.0.0.1'/>")), '-vnc'), ['127.0.0.1:5']);
    assert.deepEqual(values(argv(def("<graphics type='vnc'><listen type='socket' socket='/run/vf/vnc.sock'/></graphics>")), '-vnc'), ['unix:/run/vf/vnc.sock']);
  });

  test('an incoming migration listens on its address and does not start with -S', () => {
    const a = argv(def(), { incoming: { host: '127.0.0.1', port: 49152 } });
    assert.deepEqual(values(a, '-incoming'), ['tcp:127.0.0.1:49152']);
    assert.ok(!a.includes('-S'));
  });

  test('q35: root ports come before the devices on them, and bus 0 is pcie.0', () => {
    const d = def("<interface type='user'><model type='virtio'/></interface>", { machine: 'q35' });
    const devs = devices(argv(d));
    const port = devs.findIndex((x) => x['driver'] === 'pcie-root-port');
    const nic = devs.findIndex((x) => x['id'] === 'net0');
    assert.ok(port >= 0 && port < nic);
    assert.equal(devs[port]!['bus'], 'pcie.0');
    assert.match(String(devs[nic]!['bus']), /^pci\.[1-9]/);
  });

  test('devices virtflow does not run fail with CONFIG_UNSUPPORTED naming their path', () => {
    assert.throws(() => argv(def("<watchdog model='i6300esb'/>")), { code: 'CONFIG_UNSUPPORTED', path: '/domain/devices/watchdog' });
    assert.throws(() => argv(def("<sound model='ich6'/>")), { code: 'CONFIG_UNSUPPORTED', path: '/domain/devices/sound[1]' });
    assert.throws(() => argv(def("<graphics type='spice'/>")), { code: 'CONFIG_UNSUPPORTED', path: '/domain/devices/graphics[1]/@type' });
    assert.throws(() => argv(def("<interface type='ethernet'><target dev='tap0'/></interface>")), { code: 'CONFIG_UNSUPPORTED', path: '/domain/devices/interface[1]/@type' });
    assert.throws(() => argv(def("<disk type='network' device='disk'><source protocol='nbd' name='x'><host name='h'/></source><target dev='vda' bus='virtio'/></disk>")), { code: 'CONFIG_UNSUPPORTED', path: '/domain/devices/disk[1]/@type' });
  });

  test('commas in values are doubled for QEMU option syntax', () => {
    assert.equal(escapeOpt('a,b'), 'a,,b');
    assert.deepEqual(values(argv(def('', { name: 'x,y' })), '-name'), ['guest=x,,y,debug-threads=on']);
    assert.equal(guestName('guest=x,,y,debug-threads=on'), 'x,y');
    assert.equal(guestName('guest=a,,,,b'), 'a,,b');
  });

  test('hot-plug of a NIC takes the first free net alias and adds its netdev before the device', () => {
    const d = def("<interface type='user'><model type='virtio'/></interface>");
    const added = attachDevice(d, "<interface type='user'><mac address='52:54:00:00:00:09'/><model type='virtio'/></interface>", opts).def;
    const { alias, calls } = hotplugCalls(added.domain, added.device, { takenAliases: new Set(['net0']) });
    assert.equal(alias, 'net1');
    assert.deepEqual(calls.map((c) => [c.execute, c.arguments?.['id']]), [['netdev_add', 'hostnet1'], ['device_add', 'net1']]);
    assert.equal(calls[1]!.arguments?.['mac'], '52:54:00:00:00:09');
  });

  test('hot-plug of a virtio disk adds its block nodes, then the device; other kinds are refused', () => {
    const d = def();
    const added = attachDevice(d, "<disk type='file'><source file='/img/b.raw'/><target dev='vdc' bus='virtio'/></disk>", opts).def;
    assert.equal(added.device.kind === 'disk' && diskAlias(added.device.def), 'virtio-disk2');
    const { calls } = hotplugCalls(added.domain, added.device, { takenAliases: new Set() });
    assert.deepEqual(calls.map((c) => c.execute), ['blockdev-add', 'blockdev-add', 'device_add']);
    const input = attachDevice(d, "<input type='tablet' bus='usb'/>", opts).def;
    assert.throws(() => hotplugCalls(input.domain, input.device, { takenAliases: new Set() }), { code: 'CONFIG_UNSUPPORTED' });
  });
});
