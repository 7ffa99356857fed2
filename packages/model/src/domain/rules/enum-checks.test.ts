/**
 * The enum attributes libvirt 9.0.0's device parsers read at parse time
 * (virXMLPropEnum, virXMLPropTristateBool/Switch and the older
 * virXXXTypeFromString checks of src/conf/domain_conf.c): for each, a small
 * domain with a bad value is refused with libvirt's code, message and the
 * path of the attribute, and the same domain with a good value parses. A few
 * cases check that, of two bad values, the one libvirt reads first is the one
 * reported.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDomainXML } from '../../parse.ts';
import { fixedRandom, kvmDomain, propMessages, rejects as rejectsWith } from '../../testing.ts';

const random = fixedRandom;
const domain = kvmDomain;

const XML = 'XML_ERROR';
const CONF = 'CONFIG_UNSUPPORTED';
const INTERNAL = 'INTERNAL_ERROR';
const { invalid, missing, conf } = propMessages;

/**
 * A device template with one `@` where the value goes; `good` is a value
 * libvirt takes, `bad` one it refuses (default: `bogus`).
 */
interface Case {
  readonly name: string;
  readonly tpl: string;
  readonly good?: string;
  readonly bad?: string;
  readonly code: string;
  readonly message: string;
  readonly path: string;
}

function rejects(xml: string, code: string, message: string, path: string): void {
  rejectsWith(() => parseDomainXML(xml, { random }), code, message, path);
}

function table(title: string, cases: readonly Case[]): void {
  describe(title, () => {
    for (const c of cases) {
      const bad = c.bad ?? 'bogus';
      it(`refuses ${c.name}='${bad}'`, () => rejects(domain(c.tpl.replace('@', bad)), c.code, c.message, c.path));
      if (c.good !== undefined) it(`accepts ${c.name}='${c.good}'`, () => assert.ok(parseDomainXML(domain(c.tpl.replace('@', c.good!)), { random })));
    }
  });
}

const d1 = '/domain/devices/disk[1]';
const file = (attrs: string, inner = '') => `<disk type='file' device='disk'${attrs}><source file='/a.img'/><target dev='vda' bus='virtio'/>${inner}</disk>`;
const drv = (attrs: string) => file('', `<driver name='qemu' ${attrs}/>`);
const lun = (attrs: string) => `<disk type='block' device='lun'${attrs}><source dev='/dev/sdb'/><target dev='sda' bus='scsi'/></disk>`;
const tgt = (attrs: string) => `<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' ${attrs}/></disk>`;

