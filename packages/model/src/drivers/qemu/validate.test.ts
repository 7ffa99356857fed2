/**
 * QEMU validation: one small fixture per check, asserting libvirt's code,
 * exact message and the path of the node at fault. Capabilities are the
 * bookworm QEMU 7.2 snapshot; flags and host facts as validate-util.ts
 * assumes them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookwormQemuCaps, defineDomain, isVirtError, qemuDriver, type ErrorCode } from '../../index.ts';

interface Opts {
  type?: string;
  arch?: string;
  machine?: string;
  osType?: string;
  emulator?: string;
  /** Elements before <os> (memory, vcpu, tuning...). */
  head?: string;
  /** Children of <os> after <type>. */
  os?: string;
  osAttrs?: string;
  /** Elements between <os> and <devices> (features, cpu, clock, lifecycle, pm). */
  mid?: string;
  devices?: string;
  /** Elements after <devices> (launchSecurity). */
  tail?: string;
}

function xml(o: Opts = {}): string {
  const arch = o.arch ?? 'x86_64';
  return `<domain type='${o.type ?? 'kvm'}'>
  <name>v1</name>
  ${o.head ?? "<memory unit='MiB'>512</memory><vcpu>1</vcpu>"}
  <os${o.osAttrs ?? ''}><type arch='${arch}' machine='${o.machine ?? 'pc'}'>${o.osType ?? 'hvm'}</type>${o.os ?? ''}</os>
  ${o.mid ?? ''}
  <devices><emulator>${o.emulator ?? '/usr/bin/qemu-system-x86_64'}</emulator>${o.devices ?? ''}</devices>
  ${o.tail ?? ''}
</domain>`;
}

const random = (b: Uint8Array) => b.fill(7);

function define(o: Opts) {
  return defineDomain(xml(o), { caps: bookwormQemuCaps, driver: qemuDriver, random });
}

function rejects(o: Opts, code: ErrorCode, message: string, path: string): void {
  try {
    define(o);
  } catch (e) {
    assert.ok(isVirtError(e), String(e));
    assert.deepEqual({ code: e.code, message: e.detail, path: e.path }, { code, message, path });
    return;
  }
  assert.fail(`accepted; expected: ${message}`);
}

type Case = [title: string, opts: Opts, code: ErrorCode, message: string, path: string];

const U: ErrorCode = 'CONFIG_UNSUPPORTED';
const q35 = { machine: 'q35' };
const numa = "<cpu><numa><cell id='0' cpus='0' memory='512' unit='MiB'/></numa></cpu>";
const hotplug = "<maxMemory slots='2' unit='GiB'>4</maxMemory><memory unit='MiB'>512</memory><vcpu>1</vcpu>";
const dimm = (extra = '', size = 128) => `<memory model='dimm'><target><size unit='MiB'>${size}</size><node>0</node></target>${extra}</memory>`;
const pmem = (name: string) => `<memory model='virtio-pmem' access='shared'><source><path>/tmp/${name}</path></source><target><size unit='MiB'>128</size></target></memory>`;
const disk = (attrs: string, inner: string) => `<disk ${attrs}>${inner}</disk>`;
const file = (dev: string, bus: string, more = '') => disk("type='file' device='disk'", `<source file='/var/lib/img/${dev}.img'/><target dev='${dev}' bus='${bus}'/>${more}`);
const net = (type: string, inner: string) => `<interface type='${type}'>${inner}</interface>`;

