/**
 * libvirt's generic parse-time, post-parse and validation rejections (the
 * rules of device-info.ts, device-parse.ts, numa.ts, cputune.ts,
 * domain-parse.ts, postparse-checks.ts, validate-devices.ts and
 * validate-domain.ts): one small domain per rule, with libvirt's code,
 * message and the path of the node at fault.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDomainXML } from '../../parse.ts';
import { fixedRandom as random, rejects as rejectsWith } from '../../testing.ts';


interface Parts {
  devices?: string;
  /** Elements after <os>. */
  extra?: string;
  /** Children of <os> after <type>. */
  os?: string;
  /** Replaces the <memory> line. */
  memory?: string;
  head?: string;
  ostype?: string;
}

function domain(p: Parts = {}): string {
  return `${p.head ?? "<domain type='kvm'>"}
  <name>vm1</name>
  ${p.memory ?? "<memory unit='MiB'>512</memory>"}
  <os><type arch='x86_64' machine='pc'>${p.ostype ?? 'hvm'}</type>${p.os ?? ''}</os>${p.extra ?? ''}
  <devices>${p.devices ?? ''}</devices>
</domain>`;
}

const disk = (inner: string, attrs = "type='file' device='disk'") => `<disk ${attrs}>${inner}</disk>`;
const fileDisk = (inner = '', target = "<target dev='vda' bus='virtio'/>") => disk(`<source file='/var/lib/a.img'/>${target}${inner}`);
const net = (inner: string, type = 'user') => `<interface type='${type}'>${inner}</interface>`;

type Case = readonly [name: string, xml: string, code: string, message: string, path: string];

function rejects(xml: string, code: string, message: string, path: string) {
  rejectsWith(() => parseDomainXML(xml, { random }), code, message, path);
}

function table(title: string, cases: readonly Case[]) {
  describe(title, () => {
    for (const [name, xml, code, message, path] of cases) it(name, () => rejects(xml, code, message, path));
  });
}

const ifc = '/domain/devices/interface[1]';
const d1 = '/domain/devices/disk[1]';