table('disk (virDomainDiskDefParseXML)', [
  { name: 'disk/@model', tpl: file(" model='@'"), good: 'virtio', code: XML, message: invalid('model', 'disk', 'bogus'), path: `${d1}/@model` },
  { name: 'disk/@snapshot', tpl: file(" snapshot='@'"), good: 'no', bad: 'default', code: XML, message: invalid('snapshot', 'disk', 'default'), path: `${d1}/@snapshot` },
  { name: 'disk/@rawio', tpl: lun(" rawio='@'"), good: 'no', code: XML, message: invalid('rawio', 'disk', 'bogus'), path: `${d1}/@rawio` },
  { name: 'disk/@sgio', tpl: lun(" sgio='@'"), good: 'filtered', bad: 'default', code: XML, message: invalid('sgio', 'disk', 'default'), path: `${d1}/@sgio` },
  {
    name: 'source/@startupPolicy',
    tpl: "<disk type='file' device='cdrom'><source file='/a.iso' startupPolicy='@'/><target dev='hdc' bus='ide'/></disk>",
    good: 'optional',
    code: XML,
    message: invalid('startupPolicy', 'source', 'bogus'),
    path: `${d1}/source/@startupPolicy`,
  },
  { name: 'target/@bus', tpl: tgt("bus='@'"), good: 'sata', bad: 'none', code: XML, message: invalid('bus', 'target', 'none'), path: `${d1}/target/@bus` },
  { name: 'target/@tray', tpl: "<disk type='file' device='cdrom'><source file='/a.iso'/><target dev='sda' bus='sata' tray='@'/></disk>", good: 'open', code: XML, message: invalid('tray', 'target', 'bogus'), path: `${d1}/target/@tray` },
  { name: 'target/@removable', tpl: tgt("bus='usb' removable='@'"), good: 'on', bad: 'yes', code: XML, message: invalid('removable', 'target', 'yes'), path: `${d1}/target/@removable` },
  { name: 'geometry/@trans', tpl: file('', "<geometry cyls='16383' heads='16' secs='63' trans='@'/>"), good: 'lba', bad: 'default', code: XML, message: invalid('trans', 'geometry', 'default'), path: `${d1}/geometry/@trans` },
  { name: 'driver/@iommu', tpl: drv("iommu='@'"), good: 'on', code: XML, message: invalid('iommu', 'driver', 'bogus'), path: `${d1}/driver/@iommu` },
  { name: 'driver/@cache', tpl: drv("cache='@'"), good: 'none', code: XML, message: invalid('cache', 'driver', 'bogus'), path: `${d1}/driver/@cache` },
  { name: 'driver/@error_policy', tpl: drv("error_policy='@'"), good: 'enospace', bad: 'default', code: XML, message: invalid('error_policy', 'driver', 'default'), path: `${d1}/driver/@error_policy` },
  { name: 'driver/@rerror_policy', tpl: drv("rerror_policy='@'"), good: 'stop', code: XML, message: invalid('rerror_policy', 'driver', 'bogus'), path: `${d1}/driver/@rerror_policy` },
  {
    name: 'driver/@rerror_policy (enospace)',
    tpl: drv("rerror_policy='@'"),
    bad: 'enospace',
    code: CONF,
    message: conf("Invalid disk read error policy: 'enospace'"),
    path: `${d1}/driver/@rerror_policy`,
  },
  { name: 'driver/@io', tpl: drv("io='@'"), good: 'native', bad: 'default', code: XML, message: invalid('io', 'driver', 'default'), path: `${d1}/driver/@io` },
  { name: 'driver/@ioeventfd', tpl: drv("ioeventfd='@'"), good: 'off', code: XML, message: invalid('ioeventfd', 'driver', 'bogus'), path: `${d1}/driver/@ioeventfd` },
  { name: 'driver/@event_idx', tpl: drv("event_idx='@'"), good: 'on', code: XML, message: invalid('event_idx', 'driver', 'bogus'), path: `${d1}/driver/@event_idx` },
  { name: 'driver/@copy_on_read', tpl: drv("copy_on_read='@'"), good: 'on', bad: 'yes', code: XML, message: invalid('copy_on_read', 'driver', 'yes'), path: `${d1}/driver/@copy_on_read` },
  { name: 'driver/@discard', tpl: drv("discard='@'"), good: 'unmap', bad: 'default', code: XML, message: invalid('discard', 'driver', 'default'), path: `${d1}/driver/@discard` },
  { name: 'driver/@detect_zeroes', tpl: drv("detect_zeroes='@'"), good: 'unmap', code: XML, message: invalid('detect_zeroes', 'driver', 'bogus'), path: `${d1}/driver/@detect_zeroes` },
  { name: 'driver/@type', tpl: drv("type='@'"), good: 'qcow2', bad: 'none', code: CONF, message: conf("unknown driver format value 'none'"), path: `${d1}/driver/@type` },
  { name: 'transient/@shareBacking', tpl: file('', "<transient shareBacking='@'/>"), good: 'yes', code: XML, message: invalid('shareBacking', 'transient', 'bogus'), path: `${d1}/transient/@shareBacking` },
  {
    name: 'source/@protocol',
    tpl: "<disk type='network' device='disk'><source protocol='@' name='pool/img'><host name='h'/></source><target dev='vda' bus='virtio'/></disk>",
    good: 'rbd',
    code: XML,
    message: invalid('protocol', 'source', 'bogus'),
    path: `${d1}/source/@protocol`,
  },
  {
    name: 'source/@tls',
    tpl: "<disk type='network' device='disk'><source protocol='nbd' tls='@'><host name='h'/></source><target dev='vda' bus='virtio'/></disk>",
    good: 'yes',
    code: XML,
    message: invalid('tls', 'source', 'bogus'),
    path: `${d1}/source/@tls`,
  },
  {
    name: 'host/@transport',
    tpl: "<disk type='network' device='disk'><source protocol='nbd'><host name='h' transport='@'/></source><target dev='vda' bus='virtio'/></disk>",
    good: 'tcp',
    code: CONF,
    message: conf("unknown protocol transport type 'bogus'"),
    path: `${d1}/source/host[1]/@transport`,
  },
  {
    name: 'source/@mode (volume)',
    tpl: "<disk type='volume' device='disk'><source pool='p' volume='v' mode='@'/><target dev='vda' bus='virtio'/></disk>",
    good: 'host',
    bad: 'default',
    code: CONF,
    message: conf("unknown source mode 'default' for volume type disk"),
    path: `${d1}/source/@mode`,
  },
]);