const domainCases: Case[] = [
  ['OS type other than hvm', { osType: 'xen' }, U, "Emulator '/usr/bin/qemu-system-x86_64' does not support os type 'xen'", '/domain/os/type'],
  ['arch the emulator does not run', { arch: 'x86_64', emulator: '/usr/bin/qemu-system-i386', machine: 'pc' }, U, "Emulator '/usr/bin/qemu-system-i386' does not support arch 'x86_64'", '/domain/os/type/@arch'],
  ['virt type', { type: 'hvf' }, U, "Emulator '/usr/bin/qemu-system-x86_64' does not support virt type 'hvf'", '/domain/@type'],
  ['machine type', { machine: 'pc-i440fx-1.2' }, U, "Emulator '/usr/bin/qemu-system-x86_64' does not support machine type 'pc-i440fx-1.2'", '/domain/os/type/@machine'],
  ['min_guarantee', { head: "<memory unit='MiB'>512</memory><memtune><min_guarantee unit='MiB'>64</min_guarantee></memtune><vcpu>1</vcpu>" }, U, "Parameter 'min_guarantee' not supported by QEMU.", '/domain/memtune/min_guarantee'],
  ['UEFI without ACPI', { ...q35, os: "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>" }, U, 'UEFI requires ACPI on this architecture', '/domain/os/loader/@type'],
  ['BIOS serial without serial', { os: "<bios useserial='yes'/>" }, 'XML_ERROR', 'need at least one serial port to use BIOS serial output', '/domain/os/bios/@useserial'],
  ['rename-restart', { mid: '<on_crash>rename-restart</on_crash>' }, U, "qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash'", '/domain/on_crash'],
  ['preserve', { mid: '<on_reboot>preserve</on_reboot>' }, U, "qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'", '/domain/on_reboot'],
  ['poweroff restart with reboot destroy', { mid: '<on_poweroff>restart</on_poweroff><on_reboot>destroy</on_reboot>' }, U, "qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to 'reboot'", '/domain/on_reboot'],
  ['maxphysaddr passthrough with bits', { mid: "<cpu mode='host-passthrough'><maxphysaddr mode='passthrough' bits='42'/></cpu>" }, U, "CPU maximum physical address bits number specification cannot be used with mode='passthrough'", '/domain/cpu/maxphysaddr/@bits'],
  ['maxphysaddr emulate without bits', { mid: "<cpu mode='host-passthrough'><maxphysaddr mode='emulate'/></cpu>" }, U, "if using CPU maximum physical address mode='emulate', bits= must be specified too", '/domain/cpu/maxphysaddr'],
  ['cache emulate level 2', { mid: "<cpu mode='host-passthrough'><cache level='2' mode='emulate'/></cpu>" }, U, "CPU cache mode 'emulate' can only be used with level='3'", '/domain/cpu/cache'],
  ['cache passthrough on a custom CPU', { mid: "<cpu mode='custom'><model>qemu64</model><cache mode='passthrough'/></cpu>" }, U, "CPU cache mode 'passthrough' can only be used with 'host-passthrough' / 'maximum' CPUs", '/domain/cpu/cache'],
  ['cache disable with a level', { mid: "<cpu mode='host-passthrough'><cache level='3' mode='disable'/></cpu>" }, U, "unsupported CPU cache level for mode 'disable'", '/domain/cpu/cache/@level'],
  ['memory device without maxMemory', { mid: numa, devices: dimm() }, U, "cannot use/hotplug a memory device when domain 'maxMemory' is not defined", '/domain/devices/memory[1]'],
  ['memory hotplug without NUMA', { head: hotplug }, U, 'At least one numa node has to be configured when enabling memory hotplug', '/domain/maxMemory'],
  ['more memory devices than slots', { head: hotplug, mid: numa, devices: pmem('a') + pmem('b') + pmem('c') }, U, "memory device count '3' exceeds slots count '2'", '/domain/maxMemory/@slots'],
  ['virtio-mem with a dimm address', { head: hotplug, mid: numa, devices: "<memory model='virtio-mem'><target><size unit='MiB'>256</size><node>0</node><block unit='MiB'>2</block><requested unit='MiB'>128</requested></target><address type='dimm' slot='0'/></memory>" }, U, "only 'pci' addresses are supported for the virtio-mem device", '/domain/devices/memory[1]/address/@type'],
  ['dimm without NUMA node', { head: hotplug, mid: numa, devices: "<memory model='dimm'><target><size unit='MiB'>128</size></target></memory>" }, U, 'target NUMA node needs to be specified for memory device', '/domain/devices/memory[1]/target'],
  ['dimm slot beyond slots', { head: hotplug, mid: numa, devices: dimm("<address type='dimm' slot='5'/>") }, U, "memory device slot '5' exceeds slots count '2'", '/domain/devices/memory[1]/address/@slot'],
  ['dimm slot used twice', { head: hotplug, mid: numa, devices: dimm("<address type='dimm' slot='1'/>") + dimm("<address type='dimm' slot='1'/>") }, U, "memory device slot '1' is already being used by another memory device", '/domain/devices/memory[1]/address/@slot'],
  ['dimm base used twice', { head: hotplug, mid: numa, devices: dimm("<address type='dimm' slot='0' base='0x100000000'/>") + dimm("<address type='dimm' slot='1' base='0x100000000'/>") }, U, "memory device base '0x100000000' is already being used by another memory device", '/domain/devices/memory[1]/address/@base'],
  ['virtio-pmem with a dimm address', { head: hotplug, mid: numa, devices: "<memory model='virtio-pmem' access='shared'><source><path>/tmp/pmem</path></source><target><size unit='MiB'>128</size></target><address type='dimm' slot='0'/></memory>" }, U, "only 'pci' addresses are supported for the virtio-pmem device", '/domain/devices/memory[1]/address/@type'],
  ['platform timer', { mid: "<clock offset='utc'><timer name='platform'/></clock>" }, U, "unsupported timer type (name) 'platform'", '/domain/clock/timer[1]/@name'],
  ['rtc track boot', { mid: "<clock offset='utc'><timer name='rtc' track='boot'/></clock>" }, U, "unsupported rtc timer track 'boot'", '/domain/clock/timer[1]/@track'],
  ['rtc tickpolicy merge', { mid: "<clock offset='utc'><timer name='rtc' tickpolicy='merge'/></clock>" }, U, "unsupported rtc timer tickpolicy 'merge'", '/domain/clock/timer[1]/@tickpolicy'],
  ['pit tickpolicy merge', { mid: "<clock offset='utc'><timer name='pit' tickpolicy='merge'/></clock>" }, U, "unsupported pit tickpolicy 'merge'", '/domain/clock/timer[1]/@tickpolicy'],
  ['armvtimer on x86', { mid: "<clock offset='utc'><timer name='armvtimer' tickpolicy='discard'/></clock>" }, U, "Configuring the 'armvtimer' timer is not supported for virtType=kvm arch=x86_64 machine=pc-i440fx-7.2 guests", '/domain/clock/timer[1]'],
  ['absolute clock start too far', { mid: "<clock offset='absolute' start='253402300800'/>" }, U, "The maximum 'start' value for <clock offset='absolute'> is 253402300799", '/domain/clock/@start'],
  ['secure boot on i440fx', { os: "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>", mid: '<features><acpi/></features>' }, U, 'Secure boot is supported with q35 machine types only', '/domain/os/loader/@secure'],
  ['secure boot without SMM', { ...q35, os: "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>", mid: '<features><acpi/></features>' }, U, 'Secure boot requires SMM feature enabled', '/domain/os/loader/@secure'],
  ['nvram of type dir', { ...q35, os: "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram type='dir'><source dir='/var/lib/nv'/></nvram>", mid: '<features><acpi/></features>' }, U, "unsupported nvram disk type 'dir'", '/domain/os/nvram/@type'],
  ['secure boot on i686', { ...q35, arch: 'i686', emulator: '/usr/bin/qemu-system-i386', os: "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>", mid: "<features><acpi/><smm state='on'/></features>" }, U, 'Secure boot is supported for x86_64 architecture only', '/domain/os/loader/@secure'],
  ['nvram with slices', { ...q35, os: "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram type='file'><source file='/var/lib/nv/v1.fd'><slices><slice type='storage' offset='0' size='540672'/></slices></source></nvram>", mid: '<features><acpi/></features>' }, U, 'slices are not supported with NVRAM', '/domain/os/nvram/source/slices'],
  ['vCPUs above the machine limit', { head: "<memory unit='MiB'>512</memory><vcpu>256</vcpu>" }, U, 'Maximum CPUs greater than specified machine type limit 255', '/domain/vcpu'],
  ['topology not matching vCPUs', { head: "<memory unit='MiB'>512</memory><vcpu>4</vcpu>", mid: "<cpu><topology sockets='1' dies='1' cores='2' threads='1'/></cpu>" }, U, "CPU topology doesn't match maximum vcpu count", '/domain/cpu/topology'],
  ['more than 255 vCPUs without EIM', { ...q35, head: "<memory unit='MiB'>512</memory><vcpu>256</vcpu>" }, U, 'more than 255 vCPUs require extended interrupt mode enabled on the iommu device', '/domain/vcpu'],
  ['cachetune with TCG', { type: 'qemu', head: "<memory unit='MiB'>512</memory><vcpu>2</vcpu><cputune><cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune></cputune>" }, U, 'cachetune is only supported for KVM domains', '/domain/cputune/cachetune[1]'],
  ['pSeries feature on x86', { mid: "<features><htm state='on'/></features>" }, U, "The 'htm' feature is not supported for architecture 'x86_64' or machine type 'pc-i440fx-7.2'", '/domain/features/htm'],
  ['gic on x86', { mid: "<features><gic version='3'/></features>" }, U, "The 'gic' feature is not supported for architecture 'x86_64' or machine type 'pc-i440fx-7.2'", '/domain/features/gic'],
  ['TCG features with KVM', { mid: "<features><tcg><tb-cache unit='MiB'>128</tb-cache></tcg></features>" }, U, "TCG features are incompatible with domain type 'kvm'", '/domain/features/tcg'],
  ['tb-cache not in MiB', { type: 'qemu', mid: "<features><tcg><tb-cache unit='KiB'>1000</tb-cache></tcg></features>" }, U, 'tb-cache size must be an integer multiple of MiB', '/domain/features/tcg/tb-cache'],
  ['hugepages on demand', { head: "<memory unit='MiB'>512</memory><memoryBacking><hugepages/><allocation mode='ondemand'/></memoryBacking><vcpu>1</vcpu>" }, U, 'hugepages are not allowed with memory allocation ondemand', '/domain/memoryBacking/allocation/@mode'],
  ['hugepages from anonymous memory', { head: "<memory unit='MiB'>512</memory><memoryBacking><hugepages/><source type='anonymous'/></memoryBacking><vcpu>1</vcpu>" }, U, 'hugepages are not allowed with anonymous memory source', '/domain/memoryBacking/source/@type'],
  ['console of a Xen target', { devices: "<console type='pty'><target type='xen' port='0'/></console>" }, U, 'unsupported console target type xen', '/domain/devices/console[1]/target/@type'],
  ['sclp console', { devices: "<console type='pty'><target type='sclp' port='0'/></console>" }, U, 'sclpconsole is not supported in this QEMU binary', '/domain/devices/console[1]/target/@type'],
  ['fw_cfg name outside opt/', { head: "<memory unit='MiB'>512</memory><vcpu>1</vcpu><sysinfo type='fwcfg'><entry name='vendor'>x</entry></sysinfo>" }, U, 'Invalid firmware name', '/domain/sysinfo[1]/entry[1]/@name'],
  ['reserved fw_cfg name', { head: "<memory unit='MiB'>512</memory><vcpu>1</vcpu><sysinfo type='fwcfg'><entry name='opt/org.qemu/x'>x</entry></sysinfo>" }, U, 'That firmware name is reserved', '/domain/sysinfo[1]/entry[1]/@name'],
  ['s390 panic on x86', { devices: "<panic model='s390'/>" }, U, "only S390 guests support panic device of model 's390'", '/domain/devices/panic[1]/@model'],
  ['hyperv panic with an address', { devices: "<panic model='hyperv'><address type='isa' iobase='0x505'/></panic>" }, U, "setting the panic device address is not supported for model 'hyperv'", '/domain/devices/panic[1]/address'],
  ['ISA panic with a PCI address', { devices: "<panic model='isa'><address type='pci' domain='0' bus='0' slot='9' function='0'/></panic>" }, U, 'panic is supported only with ISA address type', '/domain/devices/panic[1]/address/@type'],
  ['pSeries panic on x86', { devices: "<panic model='pseries'/>" }, U, "only pSeries guests support panic device of model 'pseries'", '/domain/devices/panic[1]/@model'],
  ['sclplm console', { devices: "<console type='pty'><target type='sclplm' port='0'/></console>" }, U, 'sclplmconsole is not supported in this QEMU binary', '/domain/devices/console[1]/target/@type'],
  ['two TPM proxies', { devices: "<tpm model='spapr-tpm-proxy'><backend type='passthrough'><device path='/dev/tpmrm0'/></backend></tpm><tpm model='spapr-tpm-proxy'><backend type='passthrough'><device path='/dev/tpmrm1'/></backend></tpm>" }, U, 'only a single TPM Proxy device is supported', '/domain/devices/tpm[2]'],
  ['two TPMs', { devices: "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm><tpm model='tpm-crb'><backend type='passthrough'><device path='/dev/tpm1'/></backend></tpm>" }, U, 'only a single TPM non-proxy device is supported', '/domain/devices/tpm[2]'],
  ['s390 protected virtualization on x86', { tail: "<launchSecurity type='s390-pv'/>" }, U, 'S390 PV launch security is not supported with this QEMU binary', '/domain/launchSecurity'],
  ['SEV without host support', { ...q35, tail: "<launchSecurity type='sev'><cbitpos>47</cbitpos><reducedPhysBits>1</reducedPhysBits><policy>0x0003</policy></launchSecurity>" }, U, 'SEV launch security is not supported with this QEMU binary', '/domain/launchSecurity'],
];

