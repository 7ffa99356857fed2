/**
 * Of two bad devices of different kinds, the one libvirt 9.0.0 reads first
 * is the one reported: virDomainDefParseXML reads disks, controllers,
 * filesystems, interfaces, smartcards, parallels, serials, consoles,
 * channels, inputs, graphics, sounds, videos, hostdevs, watchdog,
 * memballoon, rngs, tpms, nvram, hubs, redirdevs, panics, shmems, memory,
 * iommu, vsock — each device whole before the next — and validates the
 * chardev sources only once every device is read. Each message below is the
 * real libvirt's on the same domain (test driver, define.py).
 */
import { describe, it } from 'node:test';
import { parseDomainXML } from '../../parse.ts';
import { fixedRandom, kvmDomain, propMessages, rejects as rejectsWith } from '../../testing.ts';

const random = fixedRandom;
const domain = kvmDomain;

function rejects(devices: string, code: string, message: string, path: string): void {
  rejectsWith(() => parseDomainXML(domain(devices), { random }), code, message, path);
}

const XML = 'XML_ERROR';
const CONF = 'CONFIG_UNSUPPORTED';
const { invalid, conf } = propMessages;
const D = '/domain/devices';
const badDisk = "<disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='x'/></disk>";

describe("device kinds: libvirt's order, not the order of our rules", () => {
  it('a disk before a graphics written before it', () => {
    rejects(`<graphics type='bogus'/>${badDisk}`, XML, invalid('bus', 'target', 'x'), `${D}/disk[1]/target/@bus`);
  });
  it('a disk before a serial', () => {
    rejects(`<serial type='bogus'/>${badDisk}`, XML, invalid('bus', 'target', 'x'), `${D}/disk[1]/target/@bus`);
  });
  it('an interface before a serial', () => {
    rejects("<serial type='pty'><target type='bogus'/></serial><interface type='bogus'/>", XML, invalid('type', 'interface', 'bogus'), `${D}/interface[1]/@type`);
  });
  it('a filesystem before a smartcard', () => {
    rejects("<smartcard mode='passthrough' type='bogus'/><filesystem type='bogus'><source dir='/a'/><target dir='b'/></filesystem>", XML, invalid('type', 'filesystem', 'bogus'), `${D}/filesystem[1]/@type`);
  });
  it('a disk before a redirdev', () => {
    rejects(`<redirdev bus='usb' type='bogus'/>${badDisk}`, XML, invalid('bus', 'target', 'x'), `${D}/disk[1]/target/@bus`);
  });
  it("a hostdev before an rng's egd backend", () => {
    rejects("<rng model='virtio'><backend model='egd' type='bogus'/></rng><hostdev mode='bogus'/>", CONF, conf("unknown hostdev mode 'bogus'"), `${D}/hostdev[1]/@mode`);
  });
  it("a disk before an interface's MAC address", () => {
    rejects(`<interface type='user'><mac address='zz'/></interface>${badDisk}`, XML, invalid('bus', 'target', 'x'), `${D}/disk[1]/target/@bus`);
  });
  it('an input before a graphics', () => {
    rejects("<graphics type='bogus'/><input type='bogus'/>", CONF, conf("unknown input device type 'bogus'"), `${D}/input[1]/@type`);
  });
  it('a graphics before a sound', () => {
    rejects("<sound model='bogus'/><graphics type='bogus'/>", XML, invalid('type', 'graphics', 'bogus'), `${D}/graphics[1]/@type`);
  });
  it('a channel before a graphics before a video', () => {
    rejects("<video><model type='bogus'/></video><graphics type='vnc' port='x'/><channel type='pty'><target type='bogus'/></channel>", CONF, conf("unknown target type 'bogus' specified for character device"), `${D}/channel[1]/target/@type`);
  });
});