const c1 = '/domain/devices/controller[1]';
table('controller (virDomainControllerDefParseXML)', [
  { name: 'controller/@model', tpl: "<controller type='scsi' index='0' model='@'/>", good: 'virtio-scsi', code: CONF, message: conf("Unknown model type 'bogus'"), path: `${c1}/@model` },
  { name: 'driver/@iommu', tpl: "<controller type='scsi' index='0' model='virtio-scsi'><driver iommu='@'/></controller>", good: 'on', code: XML, message: invalid('iommu', 'driver', 'bogus'), path: `${c1}/driver/@iommu` },
  {
    name: 'model/@name',
    tpl: "<controller type='pci' index='0' model='pci-root'/><controller type='pci' index='1' model='pci-bridge'><model name='@'/></controller>",
    good: 'pci-bridge',
    code: XML,
    message: invalid('name', 'model', 'bogus'),
    path: '/domain/devices/controller[2]/model/@name',
  },
]);

const fs1 = '/domain/devices/filesystem[1]';
const fs = (attrs: string, inner = '') => `<filesystem${attrs}>${inner}<source dir='/src'/><target dir='tag'/></filesystem>`;
table('filesystem (virDomainFSDefParseXML)', [
  { name: 'filesystem/@type', tpl: fs(" type='@'"), good: 'mount', code: XML, message: invalid('type', 'filesystem', 'bogus'), path: `${fs1}/@type` },
  { name: 'filesystem/@accessmode', tpl: fs(" type='mount' accessmode='@'"), good: 'mapped', code: XML, message: invalid('accessmode', 'filesystem', 'bogus'), path: `${fs1}/@accessmode` },
  { name: 'filesystem/@fmode', tpl: fs(" type='mount' accessmode='mapped' fmode='@'"), good: '0644', bad: '01000', code: XML, message: "XML error: invalid fmode: '01000'", path: `${fs1}/@fmode` },
  { name: 'filesystem/@model', tpl: fs(" type='mount' model='@'"), good: 'virtio', bad: 'default', code: XML, message: invalid('model', 'filesystem', 'default'), path: `${fs1}/@model` },
  { name: 'filesystem/@multidevs', tpl: fs(" type='mount' multidevs='@'"), good: 'remap', code: XML, message: invalid('multidevs', 'filesystem', 'bogus'), path: `${fs1}/@multidevs` },
  { name: 'driver/@type', tpl: fs(" type='mount'", "<driver type='@'/>"), good: 'path', code: XML, message: invalid('type', 'driver', 'bogus'), path: `${fs1}/driver/@type` },
  { name: 'driver/@wrpolicy', tpl: fs(" type='mount'", "<driver type='path' wrpolicy='@'/>"), good: 'immediate', code: XML, message: invalid('wrpolicy', 'driver', 'bogus'), path: `${fs1}/driver/@wrpolicy` },
  {
    name: 'driver/@format',
    tpl: "<filesystem type='file'><driver type='loop' format='@'/><source file='/a.img'/><target dir='/mnt'/></filesystem>",
    good: 'raw',
    code: CONF,
    message: conf("unknown driver format value 'bogus'"),
    path: `${fs1}/driver/@format`,
  },
  {
    name: 'binary/cache/@mode',
    tpl: fs(" type='mount'", "<driver type='virtiofs'/><binary><cache mode='@'/></binary>"),
    good: 'always',
    bad: 'default',
    code: XML,
    message: invalid('mode', 'cache', 'default'),
    path: `${fs1}/binary/cache/@mode`,
  },
  { name: 'binary/lock/@posix', tpl: fs(" type='mount'", "<driver type='virtiofs'/><binary><lock posix='@'/></binary>"), good: 'on', code: XML, message: invalid('posix', 'lock', 'bogus'), path: `${fs1}/binary/lock/@posix` },
]);