const infoCases: Case[] = [
  ['zPCI address', { devices: "<watchdog model='i6300esb'><address type='pci' domain='0' bus='0' slot='7' function='0'><zpci uid='0x1' fid='0x1'/></address></watchdog>" }, U, "This QEMU binary doesn't support zPCI", '/domain/devices/watchdog/address/zpci'],
  ['CCW address on x86', { devices: "<memballoon model='virtio'><address type='ccw' cssid='0xfe' ssid='0x0' devno='0x000a'/></memballoon>" }, U, "cannot use CCW address type for device '<null>' using machine type 'pc-i440fx-7.2'", '/domain/devices/memballoon/address/@type'],
  ['spapr-vio reg beyond 32 bits', { devices: "<serial type='pty'><target type='spapr-vio-serial' port='0'/><address type='spapr-vio' reg='0x100000000'/></serial>" }, U, "spapr-vio reg='0x100000000' exceeds maximum possible value (0xffffffff)", '/domain/devices/serial[1]/address/@reg'],
  ['SCSI drive address on bus 1', { devices: file('sda', 'scsi', "<address type='drive' controller='0' bus='1' target='0' unit='0'/>") }, 'INTERNAL_ERROR', 'SCSI controller only supports 1 bus', '/domain/devices/disk[1]/address/@bus'],
  ['lsilogic target other than 0', { devices: file('sda', 'scsi', "<address type='drive' controller='0' bus='0' target='1' unit='0'/>") + "<controller type='scsi' index='0' model='lsilogic'/>" }, U, "target must be 0 for controller model 'lsilogic'", '/domain/devices/disk[1]/address/@target'],
  ['IDE drive address on controller 1', { devices: file('hda', 'ide', "<address type='drive' controller='1' bus='0' target='0' unit='0'/>") }, 'INTERNAL_ERROR', 'Only 1 IDE controller is supported', '/domain/devices/disk[1]/address/@controller'],
  ['IDE target other than 0', { devices: file('hda', 'ide', "<address type='drive' controller='0' bus='0' target='1' unit='0'/>") }, U, 'target must be 0 for ide controller', '/domain/devices/disk[1]/address/@target'],
  ['fdc bus other than 0', { devices: disk("type='file' device='floppy'", "<source file='/var/lib/img/f.img'/><target dev='fda' bus='fdc'/><address type='drive' controller='0' bus='1' target='0' unit='0'/>") }, 'INTERNAL_ERROR', 'Only 1 fdc bus is supported', '/domain/devices/disk[1]/address/@bus'],
  ['fdc controller other than 0', { devices: disk("type='file' device='floppy'", "<source file='/var/lib/img/f.img'/><target dev='fda' bus='fdc'/><address type='drive' controller='1' bus='0' target='0' unit='0'/>") }, 'INTERNAL_ERROR', 'Only 1 fdc controller is supported', '/domain/devices/disk[1]/address/@controller'],
  ['fdc target other than 0', { devices: disk("type='file' device='floppy'", "<source file='/var/lib/img/f.img'/><target dev='fda' bus='fdc'/><address type='drive' controller='0' bus='0' target='1' unit='0'/>") }, U, 'target must be 0 for controller fdc', '/domain/devices/disk[1]/address/@target'],
  ['SATA target other than 0', { ...q35, devices: file('sda', 'sata', "<address type='drive' controller='0' bus='0' target='2' unit='0'/>") }, U, 'target must be 0 for sata controller', '/domain/devices/disk[1]/address/@target'],
  ['SATA bus other than 0', { ...q35, devices: file('sda', 'sata', "<address type='drive' controller='0' bus='1' target='0' unit='0'/>") }, U, 'bus must be 0 for sata controller', '/domain/devices/disk[1]/address/@bus'],
  ['ACPI index on a USB device', { devices: "<input type='tablet' bus='usb'><acpi index='3'/><address type='usb' bus='0' port='1'/></input>" }, U, 'ACPI index is only supported for PCI devices', '/domain/devices/input[1]/acpi/@index'],
  ['ROM on a USB device', { devices: "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source><rom bar='off'/><address type='usb' bus='0' port='1'/></hostdev>" }, U, 'ROM tuning is only supported for PCI devices', '/domain/devices/hostdev[1]/rom'],
];