describe('chardevs: parallels, serials, consoles, channels', () => {
  it('a parallel before a serial', () => {
    rejects("<serial type='bogus'/><parallel type='bogus2'/>", CONF, conf('unknown type presented to host for character device: bogus2'), `${D}/parallel[1]/@type`);
  });
  it('a console before a channel', () => {
    rejects("<channel type='pty'><target type='bogus'/></channel><console type='bogus'/>", CONF, conf('unknown type presented to host for character device: bogus'), `${D}/console[1]/@type`);
  });
  it("a serial's device info before a console's target", () => {
    rejects("<console type='pty'><target type='bogus'/></console><serial type='pty'><address type='bogus'/></serial>", CONF, conf("unknown address type 'bogus'"), `${D}/serial[1]/address/@type`);
  });
  it("a usb-serial's device info before its address check", () => {
    rejects("<serial type='pty'><target type='usb-serial'/><address type='bogus'/></serial>", CONF, conf("unknown address type 'bogus'"), `${D}/serial[1]/address/@type`);
  });
});

describe('within a kind, and within a device', () => {
  it("an interface's type before its MAC address", () => {
    rejects("<interface type='bogus'><mac address='zz'/></interface>", XML, invalid('type', 'interface', 'bogus'), `${D}/interface[1]/@type`);
  });
  it("the first interface whole before the second's MAC address", () => {
    rejects("<interface type='user'><mac address='52:54:00:11:22:33' type='x'/></interface><interface type='user'><mac address='zz'/></interface>", XML, invalid('type', 'mac', 'x'), `${D}/interface[1]/mac/@type`);
  });
  it('the USB controllers\' sanity as each is read, before a later controller', () => {
    rejects("<controller type='usb' index='0' model='none'/><controller type='usb' index='1' model='piix3-uhci'/><controller type='scsi' index='0' model='bogus'/>", 'XML_DETAIL', "Can't add another USB controller: USB is disabled for this domain", `${D}/controller[2]`);
  });
  it('videos in document order, before the primary one is moved to the front', () => {
    rejects("<video><model type='bogus'/></video><video><model type='vga' primary='yes'/><address type='bogus'/></video>", CONF, conf("unknown video model 'bogus'"), `${D}/video[1]/model/@type`);
  });
  it("a redirdev's bus before its type", () => {
    rejects("<redirdev bus='bogus' type='bogus'/>", CONF, conf("unknown redirdev bus 'bogus'"), `${D}/redirdev[1]/@bus`);
  });
  it("an rng's model before its egd backend's type", () => {
    rejects("<rng model='bogus'><backend model='egd' type='bogus'/></rng>", CONF, conf("unknown RNG model 'bogus'"), `${D}/rng[1]/@model`);
  });
});

describe('chardev sources are validated after every device is read', () => {
  it("a serial's missing path after a bad input", () => {
    rejects("<serial type='file'><target port='0'/></serial><input type='bogus'/>", CONF, conf("unknown input device type 'bogus'"), `${D}/input[1]/@type`);
  });
  it("a smartcard's missing path after a bad hub", () => {
    rejects("<smartcard mode='passthrough' type='file'/><hub type='bogus'/>", CONF, conf("unknown hub device type 'bogus'"), `${D}/hub[1]/@type`);
  });
  it("an egd backend's missing host after a bad tpm", () => {
    rejects("<rng model='virtio'><backend model='egd' type='tcp'/></rng><tpm model='bogus'><backend type='emulator'/></tpm>", XML, invalid('model', 'tpm', 'bogus'), `${D}/tpm[1]/@model`);
  });
  it("a redirdev's missing host after a bad panic", () => {
    rejects("<redirdev bus='usb' type='tcp'/><panic model='bogus'/>", CONF, conf("unknown panic model 'bogus'"), `${D}/panic[1]/@model`);
  });
  it('alone, the missing source is still refused', () => {
    rejects("<serial type='file'><target port='0'/></serial>", 'INTERNAL_ERROR', 'internal error: Missing source path attribute for char device', `${D}/serial[1]/source`);
  });
});