const i1 = '/domain/devices/interface[1]';
const pciSource = "<source><address type='pci' domain='0' bus='0' slot='4' function='0'/></source>";
table('interface (virDomainNetDefParseXML)', [
  { name: 'interface/@type', tpl: "<interface type='@'/>", good: 'user', code: XML, message: invalid('type', 'interface', 'bogus'), path: `${i1}/@type` },
  { name: 'interface/@trustGuestRxFilters', tpl: "<interface type='network' trustGuestRxFilters='@'><source network='default'/></interface>", good: 'yes', code: XML, message: invalid('trustGuestRxFilters', 'interface', 'bogus'), path: `${i1}/@trustGuestRxFilters` },
  { name: 'source/@mode (direct)', tpl: "<interface type='direct'><source dev='eth0' mode='@'/></interface>", good: 'bridge', code: XML, message: invalid('mode', 'source', 'bogus'), path: `${i1}/source/@mode` },
  {
    name: 'source/@mode (vhostuser)',
    tpl: "<interface type='vhostuser'><source type='unix' path='/tmp/s' mode='@'/><model type='virtio'/></interface>",
    good: 'client',
    bad: '',
    code: XML,
    message: invalid('mode', 'source', ''),
    path: `${i1}/source/@mode`,
  },
  { name: 'hostdev driver/@name', tpl: `<interface type='hostdev'><driver name='@'/>${pciSource}</interface>`, good: 'vfio', bad: '', code: XML, message: invalid('name', 'driver', ''), path: `${i1}/driver/@name` },
  { name: 'hostdev driver/@name (default)', tpl: `<interface type='hostdev'><driver name='@'/>${pciSource}</interface>`, bad: 'default', code: XML, message: invalid('name', 'driver', 'default'), path: `${i1}/driver/@name` },
  {
    name: 'virtualport/@type',
    tpl: "<interface type='bridge'><source bridge='br0'/><virtualport type='@'/></interface>",
    good: 'openvswitch',
    bad: 'none',
    code: CONF,
    message: conf('unknown virtualport type none'),
    path: `${i1}/virtualport/@type`,
  },
  { name: 'target/@managed', tpl: "<interface type='ethernet'><target dev='tap0' managed='@'/></interface>", good: 'no', code: XML, message: invalid('managed', 'target', 'bogus'), path: `${i1}/target/@managed` },
  { name: 'mac/@type', tpl: "<interface type='user'><mac address='52:54:00:11:22:33' type='@'/></interface>", good: 'static', bad: '', code: XML, message: invalid('type', 'mac', ''), path: `${i1}/mac/@type` },
  { name: 'mac/@check', tpl: "<interface type='user'><mac address='52:54:00:11:22:33' check='@'/></interface>", good: 'no', code: XML, message: invalid('check', 'mac', 'bogus'), path: `${i1}/mac/@check` },
  { name: 'driver/@iommu', tpl: "<interface type='user'><model type='virtio'/><driver iommu='@'/></interface>", good: 'on', code: XML, message: invalid('iommu', 'driver', 'bogus'), path: `${i1}/driver/@iommu` },
  { name: 'driver/@name', tpl: "<interface type='user'><model type='virtio'/><driver name='@'/></interface>", good: 'vhost', bad: 'default', code: XML, message: invalid('name', 'driver', 'default'), path: `${i1}/driver/@name` },
  { name: 'driver/host/@csum', tpl: "<interface type='user'><model type='virtio'/><driver><host csum='@'/></driver></interface>", good: 'off', code: XML, message: invalid('csum', 'host', 'bogus'), path: `${i1}/driver/host/@csum` },
  { name: 'driver/guest/@ufo', tpl: "<interface type='user'><model type='virtio'/><driver><guest ufo='@'/></driver></interface>", good: 'off', code: XML, message: invalid('ufo', 'guest', 'bogus'), path: `${i1}/driver/guest/@ufo` },
  { name: 'portForward/@proto', tpl: "<interface type='user'><portForward proto='@'><range start='2022' to='22'/></portForward></interface>", bad: 'none', code: XML, message: invalid('proto', 'portForward', 'none'), path: `${i1}/portForward[1]/@proto` },
  {
    name: 'portForward range/@exclude',
    tpl: "<interface type='user'><portForward proto='tcp'><range start='2022' exclude='@'/></portForward></interface>",
    code: XML,
    message: invalid('exclude', 'range', 'bogus'),
    path: `${i1}/portForward[1]/range[1]/@exclude`,
  },
  { name: 'link/@state', tpl: "<interface type='user'><link state='@'/></interface>", good: 'down', bad: 'default', code: CONF, message: conf("unknown interface link state 'default'"), path: `${i1}/link/@state` },
  {
    name: 'teaming/@type',
    tpl: "<interface type='user'><model type='virtio'/><teaming type='@'/></interface>",
    good: 'persistent',
    bad: 'none',
    code: CONF,
    message: conf("unknown teaming type 'none'"),
    path: `${i1}/teaming/@type`,
  },
]);