const diskCases: Case[] = [
  ['CHS geometry on USB', { devices: file('sda', 'usb', "<geometry cyls='16383' heads='16' secs='63'/>") }, U, "CHS geometry can not be set for 'usb' bus", '/domain/devices/disk[1]/geometry'],
  ['CHS translation on virtio', { devices: file('vda', 'virtio', "<geometry cyls='16383' heads='16' secs='63' trans='lba'/>") }, U, "CHS translation mode can only be set for 'ide' bus not 'virtio'", '/domain/devices/disk[1]/geometry/@trans'],
  ['serial on the SD bus', { devices: file('sdb', 'sd', '<serial>abc</serial>') }, 'INTERNAL_ERROR', "Serial property not supported for drive bus 'sd'", '/domain/devices/disk[1]/serial'],
  ['virtio CD-ROM', { devices: disk("type='file' device='cdrom'", "<source file='/var/lib/img/c.iso'/><target dev='vdb' bus='virtio'/><readonly/>") }, U, "disk type of 'vdb' does not support ejectable media", '/domain/devices/disk[1]/target/@bus'],
  ['copy_on_read on a read-only disk', { devices: file('vda', 'virtio', "<driver name='qemu' type='raw' copy_on_read='on'/><readonly/>") }, U, "copy_on_read is not compatible with read-only disk 'vda'", '/domain/devices/disk[1]/driver/@copy_on_read'],
  ['copy_on_read on a floppy', { devices: disk("type='file' device='floppy'", "<driver name='qemu' type='raw' copy_on_read='on'/><source file='/var/lib/img/f.img'/><target dev='fda' bus='fdc'/>") }, U, "copy_on_read is not supported with removable disk 'fda'", '/domain/devices/disk[1]/driver/@copy_on_read'],
  ['wwn on virtio', { devices: file('vda', 'virtio', '<wwn>5000c50015ea71ac</wwn>') }, U, 'Only ide and scsi disk support wwn', '/domain/devices/disk[1]/wwn'],
  ['vendor on virtio', { devices: file('vda', 'virtio', '<vendor>ACME</vendor>') }, U, 'Only scsi disk supports vendor and product', '/domain/devices/disk[1]/vendor'],
  ['LUN on SATA', { ...q35, devices: disk("type='block' device='lun'", "<source dev='/dev/sdz'/><target dev='sda' bus='sata'/>") }, U, "disk device='lun' is not supported for bus='sata'", '/domain/devices/disk[1]/target/@bus'],
  ['LUN with copy_on_read', { devices: disk("type='block' device='lun'", "<driver name='qemu' type='raw' copy_on_read='on'/><source dev='/dev/sdz'/><target dev='vda' bus='virtio'/>") }, U, "copy_on_read is not compatible with 'lun' disk 'vda'", '/domain/devices/disk[1]/driver/@copy_on_read'],
  ['LUN with a vendor', { devices: disk("type='block' device='lun'", "<source dev='/dev/sdz'/><target dev='sda' bus='scsi'/><vendor>ACME</vendor>") }, U, 'Setting vendor or product is not supported for lun device', '/domain/devices/disk[1]/vendor'],
  ['LUN with wwn', { devices: disk("type='block' device='lun'", "<source dev='/dev/sdz'/><target dev='sda' bus='scsi'/><wwn>5000c50015ea71ac</wwn>") }, U, 'Setting wwn is not supported for lun device', '/domain/devices/disk[1]/wwn'],
  ['rotation rate on virtio', { devices: disk("type='file' device='disk'", "<source file='/var/lib/img/v.img'/><target dev='vda' bus='virtio' rotation_rate='7200'/>") }, 'INTERNAL_ERROR', 'rotation rate is only valid for SCSI/IDE/SATA bus', '/domain/devices/disk[1]/target/@rotation_rate'],
  ['rotation rate on a CD-ROM', { devices: disk("type='file' device='cdrom'", "<source file='/var/lib/img/c.iso'/><target dev='hdc' bus='ide' rotation_rate='1'/><readonly/>") }, 'INTERNAL_ERROR', 'rotation rate is only valid for disk device', '/domain/devices/disk[1]/target/@rotation_rate'],
  ['USB disk with a PCI address', { devices: file('sdb', 'usb', "<address type='pci' domain='0' bus='0' slot='8' function='0'/>") }, 'INTERNAL_ERROR', 'unexpected address type for usb disk', '/domain/devices/disk[1]/address/@type'],
  ['read-only IDE disk', { devices: file('hda', 'ide', '<readonly/>') }, U, 'readonly ide disks are not supported', '/domain/devices/disk[1]/readonly'],
  ['read-only SATA disk', { ...q35, devices: file('sda', 'sata', '<readonly/>') }, U, 'readonly sata disks are not supported', '/domain/devices/disk[1]/readonly'],
  ['native I/O with writeback cache', { devices: file('vda', 'virtio', "<driver name='qemu' type='raw' cache='writeback' io='native'/>") }, U, "io='native' needs either no disk cache or directsync cache mode", '/domain/devices/disk[1]/driver/@io'],
  ['serial on a SCSI LUN', { devices: disk("type='block' device='lun'", "<source dev='/dev/sdz'/><target dev='sda' bus='scsi'/><serial>abc</serial>") }, U, "scsi-block 'lun' devices do not support the serial property", '/domain/devices/disk[1]/serial'],
  ['unsafe serial', { devices: file('vda', 'virtio', '<serial>a,b</serial>') }, 'INTERNAL_ERROR', "driver serial 'a,b' contains unsafe characters", '/domain/devices/disk[1]/serial'],
  ['iothread on an IDE disk', { head: "<memory unit='MiB'>512</memory><vcpu>1</vcpu><iothreads>1</iothreads>", devices: file('hda', 'ide', "<driver name='qemu' type='raw' iothread='1'/>") }, U, 'IOThreads not available for bus ide target hda', '/domain/devices/disk[1]/driver/@iothread'],
  ['undefined iothread', { head: "<memory unit='MiB'>512</memory><vcpu>1</vcpu><iothreads>1</iothreads>", devices: file('vda', 'virtio', "<driver name='qemu' type='raw' iothread='2'/>") }, U, "Disk iothread '2' not defined in iothreadid", '/domain/devices/disk[1]/driver/@iothread'],
  ['iotune group without limits', { devices: file('vda', 'virtio', '<iotune><group_name>g</group_name></iotune>') }, U, 'group_name can be configured only together with settings', '/domain/devices/disk[1]/iotune/group_name'],
  ['iotune group with different limits', { devices: file('vda', 'virtio', '<iotune><total_bytes_sec>100</total_bytes_sec><group_name>g</group_name></iotune>') + file('vdb', 'virtio', '<iotune><total_bytes_sec>200</total_bytes_sec><group_name>g</group_name></iotune>') }, U, 'different iotunes for disks vda and vdb', '/domain/devices/disk[1]/iotune'],
  ['read-only transient disk', { devices: file('vda', 'virtio', '<transient/><readonly/>') }, U, "transient disk 'vda' must not be read-only", '/domain/devices/disk[1]/transient'],
  ['transient block disk', { devices: disk("type='block' device='disk'", "<source dev='/dev/sdz'/><target dev='vda' bus='virtio'/><transient/>") }, U, "transient disk supported only with 'file' type (vda)", '/domain/devices/disk[1]/transient'],
  ['transient floppy', { devices: disk("type='file' device='floppy'", "<source file='/var/lib/img/f.img'/><target dev='fda' bus='fdc'/><transient/>") }, U, "transient disk supported only with 'disk' device (fda)", '/domain/devices/disk[1]/transient'],
  ['shared transient backing on SATA', { ...q35, devices: file('sda', 'sata', "<transient shareBacking='yes'/>") }, U, "disk bus 'sata' doesn't support transiend disk backing image sharing", '/domain/devices/disk[1]/transient/@shareBacking'],
  ['shareable qcow2', { devices: file('vda', 'virtio', "<driver name='qemu' type='qcow2'/><shareable/>") }, U, "shared access for disk 'vda' requires use of supported storage format", '/domain/devices/disk[1]/shareable'],
  ['driver other than qemu', { devices: file('vda', 'virtio', "<driver name='tap' type='raw'/>") }, U, "unsupported driver name 'tap' for disk 'vda'", '/domain/devices/disk[1]/driver/@name'],
  ['target with upper-case letters', { devices: file('vdA', 'virtio', "<address type='pci' domain='0' bus='0' slot='9' function='0'/>") }, U, "invalid disk target 'vdA'", '/domain/devices/disk[1]/target/@dev'],
  ['target with a partition', { devices: file('vda2', 'virtio') }, U, "invalid disk target 'vda2', partitions can't appear in disk targets", '/domain/devices/disk[1]/target/@dev'],
  ['vhost-user disk without shared memory', { devices: disk("type='vhostuser' device='disk'", "<driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost-blk.sock'/><target dev='vda' bus='virtio'/>") }, U, "'vhostuser' requires shared memory", '/domain/devices/disk[1]/@type'],
];