table('device info (virDomainDeviceInfoParseXML)', [
  ['rejects a PCI bus above 0xFF', domain({ devices: net("<address type='pci' domain='0' bus='0x100' slot='1' function='0'/>") }), 'XML_ERROR', "XML error: Invalid PCI address bus='0x100', must be <= 0xFF", `${ifc}/address/@bus`],
  ['rejects a PCI slot above 0x1F', domain({ devices: net("<address type='pci' bus='0' slot='0x20' function='0'/>") }), 'XML_ERROR', "XML error: Invalid PCI address slot='0x20', must be <= 0x1F", `${ifc}/address/@slot`],
  ['rejects a PCI function above 7', domain({ devices: net("<address type='pci' bus='1' slot='2' function='8'/>") }), 'XML_ERROR', 'XML error: Invalid PCI address function=0x8, must be <= 7', `${ifc}/address/@function`],
  ['rejects an address without type', domain({ devices: net("<address bus='1'/>") }), 'INTERNAL_ERROR', 'internal error: No type specified for device address', `${ifc}/address/@type`],
  ["rejects address type 'none'", domain({ devices: net("<address type='none'/>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: unknown address type 'none'", `${ifc}/address/@type`],
  ['rejects a USB port path deeper than 4', domain({ devices: net("<address type='usb' bus='0' port='1.2.3.4.5'/>") }), 'INTERNAL_ERROR', "internal error: Cannot parse <address> 'port' attribute", `${ifc}/address/@port`],
  ['rejects a negative drive controller', domain({ devices: fileDisk("<address type='drive' controller='-1'/>") }), 'XML_ERROR', "XML error: Invalid value for attribute 'controller' in element 'address': '-1'. Expected non-negative integer value", `${d1}/address/@controller`],
  ['rejects a partial ccw address', domain({ devices: net("<address type='ccw' cssid='0xfe'/>") }), 'INTERNAL_ERROR', 'internal error: Invalid partial specification for virtio ccw address', `${ifc}/address`],
  ['rejects a ccw address out of range', domain({ devices: net("<address type='ccw' cssid='0xff' ssid='0' devno='1'/>") }), 'INTERNAL_ERROR', "internal error: Invalid specification for virtio ccw address: cssid='0xff' ssid='0x0' devno='0x0001'", `${ifc}/address`],
  ['rejects a virtio-s390 address', domain({ devices: net("<address type='virtio-s390'/>") }), 'XML_ERROR', "XML error: virtio-s390 bus doesn't have an address", `${ifc}/address/@type`],
  ['rejects boot order 0', domain({ devices: fileDisk("<boot order='0'/>") }), 'XML_ERROR', "XML error: Invalid value for attribute 'order' in element 'boot': Zero is not permitted", `${d1}/boot/@order`],
  ['rejects a loadparm longer than 8', domain({ devices: fileDisk("<boot order='1' loadparm='abcdefghi'/>") }), 'INTERNAL_ERROR', "internal error: loadparm value 'ABCDEFGHI' must be between 1 and 8 characters", `${d1}/boot/@loadparm`],
  ['rejects a loadparm with other characters', domain({ devices: fileDisk("<boot order='1' loadparm='a-b'/>") }), 'INTERNAL_ERROR', "internal error: invalid loadparm value 'A-B', expecting chars in set of [a-zA-Z0-9.] and blank spaces", `${d1}/boot/@loadparm`],
  ['rejects ROM tuning of a disabled ROM', domain({ devices: net("<rom enabled='no' bar='on'/>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: ROM tuning is not supported when ROM is disabled', `${ifc}/rom`],
  ['rejects ACPI index 0', domain({ devices: net("<acpi index='0'/>") }), 'XML_ERROR', "XML error: Invalid value for attribute 'index' in element 'acpi': Zero is not permitted", `${ifc}/acpi/@index`],
]);

const usbNone = "<controller type='usb' model='none'/>";
const hostdevUsb = "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>";

table('device parsing (virDomainDefParseXML)', [
  ['rejects <auth> in both <disk> and <source>', domain({ devices: disk("<auth username='u'><secret type='iscsi' usage='x'/></auth><source protocol='iscsi' name='t/1'><host name='h'/><auth username='u'><secret type='iscsi' usage='x'/></auth></source><target dev='vda'/>", "type='network'") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: an <auth> definition already found for disk source', `${d1}/auth`],
  ['rejects <encryption> in both <disk> and <source>', domain({ devices: disk("<source file='/a'><encryption format='luks'/></source><target dev='vda'/><encryption format='luks'/>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: an <encryption> definition already found for disk source', `${d1}/encryption`],
  ['rejects a negative controller index', domain({ devices: "<controller type='pci' index='-1' model='pci-bridge'/>" }), 'XML_ERROR', "XML error: Invalid value for attribute 'index' in element 'controller': '-1'. Expected non-negative value", '/domain/devices/controller[1]/@index'],
  ['rejects an unknown controller type', domain({ devices: "<controller type='floppy'/>" }), 'XML_ERROR', "XML error: Invalid value for attribute 'type' in element 'controller': 'floppy'.", '/domain/devices/controller[1]/@type'],
  ['rejects two <model>s in a controller', domain({ devices: "<controller type='pci' index='1' model='pci-bridge'><model name='pci-bridge'/><model name='pci-bridge'/></controller>" }), 'XML_ERROR', 'XML error: Multiple <model> elements in controller definition not allowed', '/domain/devices/controller[1]/model[2]'],
  ['rejects a bad controller NUMA node', domain({ devices: "<controller type='pci' index='1' model='pci-expander-bus'><target><node>x</node></target></controller>" }), 'XML_ERROR', 'XML error: invalid NUMA node in target', '/domain/devices/controller[1]/target/node'],
  ['rejects a USB controller beside model none', domain({ devices: `${usbNone}<controller type='usb' index='1'/>` }), 'XML_DETAIL', "Can't add another USB controller: USB is disabled for this domain", '/domain/devices/controller[2]'],
  ['rejects USB companions without a master', domain({ devices: "<controller type='usb' model='ich9-uhci1'/>" }), 'XML_DETAIL', 'No master USB controller specified', '/domain/devices'],
  ['rejects a negative virtio-net queue count', domain({ devices: net("<model type='virtio'/><driver queues='-5'/>") }), 'XML_ERROR', "XML error: Invalid value for attribute 'queues' in element 'driver': '-5'. Expected non-negative integer value", `${ifc}/driver/@queues`],
  ['rejects an interface backend type (Debian disables passt)', domain({ devices: net("<backend type='passt'/>") }), 'XML_ERROR', "XML error: Invalid value for attribute 'type' in element 'backend': 'passt'.", `${ifc}/backend/@type`],
  ['rejects a USB input when USB is disabled', domain({ devices: `${usbNone}<input type='tablet'/>` }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Can't add USB input device. USB bus is disabled", '/domain/devices/input[1]'],
  ['rejects a USB hub when USB is disabled', domain({ devices: `${usbNone}<hub type='usb'/>` }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Can't add USB hub: USB is disabled for this domain", '/domain/devices/hub[1]'],
  ['rejects a USB hostdev when USB is disabled', domain({ devices: `${usbNone}${hostdevUsb}` }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Can't add host USB device: USB is disabled in this host", '/domain/devices/hostdev[1]'],
  ['rejects a hostdev without a type', domain({ devices: "<hostdev mode='subsystem'><source/></hostdev>" }), 'XML_ERROR', 'XML error: missing source address type', '/domain/devices/hostdev[1]/@type'],
  ['rejects a hostdev without <source>', domain({ devices: "<hostdev mode='subsystem' type='pci'/>" }), 'XML_ERROR', 'XML error: Missing <source> element in hostdev device', '/domain/devices/hostdev[1]/source'],
  ['rejects sgio on a PCI hostdev', domain({ devices: "<hostdev mode='subsystem' type='pci' sgio='filtered'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>" }), 'XML_ERROR', 'XML error: sgio is only supported for scsi host device', '/domain/devices/hostdev[1]/@sgio'],
  ['rejects a mediated device without uuid', domain({ devices: "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address/></source></hostdev>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Missing 'uuid' attribute for element <address>", '/domain/devices/hostdev[1]/source/address'],
  ['rejects a USB vendor without product', domain({ devices: "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/></source></hostdev>" }), 'INTERNAL_ERROR', 'internal error: missing product', '/domain/devices/hostdev[1]/source/product'],
  ['rejects an input without type', domain({ devices: "<input bus='ps2'/>" }), 'INTERNAL_ERROR', 'internal error: missing input device type', '/domain/devices/input[1]/@type'],
  ["rejects input model 'default'", domain({ devices: "<input type='tablet' model='default'/>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: unknown input model 'default'", '/domain/devices/input[1]/@model'],
  ['rejects a PCI address on a USB input', domain({ devices: "<input type='tablet' bus='usb'><address type='pci' bus='0' slot='4' function='0'/></input>" }), 'XML_ERROR', 'XML error: Invalid address for a USB device', '/domain/devices/input[1]/address/@type'],
  ['rejects a passthrough input without evdev path', domain({ devices: "<input type='passthrough' bus='virtio'><source/></input>" }), 'XML_ERROR', 'XML error: Missing evdev path for input device', '/domain/devices/input[1]/source'],
  ['rejects a TPM without backend', domain({ devices: "<tpm model='tpm-tis'/>" }), 'XML_ERROR', 'XML error: missing TPM device backend', '/domain/devices/tpm[1]/backend'],
  ['rejects an external TPM without source type', domain({ devices: "<tpm model='tpm-tis'><backend type='external'><source path='/s'/></backend></tpm>" }), 'XML_ERROR', 'XML error: missing external TPM backend type', '/domain/devices/tpm[1]/backend/source'],
  ['rejects a TPM with two backends', domain({ devices: "<tpm model='tpm-tis'><backend type='emulator'/><backend type='emulator'/></tpm>" }), 'XML_ERROR', 'XML error: only one TPM backend is supported', '/domain/devices/tpm[1]/backend[2]'],
  ['rejects shmem <msi> without a server', domain({ devices: "<shmem name='s'><model type='ivshmem-doorbell'/><msi vectors='4'/></shmem>" }), 'XML_ERROR', 'XML error: msi option is only supported with a server', '/domain/devices/shmem[1]/msi'],
]);

const numa = (cells: string) => `<cpu><numa>${cells}</numa></cpu>`;
const vcpu = (n: number, attrs = '') => `<vcpu${attrs}>${n}</vcpu>`;

table('guest NUMA and numatune (numa_conf.c)', [
  ['rejects <numa> without cells', domain({ extra: '<cpu><numa/></cpu>' }), 'XML_ERROR', 'XML error: NUMA topology defined without NUMA cells', '/domain/cpu/numa'],
  ['rejects a cell id beyond the cell count', domain({ extra: vcpu(2) + numa("<cell id='1' cpus='0-1' memory='1024'/>") }), 'XML_ERROR', "XML error: Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not starting from 0 are not allowed", '/domain/cpu/numa/cell[1]/@id'],
  ['rejects a repeated cell id', domain({ extra: vcpu(2) + numa("<cell id='0' cpus='0' memory='1024'/><cell id='0' cpus='1' memory='1024'/>") }), 'XML_ERROR', "XML error: Duplicate NUMA cell info for cell id '0'", '/domain/cpu/numa/cell[2]/@id'],
  ['rejects overlapping cell cpus', domain({ extra: vcpu(4) + numa("<cell cpus='0-1' memory='1024'/><cell cpus='1-2' memory='1024'/>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: NUMA cells 1 and 0 have overlapping vCPU ids', '/domain/cpu/numa/cell[2]/@cpus'],
  ['rejects a cell without memory', domain({ extra: vcpu(2) + numa("<cell cpus='0-1'/>") }), 'XML_ERROR', "XML error: missing element or attribute './@memory'", '/domain/cpu/numa/cell[1]/@memory'],
  ['rejects an unknown memAccess', domain({ extra: vcpu(2) + numa("<cell cpus='0-1' memory='1024' memAccess='invalid'/>") }), 'XML_ERROR', "XML error: Invalid value for attribute 'memAccess' in element 'cell': 'invalid'.", '/domain/cpu/numa/cell[1]/@memAccess'],
  ['rejects more cell cpus than vCPUs', domain({ extra: vcpu(1) + numa("<cell cpus='0-1' memory='1024'/>") }), 'INTERNAL_ERROR', 'internal error: Number of CPUs in <numa> exceeds the <vcpu> count', '/domain/cpu/numa'],
  ['rejects cell cpu ids beyond the vCPUs', domain({ extra: vcpu(2) + numa("<cell cpus='3' memory='1024'/>") }), 'INTERNAL_ERROR', 'internal error: CPU IDs in <numa> exceed the <vcpu> count', '/domain/cpu/numa'],
  ['rejects an unknown numatune mode', domain({ extra: "<numatune><memory mode='loose' nodeset='0'/></numatune>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Unsupported NUMA memory tuning mode 'loose'", '/domain/numatune/memory/@mode'],
  ['rejects static placement without nodeset', domain({ extra: vcpu(2, " placement='auto'") + "<numatune><memory mode='interleave' placement='static'/></numatune>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: nodeset for NUMA memory tuning must be set if 'placement' is 'static'", '/domain/numatune/memory'],
  ['rejects an empty nodeset', domain({ extra: "<numatune><memory mode='strict' nodeset='0,^0'/></numatune>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Invalid value of 'nodeset': 0,^0", '/domain/numatune/memory/@nodeset'],
  ['rejects memnodes with automatic placement', domain({ extra: vcpu(2) + numa("<cell cpus='0-1' memory='1024'/>") + "<numatune><memory placement='auto'/><memnode cellid='0' nodeset='0'/></numatune>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: Per-node binding is not compatible with automatic NUMA placement.', '/domain/numatune/memnode[1]'],
  ['rejects a memnode without guest NUMA', domain({ extra: "<numatune><memory nodeset='0'/><memnode cellid='0' nodeset='0'/></numatune>" }), 'XML_ERROR', "XML error: Element 'memnode' is invalid without any guest NUMA cells", '/domain/numatune/memnode[1]'],
  ['rejects a memnode of a missing cell', domain({ extra: vcpu(2) + numa("<cell cpus='0-1' memory='1024'/>") + "<numatune><memnode cellid='1' nodeset='0'/></numatune>" }), 'XML_ERROR', "XML error: Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell", '/domain/numatune/memnode[1]/@cellid'],
  ['rejects a non-restrictive memnode under a restrictive memory', domain({ extra: vcpu(2) + numa("<cell cpus='0-1' memory='1024'/>") + "<numatune><memory mode='restrictive' nodeset='0'/><memnode cellid='0' mode='strict' nodeset='0'/></numatune>" }), 'XML_ERROR', "XML error: 'restrictive' mode is required in memnode element when mode is 'restrictive' in memory element", '/domain/numatune/memnode[1]/@mode'],
]);

const cputune = (inner: string, head = vcpu(2)) => `${head}<cputune>${inner}</cputune>`;

table('iothreads and cputune (virDomainDefTunablesParse)', [
  ['rejects a non-numeric iothread count', domain({ extra: '<iothreads>two</iothreads>' }), 'XML_ERROR', "XML error: invalid iothreads count 'two'", '/domain/iothreads'],
  ['rejects a repeated iothread id', domain({ extra: "<iothreadids><iothread id='1'/><iothread id='1'/></iothreadids>" }), 'XML_ERROR', "XML error: duplicate iothread id '1' found", '/domain/iothreadids/iothread[2]/@id'],
  ['rejects a pin of a missing iothread', domain({ extra: '<iothreads>1</iothreads>' + cputune("<iothreadpin iothread='2' cpuset='0'/>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Cannot find 'iothread' : 2", '/domain/cputune/iothreadpin[1]/@iothread'],
  ['rejects a scheduler of a missing iothread', domain({ extra: '<iothreads>1</iothreads>' + cputune("<iothreadsched iothreads='2' scheduler='batch'/>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Cannot find 'iothread' : 2", '/domain/cputune/iothreadsched[1]/@iothreads'],
  ['rejects overlapping vCPU schedulers', domain({ extra: cputune("<vcpusched vcpus='0-1' scheduler='fifo' priority='1'/><vcpusched vcpus='1' scheduler='batch'/>") }), 'XML_DETAIL', "'vcpusched' attributes 'vcpus' must not overlap", '/domain/cputune/vcpusched[2]/@vcpus'],
  ['rejects a scheduler of a missing vCPU', domain({ extra: cputune("<vcpusched vcpus='5' scheduler='batch'/>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: vCPU '5' is not present in domain definition", '/domain/cputune/vcpusched[1]/@vcpus'],
  ['rejects a fifo scheduler without priority', domain({ extra: cputune("<vcpusched vcpus='0' scheduler='fifo'/>") }), 'XML_ERROR', "XML error: Missing required attribute 'priority' in element 'vcpusched'", '/domain/cputune/vcpusched[1]/@priority'],
  ['rejects a repeated vcpupin', domain({ extra: cputune("<vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='0' cpuset='1'/>") }), 'INTERNAL_ERROR', "internal error: duplicate vcpupin for vcpu '0'", '/domain/cputune/vcpupin[2]'],
  ['rejects two emulatorpins', domain({ extra: cputune("<emulatorpin cpuset='0'/><emulatorpin cpuset='1'/>") }), 'XML_ERROR', 'XML error: only one emulatorpin is supported', '/domain/cputune/emulatorpin[2]'],
  ['rejects cachetunes of the same vCPUs', domain({ extra: cputune("<cachetune vcpus='0'><cache id='0' level='3' type='code' size='12' unit='KiB'/></cachetune><cachetune vcpus='0'><cache id='0' level='3' type='data' size='12' unit='KiB'/></cachetune>", vcpu(4)) }), 'XML_ERROR', 'XML error: Identical vcpus in cachetunes found', '/domain/cputune/cachetune[2]/@vcpus'],
  ['rejects a cache size that is not a number (fuzz: a crash before)', domain({ extra: cputune("<cachetune vcpus='0'><cache id='0' level='3' type='both' size='watchdog0' unit='KiB'/></cachetune>", vcpu(4)) }), 'XML_ERROR', "XML error: Invalid value 'watchdog0' for element or attribute './@size'", '/domain/cputune/cachetune[1]/cache[1]/@size'],
  ['rejects a cache without a size', domain({ extra: cputune("<cachetune vcpus='0'><cache id='0' level='3' type='both'/></cachetune>", vcpu(4)) }), 'XML_ERROR', "XML error: missing element or attribute './@size'", '/domain/cputune/cachetune[1]/cache[1]/@size'],
  ['rejects an unknown cache size unit', domain({ extra: cputune("<cachetune vcpus='0'><cache id='0' level='3' type='both' size='3' unit='XB'/></cachetune>", vcpu(4)) }), 'INVALID_ARG', "invalid argument: unknown suffix 'XB'", '/domain/cputune/cachetune[1]/cache[1]/@unit'],
  ['rejects colliding cache allocations', domain({ extra: cputune("<cachetune vcpus='0'><cache id='0' level='3' type='both' size='12' unit='KiB'/><cache id='0' level='3' type='data' size='6' unit='KiB'/></cachetune>", vcpu(4)) }), 'XML_ERROR', "XML error: Colliding cache allocations for cache level '3' id '0', type 'data'", '/domain/cputune/cachetune[1]/cache[2]'],
  ['rejects overlapping resctrl groups', domain({ extra: cputune("<cachetune vcpus='0-1'><cache id='0' level='3' type='code' size='12' unit='KiB'/></cachetune><memorytune vcpus='1'><node id='0' bandwidth='50'/></memorytune>", vcpu(4)) }), 'XML_ERROR', 'XML error: Overlapping vcpus in resctrls', '/domain/cputune/memorytune[1]/@vcpus'],
  ['rejects a monitor outside its allocation', domain({ extra: cputune("<cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='768' unit='KiB'/><monitor level='3' vcpus='2'/></cachetune>", vcpu(4)) }), 'INVALID_ARG', 'invalid argument: Monitor vcpus conflicts with allocation', '/domain/cputune/cachetune[1]/monitor[1]/@vcpus'],
  ['rejects a node bandwidth given twice', domain({ extra: cputune("<memorytune vcpus='0'><node id='0' bandwidth='50'/><node id='0' bandwidth='40'/></memorytune>", vcpu(4)) }), 'XML_ERROR', 'XML error: Memory Bandwidth already defined for node 0', '/domain/cputune/memorytune[1]/node[2]'],
  ['rejects a bandwidth above 100', domain({ extra: cputune("<memorytune vcpus='0'><node id='0' bandwidth='101'/></memorytune>", vcpu(4)) }), 'XML_ERROR', 'XML error: Memory Bandwidth value exceeding 100 is invalid.', '/domain/cputune/memorytune[1]/node[1]/@bandwidth'],
]);

const uuid = '<uuid>362d1fc1-df7d-193e-5c18-49a71bd1da66</uuid>';

table('seclabels, features and sysinfo', [
  ['rejects two seclabels of one model', domain({ extra: "<seclabel type='dynamic' model='selinux'/><seclabel type='dynamic' model='selinux'/>" }), 'XML_DETAIL', 'seclabel for model selinux is already provided', '/domain/seclabel[2]/@model'],
  ['rejects a model-less label among several', domain({ extra: "<seclabel type='none'/><seclabel type='dynamic' model='dac'/>" }), 'XML_ERROR', 'XML error: missing security model when using multiple labels', '/domain/seclabel[1]'],
  ['rejects a dynamic label without relabeling', domain({ extra: "<seclabel type='dynamic' model='selinux' relabel='no'/>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: dynamic label type must use resource relabeling', '/domain/seclabel[1]/@relabel'],
  ['rejects a static label without <label>', domain({ extra: "<seclabel type='static' model='selinux'/>" }), 'XML_ERROR', 'XML error: security label is missing', '/domain/seclabel[1]/label'],
  ["rejects gic version 'none'", domain({ extra: "<features><gic version='none'/></features>" }), 'XML_ERROR', "XML error: Invalid value for attribute 'version' in element 'gic': 'none'.", '/domain/features/gic/@version'],
  ['rejects a malformed BIOS date', domain({ extra: "<sysinfo type='smbios'><bios><entry name='date'>13/01/2020</entry></bios></sysinfo>" }), 'XML_DETAIL', "Invalid BIOS 'date' format", '/domain/sysinfo[1]/bios'],
  ['rejects a sysinfo UUID unlike the domain UUID', domain({ head: `<domain type='kvm'>${uuid}`, extra: "<sysinfo type='smbios'><system><entry name='uuid'>a94b4335-6a14-8bc4-d6da-f7ea590b6816</entry></system></sysinfo>" }), 'XML_DETAIL', 'UUID mismatch between <uuid> and <sysinfo>', '/domain/sysinfo[1]/system'],
  ['rejects a malformed sysinfo UUID', domain({ extra: "<sysinfo type='smbios'><system><entry name='uuid'>not-a-uuid</entry></system></sysinfo>" }), 'XML_DETAIL', 'malformed <sysinfo> uuid element', '/domain/sysinfo[1]/system'],
]);

const hostdevScsi = (addr: string) => `<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source>${addr}</hostdev>`;
const drive0 = "<address type='drive' controller='0' bus='0' target='0' unit='0'/>";

table('post-parse (domain_postparse.c)', [
  ['rejects a disk name that gives no address', domain({ devices: fileDisk('', "<target dev='disk0' bus='virtio'/>") }), 'XML_ERROR', "XML error: Unknown disk name 'disk0' and no address specified", `${d1}/target/@dev`],
  ['rejects a SCSI disk on a SCSI hostdev address', domain({ devices: fileDisk('', "<target dev='sda' bus='scsi'/>") + hostdevScsi(drive0) }), 'CONFIG_UNSUPPORTED', "unsupported configuration: using disk target name 'sda' conflicts with SCSI host device address controller='0' bus='0' target='0' unit='0", `${d1}/target/@dev`],
  ['rejects FD passing (the test driver lacks it)', domain({ devices: disk("<source file='/a' fdgroup='g'/><target dev='vda'/>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: driver does not support FD passing for disk 'vda'", `${d1}/source/@fdgroup`],
  ['rejects a SCSI hostdev on a SCSI disk address', domain({ devices: disk(`<source file='/a'/><target dev='sdb' bus='scsi'/>${drive0}`) + hostdevScsi(drive0) }), 'XML_ERROR', "XML error: SCSI host address controller='0' bus='0' target='0' unit='0' in use by a SCSI disk", '/domain/devices/hostdev[1]/address'],
  ['rejects a vfio-pci mediated device on a drive address', domain({ devices: `<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source>${drive0}</hostdev>` }), 'XML_ERROR', "XML error: Unsupported address type 'drive' with mediated device model 'vfio-pci'", '/domain/devices/hostdev[1]/address/@type'],
  ['rejects a domain without memory', domain({ memory: '' }), 'XML_ERROR', 'XML error: Memory size must be specified via <memory> or in the <numa> configuration', '/domain/memory'],
  ['rejects memory devices larger than the memory', domain({ memory: "<maxMemory slots='2' unit='GiB'>4</maxMemory><memory unit='MiB'>512</memory>", devices: "<memory model='dimm'><target><size unit='GiB'>1</size></target></memory>" }), 'XML_ERROR', 'XML error: Total size of memory devices exceeds the total memory size', '/domain/memory'],
  ['rejects maxMemory without slots', domain({ memory: "<maxMemory unit='GiB'>4</maxMemory><memory unit='MiB'>512</memory>" }), 'XML_ERROR', 'XML error: both maximum memory size and memory slot count must be specified', '/domain/maxMemory'],
  ['rejects maxMemory below the memory', domain({ memory: "<maxMemory slots='2' unit='MiB'>256</maxMemory><memory unit='MiB'>512</memory>" }), 'XML_ERROR', 'XML error: maximum memory size must be equal or greater than the actual memory size', '/domain/maxMemory'],
  ['rejects enrolled keys without secure boot', domain({ head: "<domain type='kvm'>", os: "<firmware><feature enabled='yes' name='enrolled-keys'/><feature enabled='no' name='secure-boot'/></firmware>" }).replace('<os>', "<os firmware='efi'>"), 'XML_DETAIL', "firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled", '/domain/os/firmware'],
  ['rejects a CPU check without a model', domain({ extra: "<cpu mode='custom' check='full'/>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: check attribute specified for CPU with no model', '/domain/cpu/@check'],
]);

table('device validation: disks (virDomainDiskDefValidate)', [
  ['rejects an unassigned address on a disk', domain({ devices: fileDisk("<address type='unassigned'/>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: address of type 'unassigned' is supported only for hostdevs", `${d1}/address/@type`],
  ['rejects a disk without target', domain({ devices: disk("<source dev='/dev/sdx'/>", "type='block' device='disk'") }), 'NO_TARGET', 'missing target information for device /dev/sdx', `${d1}/target`],
  ['rejects a volume disk without target', domain({ devices: disk("<source pool='p' volume='v'/>", "type='volume' device='disk'") }), 'NO_TARGET', "missing target information for device pool = 'p', volume = 'v'", `${d1}/target`],
  ['rejects authentication for nbd', domain({ devices: disk("<source protocol='nbd' name='n'><host name='h'/><auth username='u'><secret type='ceph' usage='x'/></auth></source><target dev='vda'/>", "type='network'") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: authentication is not supported for protocol 'nbd'", `${d1}/auth`],
  ['rejects an auth secret without type', domain({ devices: disk("<auth username='u'><secret usage='x'/></auth><source protocol='iscsi' name='t/1'><host name='h'/></source><target dev='vda'/>", "type='network'") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: unknown secret type '<null>'", `${d1}/auth/secret`],
  ['rejects a ceph secret for iscsi', domain({ devices: disk("<auth username='u'><secret type='ceph' usage='x'/></auth><source protocol='iscsi' name='t/1'><host name='h'/></source><target dev='vda'/>", "type='network'") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: invalid secret type 'ceph'", `${d1}/auth/secret/@type`],
  ['rejects a LUKS cipher', domain({ devices: fileDisk("<encryption format='luks'><cipher name='aes' size='256'/></encryption>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: supplying <cipher> for domain disk definition is unnecessary', `${d1}/encryption/cipher`],
  ['rejects unfiltered sgio', domain({ devices: disk("<source dev='/dev/sdx'/><target dev='sda' bus='scsi'/>", "type='block' device='lun' sgio='unfiltered'") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: unfiltered sgio is no longer supported', `${d1}/@sgio`],
  ['rejects a lun on a file', domain({ devices: disk("<source file='/a'/><target dev='sda' bus='scsi'/>", "type='file' device='lun'") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: disk device='lun' is only valid for block type disk source", `${d1}/@type`],
  ['rejects a lun over nbd', domain({ devices: disk("<source protocol='nbd' name='n'><host name='h'/></source><target dev='sda' bus='scsi'/>", "type='network' device='lun'") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: disk device='lun' is not supported for protocol='nbd'", `${d1}/source/@protocol`],
  ['rejects a qcow2 lun', domain({ devices: disk("<driver name='qemu' type='qcow2'/><source dev='/dev/sdx'/><target dev='sda' bus='scsi'/>", "type='block' device='lun'") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: disk device 'lun' must use 'raw' format", `${d1}/driver/@type`],
  ['rejects rawio on a plain disk', domain({ devices: disk("<source file='/a'/><target dev='vda'/>", "type='file' device='disk' rawio='yes'") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: rawio can be used only with device='lun'", `${d1}/@rawio`],
  ['rejects total with read bytes_sec', domain({ devices: fileDisk('<iotune><total_bytes_sec>1</total_bytes_sec><read_bytes_sec>1</read_bytes_sec></iotune>') }), 'XML_ERROR', 'XML error: total and read/write bytes_sec cannot be set at the same time', `${d1}/iotune/total_bytes_sec`],
  ['rejects a PCI address on an IDE disk', domain({ devices: fileDisk("<address type='pci' bus='0' slot='5' function='0'/>", "<target dev='hda' bus='ide'/>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Invalid address type 'pci' for the disk 'hda' with the bus type 'ide'", `${d1}/address/@type`],
  ['rejects a virtio model off the virtio bus', domain({ devices: disk("<source file='/a'/><target dev='sda' bus='sata'/>", "type='file' device='disk' model='virtio'") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: disk model 'virtio' not supported for bus 'sata'", `${d1}/@model`],
  ['rejects queues off the virtio bus', domain({ devices: fileDisk("<driver name='qemu' queues='2'/>", "<target dev='sda' bus='sata'/>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: queues attribute in disk driver element is only supported by virtio-blk', `${d1}/driver/@queues`],
  ['rejects event_idx off the virtio bus', domain({ devices: fileDisk("<driver name='qemu' event_idx='on'/>", "<target dev='sda' bus='sata'/>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: disk event_idx mode supported only for virtio bus', `${d1}/driver/@event_idx`],
  ['rejects iommu off the virtio bus', domain({ devices: fileDisk("<driver name='qemu' iommu='on'/>", "<target dev='sda' bus='sata'/>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: iommu driver option is only supported for virtio devices', `${d1}/driver/@iommu`],
  ['rejects a tray on a disk', domain({ devices: fileDisk('', "<target dev='vda' bus='virtio' tray='open'/>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: tray is only valid for cdrom and floppy', `${d1}/target/@tray`],
  ['rejects a vendor longer than 8', domain({ devices: fileDisk('<vendor>VENDOR1234</vendor>', "<target dev='sda' bus='scsi'/>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: disk vendor is more than 8 characters', `${d1}/vendor`],
  ['rejects an unprintable product', domain({ devices: fileDisk('<product>a\tb</product>', "<target dev='sda' bus='scsi'/>") }), 'XML_ERROR', 'XML error: disk product is not printable string', `${d1}/product`],
  ['rejects a floppy on IDE', domain({ devices: disk("<source file='/a'/><target dev='fda' bus='ide'/>", "type='file' device='floppy'") }), 'INTERNAL_ERROR', "internal error: Invalid bus type 'ide' for floppy disk", `${d1}/target/@bus`],
  ['rejects a disk on the floppy controller', domain({ devices: fileDisk('', "<target dev='fda' bus='fdc'/>") }), 'INTERNAL_ERROR', "internal error: Invalid bus type 'fdc' for disk", `${d1}/target/@bus`],
  ['rejects removable off USB', domain({ devices: fileDisk('', "<target dev='sda' bus='scsi' removable='on'/>") }), 'XML_ERROR', 'XML error: removable is only valid for usb disks', `${d1}/target/@removable`],
  ['rejects a startupPolicy on a network disk', domain({ devices: disk("<source protocol='nbd' name='n' startupPolicy='optional'><host name='h'/></source><target dev='vda'/>", "type='network' device='cdrom'") }), 'XML_ERROR', "XML error: disk startupPolicy 'optional' is not allowed for disk of 'network' type", `${d1}/source/@startupPolicy`],
  ["rejects startupPolicy 'requisite' on a disk", domain({ devices: disk("<source file='/a' startupPolicy='requisite'/><target dev='vda'/>") }), 'XML_ERROR', "XML error: disk startupPolicy 'requisite' is allowed only for cdrom or floppy", `${d1}/source/@startupPolicy`],
  ['rejects a malformed wwn', domain({ devices: fileDisk('<wwn>0x12345</wwn>', "<target dev='sda' bus='scsi'/>") }), 'INTERNAL_ERROR', 'internal error: Malformed wwn: 0x12345', `${d1}/wwn`],
  ['rejects a hard disk named like a floppy', domain({ devices: fileDisk('', "<target dev='fda' bus='virtio'/>") }), 'INTERNAL_ERROR', 'internal error: Invalid harddisk device name: fda', `${d1}/target/@dev`],
  ['rejects a floppy named like a hard disk', domain({ devices: disk("<source file='/a'/><target dev='hda' bus='fdc'/>", "type='file' device='floppy'") }), 'INTERNAL_ERROR', 'internal error: Invalid floppy device name: hda', `${d1}/target/@dev`],
  ['rejects a disk without source', domain({ devices: disk("<target dev='vda' bus='virtio'/>") }), 'NO_SOURCE', 'missing source information for device vda', `${d1}/source`],
  ['rejects a label override without domain relabeling', domain({ devices: disk("<source file='/a'><seclabel model='dac' relabel='no'/></source><target dev='vda'/>"), extra: "<seclabel type='static' model='dac' relabel='no'><label>1:1</label></seclabel>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: label overrides require relabeling to be enabled at the domain level', `${d1}/source/seclabel[1]`],
]);

const c1 = '/domain/devices/controller[1]';
const memdev = (attrs: string, inner: string) => `<memory ${attrs}>${inner}</memory>`;
const nodes2 = vcpu(2) + numa("<cell cpus='0-1' memory='524288'/>");

table('device validation: other devices', [
  ['rejects host-side IPs off ethernet', domain({ devices: net("<source network='default'><ip address='192.168.1.1' prefix='24'/></source>", 'network') }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Invalid attempt to set network interface host-side IP route and/or address info on interface of type 'network'. This is only supported on interfaces of type 'ethernet'", `${ifc}/source`],
  ['rejects an unmanaged target off ethernet', domain({ devices: net("<source bridge='br0'/><target dev='t0' managed='no'/>", 'bridge') }), 'CONFIG_UNSUPPORTED', "unsupported configuration: unmanaged target dev is not supported on interfaces of type 'bridge'", `${ifc}/target/@managed`],
  ['rejects transient teaming without persistent', domain({ devices: net("<source bridge='br0'/><teaming type='transient'/>", 'bridge') }), 'CONFIG_UNSUPPORTED', "unsupported configuration: teaming persistent attribute must be set if teaming type is 'transient'", `${ifc}/teaming`],
  ['rejects port isolation on a user interface', domain({ devices: net("<mac address='52:54:00:00:00:01'/><port isolated='yes'/>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: interface 52:54:00:00:00:01 - <port isolated='yes'/> is not supported for network interfaces with type='user'", `${ifc}/port`],
  ['rejects virtio options on an e1000', domain({ devices: net("<model type='e1000'/><driver iommu='on'/>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: iommu driver option is only supported for virtio devices', `${ifc}/driver/@iommu`],
  ['rejects vhost-user without virtio', domain({ devices: net("<source type='unix' path='/s' mode='client'/><model type='e1000'/>", 'vhostuser') }), 'INTERNAL_ERROR', "internal error: Wrong or no <model> 'type' attribute specified with <interface type='vhostuser'/>. vhostuser requires the virtio-net* frontend", `${ifc}/model`],
  ['rejects a PCI hostdev on a drive address', domain({ devices: `<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source>${drive0}</hostdev>` }), 'INTERNAL_ERROR', "internal error: PCI host devices must use 'pci' or 'unassigned' address type", '/domain/devices/hostdev[1]/address/@type'],
  ['rejects a SCSI hostdev on a PCI address', domain({ devices: hostdevScsi("<address type='pci' bus='0' slot='5' function='0'/>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: SCSI host device must use 'drive' address type", '/domain/devices/hostdev[1]/address/@type'],
  ['rejects hostdev teaming that is not transient', domain({ devices: "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source><teaming type='persistent'/></hostdev>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: teaming hostdev devices must have type='transient'", '/domain/devices/hostdev[1]/teaming'],
  ['rejects an address on pci-root', domain({ devices: "<controller type='pci' index='0' model='pci-root'><address type='pci' bus='0' slot='1' function='0'/></controller>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: pci-root and pcie-root controllers should not have an address', `${c1}/address`],
  ['rejects a PCI target index above 30', domain({ devices: "<controller type='pci' index='1' model='pci-expander-bus'><target index='31'/></controller>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: PCI controller target index '31' out of range - must be 0-30", `${c1}/target/@index`],
  ['rejects target index 0 on another PCI controller', domain({ devices: "<controller type='pci' index='1' model='pci-expander-bus'><target index='0'/></controller>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: Only the PCI controller with index 0 can have target index 0, and vice versa', `${c1}/target/@index`],
  ['rejects chassisNr 0', domain({ devices: "<controller type='pci' index='1' model='pci-bridge'><target chassisNr='0'/></controller>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: PCI controller chassisNr '0' out of range - must be 1-255", `${c1}/target/@chassisNr`],
  ['rejects a NUMA node on PCI controller 0', domain({ devices: "<controller type='pci' index='0' model='pci-root'><target><node>0</node></target></controller>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: The PCI controller with index=0 can't be associated with a NUMA node", `${c1}/target/node`],
  ['rejects a smartcard off the CCID bus', domain({ devices: "<smartcard mode='host'><address type='usb' bus='0' port='1'/></smartcard>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Controllers must use the 'ccid' address type", '/domain/devices/smartcard[1]/address/@type'],
  ['rejects a tablet on PS/2', domain({ devices: "<input type='tablet' bus='ps2'/>" }), 'INTERNAL_ERROR', 'internal error: ps2 bus does not support tablet input device', '/domain/devices/input[1]'],
  ['rejects inputs of a container', domain({ ostype: 'exe', os: '<init>/bin/sh</init>', devices: "<input type='mouse' bus='ps2'/>" }), 'INTERNAL_ERROR', 'internal error: Input devices are not supported by this virtualization driver.', '/domain/devices/input[1]'],
  ['rejects a passthrough input on USB', domain({ devices: "<input type='passthrough' bus='usb'><source evdev='/dev/input/event1'/></input>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: only bus 'virtio' is supported for 'passthrough' input devices", '/domain/devices/input[1]'],
  ['rejects a virtio input model on USB', domain({ devices: "<input type='tablet' bus='usb' model='virtio'/>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: only bus 'virtio' is supported for input model 'virtio'", '/domain/devices/input[1]/@model'],
  ['rejects a filesystem without target', domain({ devices: "<filesystem type='mount'><source dir='/srv'/></filesystem>" }), 'NO_TARGET', 'missing target information for device /srv', '/domain/devices/filesystem[1]/target'],
  ['rejects a filesystem without source', domain({ devices: "<filesystem type='mount'><target dir='srv'/></filesystem>" }), 'NO_SOURCE', 'missing source information for device srv', '/domain/devices/filesystem[1]/source'],
  ['rejects boot order on a 9p filesystem', domain({ devices: "<filesystem type='mount'><source dir='/srv'/><target dir='srv'/><boot order='1'/></filesystem>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: boot order is only supported for virtiofs', '/domain/devices/filesystem[1]/boot'],
  ["rejects '/' in a shmem name", domain({ devices: "<shmem name='a/b'/>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: shmem name cannot include '/' character", '/domain/devices/shmem[1]/@name'],
  ['rejects a memory device node without guest NUMA', domain({ memory: "<maxMemory slots='2' unit='GiB'>4</maxMemory><memory unit='MiB'>512</memory>", devices: memdev("model='dimm'", "<target><size unit='MiB'>128</size><node>0</node></target>") }), 'XML_DETAIL', "can't add memory backend as guest has no NUMA nodes configured", '/domain/devices/memory[1]/target/node'],
  ['rejects a memory device on a missing node', domain({ memory: "<maxMemory slots='2' unit='GiB'>4</maxMemory><memory unit='MiB'>512</memory>", extra: nodes2, devices: memdev("model='dimm'", "<target><size unit='MiB'>128</size><node>1</node></target>") }), 'XML_DETAIL', "can't add memory backend for guest node '1' as the guest has only '1' NUMA nodes configured", '/domain/devices/memory[1]/target/node'],
  ['rejects an nvdimm without path', domain({ memory: "<maxMemory slots='2' unit='GiB'>4</maxMemory><memory unit='MiB'>512</memory>", devices: memdev("model='nvdimm'", "<target><size unit='MiB'>128</size></target>") }), 'XML_DETAIL', "path is required for model 'nvdimm'", '/domain/devices/memory[1]/source'],
  ['rejects private virtio-pmem', domain({ memory: "<maxMemory slots='2' unit='GiB'>4</maxMemory><memory unit='MiB'>512</memory>", devices: memdev("model='virtio-pmem' access='private'", "<source><path>/p</path></source><target><size unit='MiB'>128</size></target>") }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: shared access mode required for virtio-pmem device', '/domain/devices/memory[1]/@access'],
  ['rejects a virtio-mem block that is no power of two', domain({ memory: "<maxMemory slots='2' unit='GiB'>4</maxMemory><memory unit='MiB'>512</memory>", extra: nodes2, devices: memdev("model='virtio-mem'", "<target><size unit='MiB'>128</size><node>0</node><block unit='KiB'>3000</block><requested unit='KiB'>0</requested></target>") }), 'XML_DETAIL', 'block size must be a power of two', '/domain/devices/memory[1]/target/block'],
  ['rejects PCR banks of a TPM 1.2', domain({ devices: "<tpm model='tpm-tis'><backend type='emulator' version='1.2'><active_pcr_banks><sha256/></active_pcr_banks></backend></tpm>" }), 'XML_ERROR', "XML error: <active_pcr_banks/> requires TPM version '2.0'", '/domain/devices/tpm[1]/backend/active_pcr_banks'],
  ['rejects an external TPM off a unix socket', domain({ devices: "<tpm model='tpm-tis'><backend type='external'><source type='file' path='/t'/></backend></tpm>" }), 'XML_ERROR', "XML error: only source type 'unix' is supported for external TPM device", '/domain/devices/tpm[1]/backend/source'],
  ['rejects guest CID 2', domain({ devices: "<vsock model='virtio'><cid auto='no' address='2'/></vsock>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: guest CIDs must be >= 3', '/domain/devices/vsock/cid/@address'],
  ['rejects a USB redirdev without USB', domain({ devices: "<redirdev bus='usb' type='spicevmc'/>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: cannot add redirected USB device: USB is disabled for this domain', '/domain/devices/redirdev[1]'],
  ['rejects driver attributes of an smmuv3', domain({ devices: "<iommu model='smmuv3'><driver caching_mode='on'/></iommu>" }), 'XML_ERROR', "XML error: iommu model 'smmuv3' doesn't support additional attributes", '/domain/devices/iommu/driver'],
  ['rejects a repeated audio id', domain({ devices: "<audio id='1' type='none'/><audio id='1' type='none'/>" }), 'XML_ERROR', 'XML error: audio ID 1 is used multiple times', '/domain/devices/audio[2]/@id'],
  ['rejects a sound of a missing audio', domain({ devices: "<sound model='ich9'><audio id='2'/></sound><audio id='1' type='none'/>" }), 'XML_ERROR', 'XML error: no audio device with ID 2', '/domain/devices/sound[1]/audio/@id'],
]);

const pciHostdev = "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>";
const mdev = (uuidv: string) => `<hostdev mode='subsystem' type='mdev' model='vfio-pci' ramfb='on'><source><address uuid='${uuidv}'/></source></hostdev>`;
const loader = (attrs: string, path = '/usr/share/OVMF/OVMF_CODE.fd') => `<loader${attrs}>${path}</loader>`;
const withFirmware = (fw: string, os: string) => domain({ os }).replace('<os>', `<os firmware='${fw}'>`);

table('domain validation (virDomainDefValidateInternal)', [
  ['rejects a Fibre Channel appid over 128 characters', domain({ extra: `<resource><fibrechannel appid='${'a'.repeat(129)}'/></resource>` }), 'INVALID_ARG', "invalid argument: Fibre Channel 'appid' string length must be between [1, 128]", '/domain/resource/fibrechannel/@appid'],
  ['rejects the same PCI hostdev twice', domain({ devices: pciHostdev + pciHostdev.replace("'0x06'", "'6'") }), 'XML_ERROR', 'XML error: Hostdev already exists in the domain configuration', '/domain/devices/hostdev[1]'],
  ['rejects the same USB device twice', domain({ devices: hostdevUsb + hostdevUsb }), 'XML_ERROR', 'XML error: Hostdev already exists in the domain configuration', '/domain/devices/hostdev[1]'],
  ['rejects two ramfb vGPUs', domain({ devices: mdev('c2177883-f1bb-47f0-914d-32a22e3a8804') + mdev('53764d0e-85a0-42b4-af5c-2046b460b1dc') }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Only one vgpu device can have 'ramfb' enabled", '/domain/devices/hostdev[2]/@ramfb'],
  ['rejects two disks at one drive address', domain({ devices: disk(`<source file='/a'/><target dev='sda' bus='scsi'/>${drive0}`) + disk(`<source file='/b'/><target dev='sdb' bus='scsi'/>${drive0}`) }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Found duplicate drive address for disk with target name 'sda' controller='0' bus='0' target='0' unit='0'", `${d1}/address`],
  ['rejects two SCSI hostdevs at one address, with libvirt swapping controller and bus', domain({ devices: hostdevScsi("<address type='drive' controller='1' bus='0' target='0' unit='3'/>") + hostdevScsi("<address type='drive' controller='1' bus='0' target='0' unit='3'/>").replace("unit='0'/></source>", "unit='1'/></source>") }), 'CONFIG_UNSUPPORTED', "unsupported configuration: SCSI host address controller='0' bus='1' target='0' unit='3' in use by another SCSI host device", '/domain/devices/hostdev[1]/address'],
  ['rejects a CPU topology over UINT_MAX', domain({ extra: vcpu(2) + "<cpu><topology sockets='65536' dies='1' cores='65536' threads='2'/></cpu>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: cpu topology results in more than 4294967295 cpus', '/domain/cpu/topology'],
  ['rejects interrupt remapping without a split I/O APIC', domain({ devices: "<iommu model='intel'><driver intremap='on'/></iommu>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: IOMMU interrupt remapping requires split I/O APIC (ioapic driver='qemu')", '/domain/devices/iommu/driver/@intremap'],
  ['rejects eim without interrupt remapping', domain({ devices: "<iommu model='intel'><driver eim='on'/></iommu>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: IOMMU eim requires interrupt remapping to be enabled', '/domain/devices/iommu/driver/@eim'],
  ['rejects two default hugepage sizes', domain({ extra: "<memoryBacking><hugepages><page size='2048' unit='KiB'/><page size='1' unit='GiB'/></hugepages></memoryBacking>" }), 'XML_DETAIL', 'two master hugepages detected: 1048576 and 2048', '/domain/memoryBacking/hugepages/page[2]'],
  ['rejects intersecting hugepage nodesets', domain({ extra: vcpu(2) + numa("<cell cpus='0' memory='262144'/><cell cpus='1' memory='262144'/>") + "<memoryBacking><hugepages><page size='2048' nodeset='0-1'/><page size='1048576' nodeset='1'/></hugepages></memoryBacking>" }), 'XML_DETAIL', 'nodeset attribute of hugepages of sizes 1048576 and 2048 intersect', '/domain/memoryBacking/hugepages/page[2]/@nodeset'],
  ['rejects hugepages of a missing node', domain({ extra: "<memoryBacking><hugepages><page size='2048' nodeset='1'/></hugepages></memoryBacking>" }), 'XML_DETAIL', 'hugepages: node 1 not found', '/domain/memoryBacking/hugepages/page[1]/@nodeset'],
  ['rejects a read-only loader with firmware autoselection', withFirmware('efi', "<loader readonly='yes'/>"), 'XML_DETAIL', "loader attribute 'readonly' cannot be specified when firmware autoselection is enabled", '/domain/os/loader/@readonly'],
  ['rejects a loader path with firmware autoselection (post-parse gives it type rom)', withFirmware('efi', loader('')), 'XML_DETAIL', "loader attribute 'type' cannot be specified when firmware autoselection is enabled", '/domain/os/loader/@type'],
  ['rejects an NVRAM template with firmware autoselection', withFirmware('efi', "<nvram template='/t'/>"), 'XML_DETAIL', "nvram attribute 'template' cannot be specified when firmware autoselection is enabled", '/domain/os/nvram/@template'],
  ["rejects secure='no' with firmware autoselection", withFirmware('efi', "<loader secure='no'/>"), 'XML_DETAIL', "loader attribute 'secure' cannot be specified when firmware autoselection is enabled", '/domain/os/loader/@secure'],
  ['rejects NVRAM with BIOS firmware', withFirmware('bios', '<nvram>/var/lib/nvram.fd</nvram>'), 'XML_DETAIL', "firmware type 'bios' does not support nvram", '/domain/os/nvram'],
  ['rejects a loader without path when autoselection is off', domain({ os: "<loader type='pflash'/>" }), 'XML_DETAIL', 'no loader path specified and firmware auto selection disabled', '/domain/os/loader'],
  ['rejects NVRAM for a stateless loader', domain({ os: loader(" type='pflash' stateless='yes'") + '<nvram>/var/lib/nvram.fd</nvram>' }), 'XML_DETAIL', 'NVRAM is not permitted when loader is stateless', '/domain/os/nvram'],
  ['rejects an NVRAM template for a stateless loader', domain({ os: loader(" type='pflash' stateless='yes'") + "<nvram template='/t'/>" }), 'XML_DETAIL', 'NVRAM template is not permitted when loader is stateless', '/domain/os/nvram/@template'],
  ['rejects a stateful ROM loader', domain({ os: loader(" stateless='no'") }), 'XML_DETAIL', 'Only pflash loader type permits NVRAM', '/domain/os/loader/@stateless'],
  ['rejects a stateful loader with BIOS firmware', withFirmware('bios', "<loader stateless='no'/>"), 'XML_DETAIL', 'Only EFI firmware permits NVRAM', '/domain/os/loader/@stateless'],
  ['rejects cputune shares out of range', domain({ extra: '<cputune><shares>1</shares></cputune>' }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Value of cputune 'shares' must be in range [2, 262144]", '/domain/cputune/shares'],
  ['rejects a cputune period out of range', domain({ extra: '<cputune><period>999</period></cputune>' }), 'CONFIG_UNSUPPORTED', "unsupported configuration: Value of cputune 'period' must be in range [1000, 1000000]", '/domain/cputune/period'],
  ['rejects a boot menu timeout above 65535', domain({ os: "<bootmenu enable='yes' timeout='65536'/>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: invalid value for boot menu timeout, must be in range [0,65535]', '/domain/os/bootmenu/@timeout'],
  ['rejects a reboot timeout below -1', domain({ os: "<bios rebootTimeout='-2'/>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: invalid value for rebootTimeout, must be in range [-1,65535]', '/domain/os/bios/@rebootTimeout'],
  ['rejects a blkio device path given twice', domain({ extra: '<blkiotune><device><path>/dev/sda</path><weight>100</weight></device><device><path>/dev/sda</path><weight>200</weight></device></blkiotune>' }), 'CONFIG_UNSUPPORTED', "unsupported configuration: duplicate blkio device path '/dev/sda'", '/domain/blkiotune/device[2]/path'],
  ['rejects a uid map without gid map', domain({ ostype: 'exe', os: '<init>/bin/sh</init>', extra: "<idmap><uid start='0' target='1000' count='10'/></idmap>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: uid and gid should be mapped both', '/domain/idmap'],
  ['rejects an id map that leaves root unmapped', domain({ ostype: 'exe', os: '<init>/bin/sh</init>', extra: "<idmap><uid start='1' target='1000' count='10'/><gid start='0' target='1000' count='10'/></idmap>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: You must map the root user of container', '/domain/idmap'],
  ['rejects a fourth cache level', domain({ extra: vcpu(2) + numa("<cell cpus='0-1' memory='524288'><cache level='4' associativity='direct' policy='writeback'><size value='10' unit='KiB'/><line value='8' unit='B'/></cache></cell>") }), 'XML_ERROR', "XML error: Ain't nobody heard of that much cache level", '/domain/cpu/numa/cell[1]/cache[1]/@level'],
  ['rejects two virtiofs filesystems on one target', domain({ devices: "<filesystem type='mount'><driver type='virtiofs'/><source dir='/a'/><target dir='t'/></filesystem><filesystem type='mount'><driver type='virtiofs'/><source dir='/b'/><target dir='t'/></filesystem>" }), 'CONFIG_UNSUPPORTED', "unsupported configuration: filesystem target 't' specified twice", '/domain/devices/filesystem[2]/target/@dir'],
  ['rejects thread_pool_max 0', domain({ extra: "<iothreadids><iothread id='1' thread_pool_max='0'/></iothreadids>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: thread_pool_max must be a positive integer', '/domain/iothreadids/iothread[1]/@thread_pool_max'],
  ['rejects thread_pool_min alone (an absent max is -1)', domain({ extra: "<defaultiothread thread_pool_min='2'/>" }), 'CONFIG_UNSUPPORTED', 'unsupported configuration: thread_pool_min must be smaller or equal to thread_pool_max', '/domain/defaultiothread/@thread_pool_min'],
]);

describe('what these rules keep or fill as libvirt does', () => {
  it('reads a disk without <source> as a file disk', () => {
    const def = parseDomainXML(domain({ devices: disk("<target dev='hdc' bus='ide'/>", "type='network' device='cdrom'") }), { random });
    assert.equal(def.devices?.disks?.[0]?.type, 'file');
  });

  it('drops the nodeset of an automatic memory placement', () => {
    const def = parseDomainXML(domain({ extra: vcpu(2, " placement='auto'") + "<numatune><memory mode='preferred' placement='auto' nodeset='0-5'/></numatune>" }), { random });
    assert.deepEqual(def.numatune?.memory, { mode: 'preferred', placement: 'auto' });
  });

  it('takes the SMBIOS UUID when the domain has none', () => {
    const def = parseDomainXML(domain({ extra: "<sysinfo type='smbios'><system><entry name='uuid'>A94B4335-6A14-8BC4-D6DA-F7EA590B6816</entry></system></sysinfo>" }), { random });
    assert.equal(def.uuid, 'a94b4335-6a14-8bc4-d6da-f7ea590b6816');
  });

  it('accepts firmware features without <os firmware> (Debian ignores them when defining)', () => {
    assert.doesNotThrow(() => parseDomainXML(domain({ os: loader(" readonly='yes' type='pflash'") + "<firmware><feature enabled='no' name='enrolled-keys'/></firmware>" }), { random }));
  });

  it('leaves an all-zero PCI address unchecked', () => {
    assert.doesNotThrow(() => parseDomainXML(domain({ devices: net("<address type='pci' domain='0' bus='0' slot='0' function='9'/>") }), { random }));
  });

  it('accepts an empty <active_pcr_banks/> on a TPM 1.2', () => {
    assert.doesNotThrow(() => parseDomainXML(domain({ devices: "<tpm model='tpm-tis'><backend type='emulator' version='1.2'><active_pcr_banks/></backend></tpm>" }), { random }));
  });

  it('accepts a closed tray on a disk (closed is the enum default)', () => {
    assert.doesNotThrow(() => parseDomainXML(domain({ devices: fileDisk('', "<target dev='vda' bus='virtio' tray='closed'/>") }), { random }));
  });

  it('accepts a source path on a mouse (libvirt does not read it)', () => {
    assert.doesNotThrow(() => parseDomainXML(domain({ devices: "<input type='mouse' bus='ps2'><source evdev='/dev/input/event1'/></input>" }), { random }));
  });

  it('ignores a vcpupin of a vCPU the domain does not have', () => {
    assert.doesNotThrow(() => parseDomainXML(domain({ extra: cputune("<vcpupin vcpu='7'/>") }), { random }));
  });

  it('counts NUMA memory only when <memory> is absent', () => {
    assert.doesNotThrow(() => parseDomainXML(domain({ memory: '', extra: vcpu(2) + numa("<cell cpus='0-1' memory='1048576'/>") }), { random }));
  });
});