describe('interface: the virtualport type', () => {
  it('is optional for a network interface', () => {
    assert.ok(parseDomainXML(domain("<interface type='network'><source network='default'/><virtualport/></interface>"), { random }));
  });
  it('is required for a bridge interface', () => {
    rejects(domain("<interface type='bridge'><source bridge='br0'/><virtualport/></interface>"), XML, 'XML error: missing required virtualport type', `${i1}/virtualport`);
  });
  it('and a virtualport is refused on a user interface', () => {
    rejects(domain("<interface type='user'><virtualport type='openvswitch'/></interface>"), CONF, conf("<virtualport> element unsupported for <interface type='user'>"), `${i1}/virtualport`);
  });
});

const h1 = '/domain/devices/hostdev[1]';
table('hostdev (virDomainHostdevDefParseXMLSubsys)', [
  { name: 'driver/@name', tpl: `<hostdev mode='subsystem' type='pci'><driver name='@'/>${pciSource}</hostdev>`, good: 'vfio', bad: 'default', code: XML, message: invalid('name', 'driver', 'default'), path: `${h1}/driver/@name` },
  {
    name: 'source/@writeFiltering',
    tpl: "<hostdev mode='subsystem' type='pci'><source writeFiltering='@'><address domain='0' bus='0' slot='4' function='0'/></source></hostdev>",
    good: 'yes',
    code: XML,
    message: invalid('writeFiltering', 'source', 'bogus'),
    path: `${h1}/source/@writeFiltering`,
  },
  {
    name: 'source/@guestReset',
    tpl: "<hostdev mode='subsystem' type='usb'><source guestReset='@'><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>",
    good: 'off',
    bad: 'default',
    code: XML,
    message: invalid('guestReset', 'source', 'default'),
    path: `${h1}/source/@guestReset`,
  },
  {
    name: 'source/@protocol (scsi)',
    tpl: "<controller type='scsi' model='virtio-scsi'/><hostdev mode='subsystem' type='scsi'><source protocol='@' name='iqn.1992-01.com.example:storage/1'><host name='example.org' port='3260'/></source></hostdev>",
    good: 'iscsi',
    code: CONF,
    message: conf("Unknown SCSI subsystem protocol 'bogus'"),
    path: '/domain/devices/hostdev[1]/source/@protocol',
  },
  {
    name: 'source/@protocol (scsi_host)',
    tpl: "<hostdev mode='subsystem' type='scsi_host'><source protocol='@' wwpn='naa.5123456789abcde0'/></hostdev>",
    good: 'vhost',
    bad: 'none',
    code: CONF,
    message: conf("Unknown scsi_host subsystem protocol 'none'"),
    path: '/domain/devices/hostdev[1]/source/@protocol',
  },
  {
    name: 'hostdev/@type (capabilities)',
    tpl: "<hostdev mode='capabilities' type='@'><source><block>/dev/sdf1</block></source></hostdev>",
    code: CONF,
    message: conf("unknown host device source address type 'bogus'"),
    path: '/domain/devices/hostdev[1]/@type',
  },
  {
    name: 'hostdev/@model (scsi_host)',
    tpl: "<hostdev mode='subsystem' type='scsi_host' model='@'><source protocol='vhost' wwpn='naa.5123456789abcde0'/></hostdev>",
    good: 'virtio',
    code: XML,
    message: invalid('model', 'hostdev', 'bogus'),
    path: `${h1}/@model`,
  },
]);

table('input (virDomainInputDefParseXML)', [
  { name: 'source/@grab', tpl: "<input type='evdev'><source dev='/dev/input/event1' grab='@'/></input>", good: 'all', bad: 'default', code: XML, message: invalid('grab', 'source', 'default'), path: '/domain/devices/input[1]/source/@grab' },
  {
    name: 'source/@grabToggle',
    tpl: "<input type='evdev'><source dev='/dev/input/event1' grabToggle='@'/></input>",
    good: 'ctrl-ctrl',
    code: XML,
    message: invalid('grabToggle', 'source', 'bogus'),
    path: '/domain/devices/input[1]/source/@grabToggle',
  },
  { name: 'source/@repeat', tpl: "<input type='evdev'><source dev='/dev/input/event1' repeat='@'/></input>", good: 'on', code: XML, message: invalid('repeat', 'source', 'bogus'), path: '/domain/devices/input[1]/source/@repeat' },
  { name: 'driver/@ats', tpl: "<input type='tablet' bus='virtio'><driver ats='@'/></input>", good: 'on', code: XML, message: invalid('ats', 'driver', 'bogus'), path: '/domain/devices/input[1]/driver/@ats' },
]);