const storageCases: Case[] = [
  ['cow format', { devices: file('vda', 'virtio', "<driver name='qemu' type='cow'/>") }, U, "'cow' storage format is not supported", '/domain/devices/disk[1]/driver/@type'],
  ['dir format', { devices: file('vda', 'virtio', "<driver name='qemu' type='dir'/>") }, U, "'directory' storage format is not directly supported by QEMU, use 'dir' disk type instead", '/domain/devices/disk[1]/driver/@type'],
  ['iso format', { devices: file('vda', 'virtio', "<driver name='qemu' type='iso'/>") }, U, "storage format 'iso' is not directly supported by QEMU, use 'raw' instead", '/domain/devices/disk[1]/driver/@type'],
  ['fat format on a file', { devices: file('vda', 'virtio', "<driver name='qemu' type='fat'/>") }, U, "storage format 'fat' is supported only with 'dir' storage type", '/domain/devices/disk[1]/driver/@type'],
  ['dir storage with raw format', { devices: disk("type='dir' device='disk'", "<driver name='qemu' type='raw'/><source dir='/srv/share'/><target dev='vda' bus='virtio'/><readonly/>") }, U, "storage type 'dir' requires use of storage format 'fat'", '/domain/devices/disk[1]/driver/@type'],
  ['writable dir storage', { devices: disk("type='dir' device='disk'", "<driver name='qemu' type='fat'/><source dir='/srv/share'/><target dev='vda' bus='virtio'/>") }, U, "virtual FAT storage can't be accessed in read-write mode", '/domain/devices/disk[1]/source'],
  ['ssl verify over http', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='http' name='/img.raw'><host name='example.org' port='80'/><ssl verify='no'/></source><target dev='vda' bus='virtio'/><readonly/>") }, U, 'ssl verification is supported only with HTTPS/FTPS protocol', '/domain/devices/disk[1]/source/ssl'],
  ['cookies over FTP', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='ftp' name='/img.raw'><host name='example.org' port='21'/><cookies><cookie name='a'>b</cookie></cookies></source><target dev='vda' bus='virtio'/><readonly/>") }, U, 'http cookies are supported only with HTTP(S) protocol', '/domain/devices/disk[1]/source/cookies'],
  ['timeout on NBD', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='nbd' name='e'><host name='example.org' port='10809'/><timeout seconds='10'/></source><target dev='vda' bus='virtio'/>") }, U, 'timeout is supported only with HTTP(S)/FTP(s) protocols', '/domain/devices/disk[1]/source/timeout'],
  ['readahead on NBD', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='nbd' name='e'><host name='example.org' port='10809'/><readahead size='65536'/></source><target dev='vda' bus='virtio'/>") }, U, 'readahead is supported only with HTTP(S)/FTP(s) protocols', '/domain/devices/disk[1]/source/readahead'],
  ['query over NBD', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='nbd' name='e' query='a=b'><host name='example.org' port='10809'/></source><target dev='vda' bus='virtio'/>") }, U, 'query is supported only with HTTP(S) protocols', '/domain/devices/disk[1]/source/@query'],
  ['tftp source', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='tftp' name='/img.raw'><host name='example.org' port='69'/></source><target dev='vda' bus='virtio'/><readonly/>") }, U, "'tftp' protocol is not supported with this QEMU binary", '/domain/devices/disk[1]/source/@protocol'],
  ['NFS with two hosts', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='nfs' name='/export/img.raw'><host name='a.example.org'/><host name='b.example.org'/></source><target dev='vda' bus='virtio'/>") }, U, "'nfs' protocol requires the usage of exactly one host", '/domain/devices/disk[1]/source'],
  ['NFS over a unix socket', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='nfs' name='/export/img.raw'><host transport='unix' socket='/run/nfs.sock'/></source><target dev='vda' bus='virtio'/>") }, U, "'nfs' host must use TCP protocol", '/domain/devices/disk[1]/source/host/@transport'],
  ['NFS host with a port', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='nfs' name='/export/img.raw'><host name='example.org' port='2049'/></source><target dev='vda' bus='virtio'/>") }, U, "port cannot be specified in 'nfs' protocol host", '/domain/devices/disk[1]/source/host/@port'],
  ['metadata cache on raw', { devices: file('vda', 'virtio', "<driver name='qemu' type='raw'><metadata_cache><max_size unit='KiB'>64</max_size></metadata_cache></driver>") }, U, 'metadata cache max size control is supported only with qcow2 images', '/domain/devices/disk[1]/driver/metadata_cache'],
  ['qcow encryption', { devices: file('vda', 'virtio', "<driver name='qemu' type='qcow2'/><encryption format='qcow'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption>") }, U, 'old qcow/qcow2 encryption is not supported', '/domain/devices/disk[1]/encryption/@format'],
  ['LUKS on vmdk', { devices: file('vda', 'virtio', "<driver name='qemu' type='vmdk'/><encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption>") }, U, "encryption is supported only with 'raw' and 'qcow2' image format", '/domain/devices/disk[1]/encryption'],
  ['LUKS2 with the qemu engine', { devices: file('vda', 'virtio', "<driver name='qemu' type='raw'/><encryption format='luks2' engine='qemu'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption>") }, U, 'luks2 is currently not supported by the qemu encryption engine', '/domain/devices/disk[1]/encryption/@format'],
  ['librbd encryption on a file', { devices: file('vda', 'virtio', "<driver name='qemu' type='raw'/><encryption format='luks' engine='librbd'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption>") }, U, 'librbd encryption is supported only with RBD backed disks', '/domain/devices/disk[1]/encryption/@engine'],
  ['tlsHostname on a file', { devices: disk("type='network' device='disk'", "<driver name='qemu' type='raw'/><source protocol='http' name='/img.raw' tlsHostname='example.org'><host name='example.org' port='80'/></source><target dev='vda' bus='virtio'/><readonly/>") }, U, "'tlsHostname' field is supported only with NBD disks", '/domain/devices/disk[1]/source/@tlsHostname'],
  ['iso backing store', { devices: file('vda', 'virtio', "<driver name='qemu' type='qcow2'/><backingStore type='file'><format type='iso'/><source file='/var/lib/img/base.iso'/></backingStore>") }, U, "storage format 'iso' is not directly supported by QEMU, use 'raw' instead", '/domain/devices/disk[1]/backingStore/format/@type'],
];

const controllerCases: Case[] = [
  ['buslogic', { devices: "<controller type='scsi' index='0' model='buslogic'/>" }, U, 'Unsupported controller model: buslogic', '/domain/devices/controller[1]/@model'],
  ['queues on lsilogic', { devices: "<controller type='scsi' index='0' model='lsilogic'><driver queues='4'/></controller>" }, U, "'queues' is only supported by virtio-scsi controller", '/domain/devices/controller[1]/driver/@queues'],
  ['cmd_per_lun on lsilogic', { devices: "<controller type='scsi' index='0' model='lsilogic'><driver cmd_per_lun='8'/></controller>" }, U, "'cmd_per_lun' is only supported by virtio-scsi controller", '/domain/devices/controller[1]/driver/@cmd_per_lun'],
  ['max_sectors on a SATA controller', { ...q35, devices: "<controller type='sata' index='1'><driver max_sectors='512'/></controller>" }, U, "'max_sectors' is only supported by virtio-scsi controller", '/domain/devices/controller[1]/driver/@max_sectors'],
  ['IDE controller on q35', { ...q35, devices: "<controller type='ide' index='0'/>" }, U, 'IDE controllers are unsupported for this QEMU binary or machine type', '/domain/devices/controller[1]'],
  ['second IDE controller on i440fx', { devices: "<controller type='ide' index='0'/><controller type='ide' index='1'/>" }, U, 'Only a single IDE controller is supported for this machine type', '/domain/devices/controller[2]/@index'],
  ['virtio-scsi with an undefined iothread', { devices: "<controller type='scsi' index='0' model='virtio-scsi'><driver iothread='2'/></controller>" }, U, "controller iothread '2' not defined in iothreadid", '/domain/devices/controller[1]/driver/@iothread'],
  ['virtio-scsi iothread behind an ISA address', { head: "<memory unit='MiB'>512</memory><vcpu>1</vcpu><iothreads>1</iothreads>", devices: "<controller type='scsi' index='0' model='virtio-scsi'><driver iothread='1'/><address type='isa' iobase='0x300'/></controller>" }, U, 'virtio-scsi IOThreads only available for virtio pci and virtio ccw controllers', '/domain/devices/controller[1]/address/@type'],
  ['second ncr53c90', { devices: "<controller type='scsi' index='1' model='ncr53c90'/>" }, U, 'ncr53c90 can only be used as first SCSI controller', '/domain/devices/controller[1]/@index'],
  ['ncr53c90 on x86', { devices: "<controller type='scsi' index='0' model='ncr53c90'/>" }, U, 'ncr53c90 SCSI controller is not a built-in for this machine', '/domain/devices/controller[1]/@model'],
  ['pcie-root with a model name', { ...q35, devices: "<controller type='pci' index='0' model='pcie-root'><model name='pxb-pcie'/></controller>" }, U, "Option 'modelName' is not valid for PCI controller with index '0', model 'pcie-root' and modelName 'pxb-pcie'", '/domain/devices/controller[1]/model/@name'],
  ['root port with a bridge model name', { ...q35, devices: "<controller type='pci' index='1' model='pcie-root-port'><model name='pci-bridge'/></controller>" }, U, "Option 'modelName' has invalid value for PCI controller with index '1', model 'pcie-root-port' and modelName 'pci-bridge'", '/domain/devices/controller[1]/model/@name'],
  ['busNr on a pci-bridge', { devices: "<controller type='pci' index='1' model='pci-bridge'><target busNr='5'/></controller>" }, U, "Option 'busNr' is not valid for PCI controller with index '1', model 'pci-bridge' and modelName 'pci-bridge'", '/domain/devices/controller[1]/target/@busNr'],
  ['chassisNr on a root port', { ...q35, devices: "<controller type='pci' index='1' model='pcie-root-port'><target chassisNr='5'/></controller>" }, U, "Option 'chassisNr' is not valid for PCI controller with index '1', model 'pcie-root-port' and modelName 'pcie-root-port'", '/domain/devices/controller[1]/target/@chassisNr'],
  ['target index on a pci-bridge', { devices: "<controller type='pci' index='1' model='pci-bridge'><target index='1'/></controller>" }, U, "Option 'targetIndex' is not valid for PCI controller with index '1', model 'pci-bridge' and modelName 'pci-bridge'", '/domain/devices/controller[1]/target/@index'],
  ['NUMA node on a root port', { ...q35, mid: numa, devices: "<controller type='pci' index='1' model='pcie-root-port'><target><node>0</node></target></controller>" }, U, "Option 'numaNode' is not valid for PCI controller with index '1', model 'pcie-root-port' and modelName 'pcie-root-port'", '/domain/devices/controller[1]/target/node'],
  ['chassis on a pci-bridge', { devices: "<controller type='pci' index='1' model='pci-bridge'><target chassis='3'/></controller>" }, U, "Option 'chassis' is not valid for PCI controller with index '1', model 'pci-bridge' and modelName 'pci-bridge'", '/domain/devices/controller[1]/target/@chassis'],
  ['port on an upstream port', { ...q35, devices: "<controller type='pci' index='1' model='pcie-root-port'/><controller type='pci' index='2' model='pcie-switch-upstream-port'><target port='0x10'/></controller>" }, U, "Option 'port' is not valid for PCI controller with index '2', model 'pcie-switch-upstream-port' and modelName 'x3130-upstream'", '/domain/devices/controller[2]/target/@port'],
  ['hotplug on a pci-bridge', { devices: "<controller type='pci' index='1' model='pci-bridge'><target hotplug='off'/></controller>" }, U, "Option 'hotplug' is not valid for PCI controller with index '1', model 'pci-bridge' and modelName 'pci-bridge'", '/domain/devices/controller[1]/target/@hotplug'],
  ['pcihole64 on a pci-bridge', { devices: "<controller type='pci' index='1' model='pci-bridge'><pcihole64 unit='KiB'>1048576</pcihole64></controller>" }, U, "Option 'pcihole64' is not valid for PCI controller with index '1', model 'pci-bridge' and modelName 'pci-bridge'", '/domain/devices/controller[1]/pcihole64'],
];

const netCases: Case[] = [
  ['guest route on user networking', { devices: net('user', "<ip address='10.0.2.15' family='ipv4' prefix='24'/><route family='ipv4' address='192.168.10.0' prefix='24' gateway='10.0.2.2'/>") }, U, 'Invalid attempt to set network interface guest-side IP route, not supported by QEMU', '/domain/devices/interface[1]/route[1]'],
  ['peer IP on user networking', { devices: net('user', "<ip address='10.0.2.15' family='ipv4' prefix='24' peer='10.0.2.2'/>") }, U, 'Invalid attempt to set peer IP for guest', '/domain/devices/interface[1]/ip[1]/@peer'],
  ['two IPv4 addresses', { devices: net('user', "<ip address='10.0.2.15' family='ipv4'/><ip address='10.0.3.15' family='ipv4'/>") }, U, 'Only one IPv4 address per interface is allowed', '/domain/devices/interface[1]/ip[2]'],
  ['IPv4 prefix out of range', { devices: net('user', "<ip address='10.0.2.15' family='ipv4' prefix='30'/>") }, 'XML_ERROR', 'invalid prefix, must be in range of 4-27', '/domain/devices/interface[1]/ip[1]/@prefix'],
  ['two IPv6 addresses', { devices: net('user', "<ip address='fd00::10' family='ipv6'/><ip address='fd00::11' family='ipv6'/>") }, U, 'Only one IPv6 address per interface is allowed', '/domain/devices/interface[1]/ip[2]'],
  ['IPv6 prefix other than 64', { devices: net('user', "<ip address='fd00::10' family='ipv6' prefix='96'/>") }, U, "unsupported IPv6 address prefix='96' - must be 64", '/domain/devices/interface[1]/ip[1]/@prefix'],
  ['guest IP on a bridge', { devices: net('bridge', "<source bridge='br0'/><ip address='192.168.1.5' family='ipv4' prefix='24'/>") }, U, 'Invalid attempt to set network interface guest-side IP route and/or address info, not supported by QEMU', '/domain/devices/interface[1]/ip[1]'],
  ['vDPA with an e1000 model', { devices: net('vdpa', "<source dev='/dev/vhost-vdpa-0'/><model type='e1000'/>") }, U, "invalid model for interface of type 'vdpa': 'e1000'", '/domain/devices/interface[1]/model/@type'],
  ['rx queue size not a power of two', { devices: net('bridge', "<source bridge='br0'/><model type='virtio'/><driver rx_queue_size='300'/>") }, U, 'rx_queue_size has to be a power of two', '/domain/devices/interface[1]/driver/@rx_queue_size'],
  ['tx queue size not a power of two', { devices: net('bridge', "<source bridge='br0'/><model type='virtio'/><driver tx_queue_size='1000'/>") }, U, 'tx_queue_size has to be a power of two', '/domain/devices/interface[1]/driver/@tx_queue_size'],
  ['MTU on user networking', { devices: net('user', "<mtu size='1400'/>") }, U, 'setting MTU on interface type user is not supported yet', '/domain/devices/interface[1]/mtu'],
  ['persistent teaming without virtio', { devices: net('bridge', "<source bridge='br0'/><teaming type='persistent'/>") }, U, "virtio-net teaming persistent interface must be <model type='virtio'/>, not 'rtl8139'", '/domain/devices/interface[1]/teaming'],
  ['transient teaming on a bridge', { devices: net('bridge', "<source bridge='br0'/><model type='virtio'/><teaming type='transient' persistent='ua-backup0'/>") }, U, "virtio-net teaming transient interface must be type='hostdev', not 'bridge'", '/domain/devices/interface[1]/teaming'],
  ['coalesce on user networking', { devices: net('user', "<model type='virtio'/><coalesce><rx><frames max='7'/></rx></coalesce>") }, U, 'coalesce settings on interface type user are not supported', '/domain/devices/interface[1]/coalesce'],
];

const chrCases: Case[] = [
  ['reconnect with timeout 0', { devices: "<serial type='tcp'><source mode='connect' host='127.0.0.1' service='9999'><reconnect enabled='yes' timeout='0'/></source><protocol type='raw'/><target port='0'/></serial>" }, 'INVALID_ARG', "chardev reconnect source timeout cannot be '0'", '/domain/devices/serial[1]/source/reconnect'],
  ['spicevmc without spice', { devices: "<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>" }, U, "chardev 'spicevmc' not supported without spice graphics", '/domain/devices/channel[1]/@type'],
  ['ISA serial with a PCI address', { devices: "<serial type='pty'><target type='isa-serial' port='0'/><address type='pci' domain='0' bus='0' slot='9' function='0'/></serial>" }, U, "Target type 'isa-serial' requires address type 'isa'", '/domain/devices/serial[1]/address/@type'],
  ['system serial with an address', { devices: "<serial type='pty'><target type='system-serial' port='0'/><address type='isa' iobase='0x3f8'/></serial>" }, U, "Target type 'system-serial' cannot have an associated address", '/domain/devices/serial[1]/address'],
  ['target model of another type', { devices: "<serial type='pty'><target type='pci-serial' port='0'><model name='usb-serial'/></target></serial>" }, U, "Target model 'usb-serial' requires target type 'usb-serial'", '/domain/devices/serial[1]/target/model/@name'],
  ['spapr-vty serial on x86', { devices: "<serial type='pty'><target type='spapr-vio-serial' port='0'><model name='spapr-vty'/></target></serial>" }, U, "Serial device with target type 'spapr-vio-serial' and target model 'spapr-vty' not compatible with guest architecture or machine type", '/domain/devices/serial[1]/target'],
  ['two smartcards', { devices: "<smartcard mode='host'/><smartcard mode='host'/>" }, U, 'this QEMU binary lacks multiple smartcard support', '/domain/devices/smartcard[1]'],
  ['smartcard in CCID slot 1', { devices: "<smartcard mode='host'><address type='ccid' controller='0' slot='1'/></smartcard>" }, U, 'this QEMU binary lacks multiple smartcard support', '/domain/devices/smartcard[1]'],
  ['spicevmc redirdev without spice', { devices: "<controller type='usb' index='0' model='qemu-xhci'/><redirdev bus='usb' type='spicevmc'/>" }, U, "chardev 'spicevmc' not supported without spice graphics", '/domain/devices/redirdev[1]/@type'],
  ['egd RNG over spicevmc without spice', { devices: "<rng model='virtio'><backend model='egd' type='spicevmc'/></rng>" }, U, "chardev 'spicevmc' not supported without spice graphics", '/domain/devices/rng[1]/backend/@type'],
];

const otherCases: Case[] = [
  ['i6300esb watchdog with an ISA address', { devices: "<watchdog model='i6300esb'><address type='isa' iobase='0x443'/></watchdog>" }, U, 'i6300esb model of watchdog can go only on PCI bus', '/domain/devices/watchdog/address/@type'],
  ['ib700 watchdog with an address', { devices: "<watchdog model='ib700'><address type='isa' iobase='0x443'/></watchdog>" }, U, 'ib700 model of watchdog does not support configuring the address', '/domain/devices/watchdog/address'],
  ['diag288 watchdog with an address', { devices: "<watchdog model='diag288'><address type='isa' iobase='0x443'/></watchdog>" }, U, 'diag288 model of watchdog is virtual and cannot go on any bus.', '/domain/devices/watchdog/address'],
  ['diag288 watchdog on x86', { devices: "<watchdog model='diag288'/>" }, U, 'diag288 model of watchdog is allowed for s390 and s390x only', '/domain/devices/watchdog/@model'],
  ['capabilities-mode hostdev', { devices: "<hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>" }, U, "hostdev mode 'capabilities' is not supported in kvm", '/domain/devices/hostdev[1]/@mode'],
  ['PCI write filtering', { devices: "<hostdev mode='subsystem' type='pci' managed='yes'><source writeFiltering='yes'><address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>" }, U, 'Write filtering of PCI device configuration space is not supported by qemu', '/domain/devices/hostdev[1]/source/@writeFiltering'],
  ['booting a vhost-scsi device', { devices: "<hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' wwpn='naa.5123456789abcde0'/><boot order='1'/></hostdev>" }, U, 'booting from assigned devices is not supported by vhost SCSI devices', '/domain/devices/hostdev[1]/boot'],
  ['booting a vfio-pci mediated device', { devices: "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='53764d0e-85a0-42b4-af5c-2046b460b1dc'/></source><boot order='1'/></hostdev>" }, U, 'booting from assigned devices is not supported by mediated devices of model vfio-pci', '/domain/devices/hostdev[1]/boot'],
  ['vfio-ccw mediated device', { devices: "<hostdev mode='subsystem' type='mdev' model='vfio-ccw'><source><address uuid='90c6c135-ad44-41d0-b1b7-bae47de48627'/></source></hostdev>" }, U, 'VFIO CCW device assignment is not supported by this version of QEMU', '/domain/devices/hostdev[1]/@model'],
  ['vfio-ap mediated device', { devices: "<hostdev mode='subsystem' type='mdev' model='vfio-ap'><source><address uuid='90c6c135-ad44-41d0-b1b7-bae47de48627'/></source></hostdev>" }, U, 'VFIO AP device assignment is not supported by this version of QEMU', '/domain/devices/hostdev[1]/@model'],
  ['mdev display without graphics', { devices: "<hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on'><source><address uuid='53764d0e-85a0-42b4-af5c-2046b460b1dc'/></source></hostdev>" }, U, "graphics device is needed for attribute value 'display=on' in <hostdev>", '/domain/devices/hostdev[1]/@display'],
  ['Xen video model', { devices: "<video><model type='xen' vram='16384' heads='1'/></video>" }, U, "domain configuration does not support video model 'xen'", '/domain/devices/video[1]/model/@type'],
  ['second VGA', { devices: "<video><model type='qxl'/></video><video><model type='vga'/></video>" }, U, "video type 'vga' is only valid as primary video device", '/domain/devices/video[2]/model/@type'],
  ['VGA with two heads', { devices: "<video><model type='vga' heads='2'/></video>" }, U, "video type 'vga' doesn't support multiple 'heads'", '/domain/devices/video[1]/model/@heads'],
  ['2D acceleration', { devices: "<video><model type='virtio'><acceleration accel2d='yes'/></model></video>" }, U, 'qemu does not support the accel2d setting', '/domain/devices/video[1]/model/acceleration/@accel2d'],
  ['QXL vram overflow', { devices: "<video><model type='qxl' vram='4194304'/></video>" }, 'OVERFLOW', "value for 'vram' must be less than '4194303'", '/domain/devices/video[1]/model/@vram'],
  ['QXL ram overflow', { devices: "<video><model type='qxl' ram='4194304'/></video>" }, 'OVERFLOW', "value for 'ram' must be less than '4194303'", '/domain/devices/video[1]/model/@ram'],
  ['QXL vgamem below 1 MiB', { devices: "<video><model type='qxl' vgamem='512'/></video>" }, U, "value for 'vgamem' must be at least 1 MiB (1024 KiB)", '/domain/devices/video[1]/model/@vgamem'],
  ['QXL vgamem not a power of two', { devices: "<video><model type='qxl' vgamem='3072'/></video>" }, U, "value for 'vgamem' must be power of two", '/domain/devices/video[1]/model/@vgamem'],
  ['resolution on cirrus', { devices: "<video><model type='cirrus'><resolution x='800' y='600'/></model></video>" }, 'XML_ERROR', 'model resolution is not supported', '/domain/devices/video[1]/model/resolution'],
  ['small VGA vram', { devices: "<video><model type='vga' vram='512'/></video>" }, U, "value for 'vram' must be at least 1 MiB (1024 KiB)", '/domain/devices/video[1]/model/@vram'],
  ['3D acceleration on QXL', { devices: "<video><model type='qxl'><acceleration accel3d='yes'/></model></video>" }, U, "3d acceleration is supported only with 'virtio' video device", '/domain/devices/video[1]/model/acceleration/@accel3d'],
  ['RDP graphics', { devices: "<graphics type='rdp' autoport='yes'/>" }, U, 'rdp graphics are not supported with this QEMU', '/domain/devices/graphics[1]/@type'],
  ['egl-headless with SDL', { devices: "<graphics type='sdl'/><graphics type='egl-headless'/>" }, U, "graphics type 'egl-headless' is only supported with one of: 'vnc', 'spice' graphics types", '/domain/devices/graphics[1]/@type'],
  ['spice OpenGL with egl-headless', { devices: "<graphics type='spice' autoport='yes'><listen type='none'/><gl enable='yes'/></graphics><graphics type='egl-headless'/>" }, U, 'multiple OpenGL displays are not supported by QEMU', '/domain/devices/graphics[1]/gl/@enable'],
  ['spice TLS port', { devices: "<graphics type='spice' port='5901' tlsPort='5902' autoport='no'><listen type='address' address='127.0.0.1'/></graphics>" }, U, 'spice TLS port set in XML configuration, but TLS is disabled in qemu.conf', '/domain/devices/graphics[1]/@tlsPort'],
  ['long VNC password', { devices: "<graphics type='vnc' autoport='yes' passwd='123456789'/>" }, U, 'VNC password is 9 characters long, only 8 permitted', '/domain/devices/graphics[1]/@passwd'],
  ['D-Bus display with a non-D-Bus audio', { devices: "<graphics type='dbus'><audio id='1'/></graphics><audio id='1' type='none'/>" }, U, "The associated audio is not of 'dbus' kind.", '/domain/devices/graphics[1]/audio/@id'],
  ['spice audio without spice', { devices: "<audio id='1' type='spice'/>" }, U, 'Spice audio is not supported without spice graphics', '/domain/devices/audio[1]/@type'],
  ['ich7 sound', { devices: "<sound model='ich7'><address type='pci' domain='0' bus='0' slot='9' function='0'/></sound>" }, 'INTERNAL_ERROR', "sound card model 'ich7' is not supported by qemu", '/domain/devices/sound[1]/@model'],
  ['filesystem of type block', { devices: "<filesystem type='block' accessmode='passthrough'><source dev='/dev/sdc'/><target dir='/import'/></filesystem>" }, U, 'only supports mount filesystem type', '/domain/devices/filesystem[1]/@type'],
  ['fmode without mapped access', { devices: "<filesystem type='mount' accessmode='passthrough' fmode='0644'><source dir='/export'/><target dir='tag'/></filesystem>" }, U, 'fmode and dmode must be used with accessmode=mapped', '/domain/devices/filesystem[1]/@accessmode'],
  ['sandbox outside virtiofs', { devices: "<filesystem type='mount' accessmode='passthrough'><driver type='path'/><binary><sandbox mode='chroot'/></binary><source dir='/export'/><target dir='tag'/></filesystem>" }, U, 'sandbox can only be used with driver=virtiofs', '/domain/devices/filesystem[1]/binary/sandbox'],
  ['handle driver with mapped access', { devices: "<filesystem type='mount' accessmode='mapped'><driver type='handle'/><source dir='/export'/><target dir='tag'/></filesystem>" }, U, 'only supports passthrough accessmode', '/domain/devices/filesystem[1]/@accessmode'],
  ['loop filesystem driver', { devices: "<filesystem type='mount'><driver type='loop' format='raw'/><source dir='/export'/><target dir='tag'/><address type='pci' domain='0' bus='0' slot='9' function='0'/></filesystem>" }, U, 'Filesystem driver type not supported', '/domain/devices/filesystem[1]/driver/@type'],
  ['read-only virtiofs', { head: "<memory unit='MiB'>512</memory><memoryBacking><access mode='shared'/></memoryBacking><vcpu>1</vcpu>", devices: "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='/export'/><target dir='tag'/><readonly/></filesystem>" }, U, 'virtiofs does not yet support read-only mode', '/domain/devices/filesystem[1]/readonly'],
  ['virtiofs with mapped access', { head: "<memory unit='MiB'>512</memory><memoryBacking><access mode='shared'/></memoryBacking><vcpu>1</vcpu>", devices: "<filesystem type='mount' accessmode='mapped'><driver type='virtiofs'/><source dir='/export'/><target dir='tag'/></filesystem>" }, U, 'virtiofs only supports passthrough accessmode', '/domain/devices/filesystem[1]/@accessmode'],
  ['virtiofs with a write policy', { head: "<memory unit='MiB'>512</memory><memoryBacking><access mode='shared'/></memoryBacking><vcpu>1</vcpu>", devices: "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs' wrpolicy='immediate'/><source dir='/export'/><target dir='tag'/></filesystem>" }, U, 'virtiofs does not support wrpolicy', '/domain/devices/filesystem[1]/driver/@wrpolicy'],
  ['virtiofs with a model', { head: "<memory unit='MiB'>512</memory><memoryBacking><access mode='shared'/></memoryBacking><vcpu>1</vcpu>", devices: "<filesystem type='mount' accessmode='passthrough' model='virtio'><driver type='virtiofs'/><source dir='/export'/><target dir='tag'/></filesystem>" }, U, 'virtiofs does not support model', '/domain/devices/filesystem[1]/@model'],
  ['virtiofs with a format', { head: "<memory unit='MiB'>512</memory><memoryBacking><access mode='shared'/></memoryBacking><vcpu>1</vcpu>", devices: "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs' format='raw'/><source dir='/export'/><target dir='tag'/></filesystem>" }, U, 'virtiofs does not support format', '/domain/devices/filesystem[1]/driver/@format'],
  ['virtiofs with multidevs', { head: "<memory unit='MiB'>512</memory><memoryBacking><access mode='shared'/></memoryBacking><vcpu>1</vcpu>", devices: "<filesystem type='mount' accessmode='passthrough' multidevs='remap'><driver type='virtiofs'/><source dir='/export'/><target dir='tag'/></filesystem>" }, U, 'virtiofs does not support multidevs', '/domain/devices/filesystem[1]/@multidevs'],
  ['virtiofs without shared memory', { devices: "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='/export'/><target dir='tag'/></filesystem>" }, U, "'virtiofs' requires shared memory", '/domain/devices/filesystem[1]/driver/@type'],
  ['TPM emulator without swtpm', { devices: "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>" }, U, "TPM version '2.0' is not supported", '/domain/devices/tpm[1]/backend'],
  ['external TPM without swtpm', { devices: "<tpm model='tpm-tis'><backend type='external'><source type='unix' mode='connect' path='/tmp/swtpm.sock'/></backend></tpm>" }, U, 'The QEMU executable /usr/bin/qemu-system-x86_64 does not support TPM backend type external', '/domain/devices/tpm[1]/backend/@type'],
  ['SPAPR TPM on x86', { devices: "<tpm model='tpm-spapr'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>" }, U, 'The QEMU executable /usr/bin/qemu-system-x86_64 does not support TPM model tpm-spapr', '/domain/devices/tpm[1]/@model'],
  ['transitional virtio input', { devices: "<input type='keyboard' bus='virtio' model='virtio-transitional'/>" }, U, 'virtio (non-)transitional models are not supported for input type=keyboard', '/domain/devices/input[1]/@model'],
  ['Xen balloon', { devices: "<memballoon model='xen'><address type='pci' domain='0' bus='0' slot='9' function='0'/></memballoon>" }, U, "Memory balloon device type 'xen' is not supported by this version of qemu", '/domain/devices/memballoon/@model'],
  ['Intel IOMMU on i440fx', { devices: "<iommu model='intel'/>" }, U, "IOMMU device: 'intel' is only supported with Q35 machines", '/domain/devices/iommu/@model'],
  ['SMMUv3 on x86', { ...q35, devices: "<iommu model='smmuv3'/>" }, U, "IOMMU device: 'smmuv3' is only supported with ARM Virt machines", '/domain/devices/iommu/@model'],
  ['virtio IOMMU without ACPI', { ...q35, devices: "<iommu model='virtio'/>" }, U, "IOMMU device: 'virtio' requires ACPI", '/domain/devices/iommu/@model'],
  ['virtio IOMMU on i440fx', { mid: '<features><acpi/></features>', devices: "<iommu model='virtio'/>" }, U, "IOMMU device: 'virtio' is only supported with Q35 and ARM Virt machines", '/domain/devices/iommu/@model'],
  ['virtio IOMMU on a non-PCI address', { ...q35, mid: '<features><acpi/></features>', devices: "<iommu model='virtio'><address type='isa' iobase='0x300'/></iommu>" }, U, "IOMMU device: 'virtio' needs a PCI address", '/domain/devices/iommu/address/@type'],
  ['nvram device on x86', { devices: '<nvram/>' }, U, 'nvram device is only supported for PPC64', '/domain/devices/nvram'],
  ['SGX EPC without SGX', { ...q35, devices: "<memory model='sgx-epc'><target><size unit='KiB'>16384</size></target></memory>", head: "<maxMemory slots='2' unit='GiB'>4</maxMemory><memory unit='MiB'>512</memory><vcpu>1</vcpu>", mid: numa }, U, "sgx epc isn't supported by this QEMU binary", '/domain/devices/memory[1]/@model'],
  ['legacy ivshmem', { devices: "<shmem name='shm0'><size unit='M'>4</size></shmem>" }, U, 'ivshmem device is not supported with this QEMU binary', '/domain/devices/shmem[1]/model'],
];

function run(title: string, cases: Case[]): void {
  describe(title, () => {
    for (const [name, opts, code, message, path] of cases) it(name, () => rejects(opts, code, message, path));
  });
}

run('qemu domain validation', domainCases);
run('qemu device info validation', infoCases);
run('qemu disk validation', diskCases);
run('qemu storage source validation', storageCases);
run('qemu controller validation', controllerCases);
run('qemu interface validation', netCases);
run('qemu character device validation', chrCases);
run('qemu validation of other devices', otherCases);

describe('qemu validation accepts', () => {
  const ok: Array<[string, Opts]> = [
    ['a plain i440fx guest', {}],
    ['hpet present on QEMU 7.2 (no machine-hpet)', { mid: "<clock offset='utc'><timer name='hpet' present='yes'/></clock>" }],
    ['a vda0 target (partition 0)', { devices: file('vda0', 'virtio') }],
    ['spice with a TLS port on a socket listen', { devices: "<graphics type='spice' tlsPort='5902' autoport='no'><listen type='socket' socket='/tmp/spice.sock'/></graphics>" }],
    ['virtiofs on shared memory', { head: "<memory unit='MiB'>512</memory><memoryBacking><access mode='shared'/></memoryBacking><vcpu>1</vcpu>", devices: "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='/export'/><target dir='tag'/></filesystem>" }],
    ['255 vCPUs on q35', { ...q35, head: "<memory unit='MiB'>512</memory><vcpu>255</vcpu>" }],
    ['memory hotplug within bounds', { head: hotplug, mid: numa, devices: dimm() }],
  ];
  for (const [name, opts] of ok) it(name, () => assert.doesNotThrow(() => define(opts)));
});