const g1 = '/domain/devices/graphics[1]';
table('graphics (virDomainGraphicsDefParseXML*)', [
  { name: 'vnc/@sharePolicy', tpl: "<graphics type='vnc' sharePolicy='@'/>", good: 'force-shared', code: XML, message: invalid('sharePolicy', 'graphics', 'bogus'), path: `${g1}/@sharePolicy` },
  { name: 'vnc/@powerControl', tpl: "<graphics type='vnc' powerControl='@'/>", good: 'yes', code: XML, message: invalid('powerControl', 'graphics', 'bogus'), path: `${g1}/@powerControl` },
  { name: 'vnc/@connected', tpl: "<graphics type='vnc' passwd='secret' connected='@'/>", good: 'keep', bad: 'default', code: CONF, message: conf('unknown connected value default'), path: `${g1}/@connected` },
  { name: 'vnc/@connected (not keep)', tpl: "<graphics type='vnc' passwd='secret' connected='@'/>", bad: 'fail', code: CONF, message: conf("VNC supports connected='keep' only"), path: `${g1}/@connected` },
  { name: 'sdl/@fullscreen', tpl: "<graphics type='sdl' fullscreen='@'/>", good: 'yes', code: XML, message: invalid('fullscreen', 'graphics', 'bogus'), path: `${g1}/@fullscreen` },
  { name: 'spice/@defaultMode', tpl: "<graphics type='spice' defaultMode='@'/>", good: 'secure', code: XML, message: invalid('defaultMode', 'graphics', 'bogus'), path: `${g1}/@defaultMode` },
  { name: 'spice channel/@name', tpl: "<graphics type='spice'><channel name='@' mode='secure'/></graphics>", good: 'main', code: XML, message: invalid('name', 'channel', 'bogus'), path: `${g1}/channel[1]/@name` },
  { name: 'spice image/@compression', tpl: "<graphics type='spice'><image compression='@'/></graphics>", good: 'quic', bad: 'default', code: XML, message: invalid('compression', 'image', 'default'), path: `${g1}/image/@compression` },
  { name: 'spice playback/@compression', tpl: "<graphics type='spice'><playback compression='@'/></graphics>", good: 'on', code: XML, message: invalid('compression', 'playback', 'bogus'), path: `${g1}/playback/@compression` },
  { name: 'spice streaming/@mode', tpl: "<graphics type='spice'><streaming mode='@'/></graphics>", good: 'filter', code: XML, message: invalid('mode', 'streaming', 'bogus'), path: `${g1}/streaming/@mode` },
  { name: 'spice mouse/@mode', tpl: "<graphics type='spice'><mouse mode='@'/></graphics>", good: 'client', bad: 'default', code: XML, message: invalid('mode', 'mouse', 'default'), path: `${g1}/mouse/@mode` },
  { name: 'spice clipboard/@copypaste', tpl: "<graphics type='spice'><clipboard copypaste='@'/></graphics>", good: 'no', code: XML, message: invalid('copypaste', 'clipboard', 'bogus'), path: `${g1}/clipboard/@copypaste` },
]);

describe('video: an unknown vgaconf', () => {
  it('is no error (libvirt ignores the failed read) and is not kept', () => {
    const def = parseDomainXML(domain("<video><model type='vga'/><driver vgaconf='bogus'/></video>"), { random });
    assert.equal(def.devices?.videos?.[0]?.driver?.vgaconf, undefined);
  });
  it('a known one is kept', () => {
    const def = parseDomainXML(domain("<video><model type='vga'/><driver vgaconf='io'/></video>"), { random });
    assert.equal(def.devices?.videos?.[0]?.driver?.vgaconf, 'io');
  });
});

describe('graphics: connected without a password', () => {
  it('is not read', () => assert.ok(parseDomainXML(domain("<graphics type='vnc' connected='bogus'/>"), { random })));
});

describe('graphics: required attributes', () => {
  it('refuses a spice <gl> without enable', () => {
    rejects(domain("<graphics type='spice'><gl/></graphics>"), XML, missing('enable', 'gl'), `${g1}/gl/@enable`);
  });
});

const v1 = '/domain/devices/video[1]';
table('video (virDomainVideoDefParseXML)', [
  { name: 'acceleration/@accel3d', tpl: "<video><model type='virtio'><acceleration accel3d='@'/></model></video>", good: 'yes', code: XML, message: invalid('accel3d', 'acceleration', 'bogus'), path: `${v1}/model/acceleration/@accel3d` },
  { name: 'driver/@name', tpl: "<video><model type='virtio'/><driver name='@'/></video>", good: 'qemu', bad: 'default', code: XML, message: invalid('name', 'driver', 'default'), path: `${v1}/driver/@name` },
  { name: 'model/@type', tpl: "<video><model type='@'/></video>", good: 'vga', code: CONF, message: conf("unknown video model 'bogus'"), path: `${v1}/model/@type` },
]);

table('sound, watchdog, memballoon, rng (their parsers)', [
  { name: 'sound/@model', tpl: "<sound model='@'/>", good: 'ich9', code: XML, message: invalid('model', 'sound', 'bogus'), path: '/domain/devices/sound[1]/@model' },
  { name: 'watchdog/@model', tpl: "<watchdog model='@'/>", good: 'i6300esb', code: CONF, message: conf("unknown watchdog model 'bogus'"), path: '/domain/devices/watchdog/@model' },
  { name: 'watchdog/@action', tpl: "<watchdog model='i6300esb' action='@'/>", good: 'poweroff', code: CONF, message: conf("unknown watchdog action 'bogus'"), path: '/domain/devices/watchdog/@action' },
  { name: 'memballoon/@model', tpl: "<memballoon model='@'/>", good: 'virtio', code: XML, message: invalid('model', 'memballoon', 'bogus'), path: '/domain/devices/memballoon/@model' },
  { name: 'memballoon/@autodeflate', tpl: "<memballoon model='virtio' autodeflate='@'/>", good: 'on', code: XML, message: invalid('autodeflate', 'memballoon', 'bogus'), path: '/domain/devices/memballoon/@autodeflate' },
  { name: 'memballoon/@freePageReporting', tpl: "<memballoon model='virtio' freePageReporting='@'/>", good: 'off', code: XML, message: invalid('freePageReporting', 'memballoon', 'bogus'), path: '/domain/devices/memballoon/@freePageReporting' },
  { name: 'rng/@model', tpl: "<rng model='@'><backend model='random'>/dev/urandom</backend></rng>", good: 'virtio', code: CONF, message: conf("unknown RNG model 'bogus'"), path: '/domain/devices/rng[1]/@model' },
  { name: 'rng backend/@model', tpl: "<rng model='virtio'><backend model='@'>/dev/urandom</backend></rng>", good: 'random', code: CONF, message: conf("unknown RNG backend model 'bogus'"), path: '/domain/devices/rng[1]/backend/@model' },
]);

describe('watchdog and memballoon: required models', () => {
  it('refuses a watchdog without model', () => rejects(domain('<watchdog/>'), INTERNAL, 'internal error: watchdog must contain model name', '/domain/devices/watchdog/@model'));
  it('refuses a memballoon without model', () => rejects(domain('<memballoon/>'), XML, missing('model', 'memballoon'), '/domain/devices/memballoon/@model'));
});

table('redirdev, smartcard, hub, panic (their parsers)', [
  { name: 'redirdev/@bus', tpl: "<controller type='usb' model='qemu-xhci'/><redirdev bus='@' type='spicevmc'/>", good: 'usb', code: CONF, message: conf("unknown redirdev bus 'bogus'"), path: '/domain/devices/redirdev[1]/@bus' },
  { name: 'smartcard/@mode', tpl: "<smartcard mode='@'/>", good: 'host', code: XML, message: invalid('mode', 'smartcard', 'bogus'), path: '/domain/devices/smartcard[1]/@mode' },
  { name: 'hub/@type', tpl: "<hub type='@'/>", good: 'usb', code: CONF, message: conf("unknown hub device type 'bogus'"), path: '/domain/devices/hub[1]/@type' },
  { name: 'panic/@model', tpl: "<panic model='@'/>", good: 'isa', code: CONF, message: conf("unknown panic model 'bogus'"), path: '/domain/devices/panic[1]/@model' },
]);

table('serial, console, channel (virDomainChrSourceDefParseXML)', [
  {
    name: 'qemu-vdagent mouse/@mode',
    tpl: "<channel type='qemu-vdagent'><source><mouse mode='@'/></source><target type='virtio' name='com.redhat.spice.0'/></channel>",
    good: 'client',
    bad: 'default',
    code: XML,
    message: invalid('mode', 'mouse', 'default'),
    path: '/domain/devices/channel[1]/source[1]/mouse/@mode',
  },
  {
    name: 'qemu-vdagent clipboard/@copypaste',
    tpl: "<channel type='qemu-vdagent'><source><clipboard copypaste='@'/></source><target type='virtio' name='com.redhat.spice.0'/></channel>",
    good: 'yes',
    code: XML,
    message: invalid('copypaste', 'clipboard', 'bogus'),
    path: '/domain/devices/channel[1]/source[1]/clipboard/@copypaste',
  },
]);

table('tpm (virDomainTPMDefParseXML)', [
  {
    name: 'backend/@persistent_state',
    tpl: "<tpm model='tpm-crb'><backend type='emulator' version='2.0' persistent_state='@'/></tpm>",
    good: 'yes',
    code: INTERNAL,
    message: "internal error: Invalid persistent_state value, either 'yes' or 'no'",
    path: '/domain/devices/tpm[1]/backend/@persistent_state',
  },
  {
    name: 'an active PCR bank',
    tpl: "<tpm model='tpm-crb'><backend type='emulator' version='2.0'><active_pcr_banks><sha256/><@/></active_pcr_banks></backend></tpm>",
    good: 'sha512',
    bad: 'md5',
    code: CONF,
    message: conf("Unsupported PCR banks 'md5'"),
    path: '/domain/devices/tpm[1]/backend/active_pcr_banks/md5',
  },
]);

table('shmem, memory, iommu, vsock (their parsers)', [
  { name: 'shmem model/@type', tpl: "<shmem name='s'><model type='@'/></shmem>", good: 'ivshmem-plain', code: XML, message: invalid('type', 'model', 'bogus'), path: '/domain/devices/shmem[1]/model/@type' },
  { name: 'shmem/@role', tpl: "<shmem name='s' role='@'><model type='ivshmem-plain'/></shmem>", good: 'peer', bad: 'default', code: XML, message: invalid('role', 'shmem', 'default'), path: '/domain/devices/shmem[1]/@role' },
  {
    name: 'memory/@model',
    tpl: "<memory model='@'><target><size unit='MiB'>128</size><node>0</node></target></memory>",
    bad: '',
    code: XML,
    message: invalid('model', 'memory', ''),
    path: '/domain/devices/memory[1]/@model',
  },
  {
    name: 'memory/@access',
    tpl: "<memory model='dimm' access='@'><target><size unit='MiB'>128</size></target></memory>",
    bad: 'default',
    code: XML,
    message: invalid('access', 'memory', 'default'),
    path: '/domain/devices/memory[1]/@access',
  },
  { name: 'iommu/@model', tpl: "<iommu model='@'/>", good: 'intel', code: XML, message: invalid('model', 'iommu', 'bogus'), path: '/domain/devices/iommu/@model' },
  { name: 'iommu driver/@caching_mode', tpl: "<iommu model='intel'><driver caching_mode='@'/></iommu>", good: 'on', code: XML, message: invalid('caching_mode', 'driver', 'bogus'), path: '/domain/devices/iommu/driver/@caching_mode' },
  { name: 'vsock/@model', tpl: "<vsock model='@'><cid auto='yes'/></vsock>", good: 'virtio', code: XML, message: invalid('model', 'vsock', 'bogus'), path: '/domain/devices/vsock/@model' },
  { name: 'vsock cid/@auto', tpl: "<vsock model='virtio'><cid auto='@'/></vsock>", good: 'no', code: XML, message: invalid('auto', 'cid', 'bogus'), path: '/domain/devices/vsock/cid/@auto' },
]);

describe("the first error is libvirt's first", () => {
  it('disk: <target> before <driver>', () => {
    rejects(domain(`<disk type='file' device='disk'><driver cache='x'/><source file='/a'/><target dev='vda' bus='x'/></disk>`), XML, invalid('bus', 'target', 'x'), `${d1}/target/@bus`);
  });
  it('disk: the disk attributes before <source startupPolicy>', () => {
    rejects(domain(`<disk type='file' device='cdrom' sgio='x'><source file='/a' startupPolicy='x'/><target dev='hdc'/></disk>`), XML, invalid('sgio', 'disk', 'x'), `${d1}/@sgio`);
  });
  it("disk: the driver's virtio options before its cache", () => {
    rejects(domain(file('', "<driver cache='x' packed='x'/>")), XML, invalid('packed', 'driver', 'x'), `${d1}/driver/@packed`);
  });
  it('controller: the model before the driver', () => {
    rejects(domain("<controller type='scsi' model='x'><driver ioeventfd='x'/></controller>"), CONF, conf("Unknown model type 'x'"), `${c1}/@model`);
  });
  it('interface: <mac> before the device info and <driver>', () => {
    rejects(domain("<interface type='user'><mac address='52:54:00:11:22:33' type='x'/><model type='virtio'/><driver name='x'/></interface>"), XML, invalid('type', 'mac', 'x'), `${i1}/mac/@type`);
  });
  it('panic: the device info before the model', () => {
    rejects(domain("<panic model='x'><address type='x'/></panic>"), CONF, conf("unknown address type 'x'"), '/domain/devices/panic[1]/address/@type');
  });
});
