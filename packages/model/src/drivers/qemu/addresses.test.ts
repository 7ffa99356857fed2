/**
 * QEMU address assignment on its own: definitions already holding every
 * default device (what libvirt has once the other post-parse steps ran) are
 * decoded as written (no parse-time rules) and go through the address rules
 * only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookwormQemuCaps } from '../../caps/index.ts';
import { freeze } from 'immer';
import { decode } from '../../codec/codec.ts';
import { domainSpec } from '../../domain/spec/domain.ts';
import { readXml } from '../../xml/read.ts';
import type { DomainDef } from '../../domain/types.ts';
import { VirtError, type ErrorCode } from '../../errors.ts';
import { domainRules, makeRecorder } from '../../postparse/rules.ts';
import type { Ctx, DriverConf, Provenance } from '../../postparse/types.ts';
import { qemuAddressRules } from './addresses.ts';
import type { AddressCaps } from './addresses-common.ts';
import { createQemuData, type QemuData } from './data.ts';

/** Only the address rules run: the driver is named, nothing more. */
const driver: DriverConf<QemuData> = { name: 'qemu', domainTypes: ['qemu', 'kvm'] };
const I440FX = 'pc-i440fx-7.2';
const Q35 = 'pc-q35-7.2';

function domain(machine: string, devices: string, extra = ''): string {
  return `<domain type='kvm'>
  <name>t</name>
  <memory unit='MiB'>512</memory>
  ${extra}
  <os><type arch='x86_64' machine='${machine}'>hvm</type></os>
  <devices>
    ${devices}
  </devices>
</domain>`;
}

/** Runs the address rules alone; `caps` overrides the emulator's capabilities. */
function assign(xml: string, caps?: Partial<AddressCaps>, flags?: Partial<Ctx<QemuData>['flags']>): { def: DomainDef; provenance: Provenance[] } {
  const parsed = freeze(decode(readXml(xml), domainSpec, '/domain', []), true) as DomainDef;
  const provenance: Provenance[] = [];
  const base = createQemuData(bookwormQemuCaps, parsed);
  const data = (caps ? { ...base, addressCaps: caps } : base) as QemuData;
  const ctx: Ctx<QemuData> & { recorder: ReturnType<typeof makeRecorder> } = {
    recorder: makeRecorder(() => 'qemu', (p) => provenance.push(p)),
    caps: bookwormQemuCaps,
    data,
    flags: { inactive: true, abiUpdate: true, skipValidate: false, ...flags },
    driver,
    random: (b) => b,
    filled: (path, value, why, rule = 'manual') => provenance.push({ path, value, driver: 'qemu', rule, why }),
  };
  return { def: domainRules(qemuAddressRules)(parsed, ctx), provenance };
}

function fails(xml: string, code: ErrorCode, message: string, path: string, caps?: Partial<AddressCaps>, flags?: Partial<Ctx<QemuData>['flags']>): void {
  assert.throws(
    () => assign(xml, caps, flags),
    (e: unknown) => {
      assert.ok(e instanceof VirtError, String(e));
      assert.equal(e.message, message);
      assert.equal(e.code, code);
      assert.equal(e.path, path);
      return true;
    },
  );
}

type Addr = { type?: string; domain?: string; bus?: string; slot?: string; function?: string; multifunction?: string; controller?: string; port?: string };

/** `00:03.0`, with `+m` when multifunction='on' (and `-m` for off). */
function pci(a: Addr | undefined): string | undefined {
  if (!a) return undefined;
  assert.equal(a.type, 'pci');
  assert.equal(a.domain, '0x0000');
  const m = a.multifunction === 'on' ? '+m' : a.multifunction === 'off' ? '-m' : '';
  return `${a.bus!.slice(2)}:${a.slot!.slice(2)}.${a.function!.slice(2)}${m}`;
}

function ctrl(def: DomainDef, type: string, index: number) {
  return def.devices!.controllers!.find((c) => c.type === type && c.index === String(index));
}

const BALLOON = "<memballoon model='virtio'/>";
const PS2 = "<input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/>";

describe('QEMU address assignment: worked examples', () => {
  it('i440fx: PIIX3 functions, video at slot 2, one spare slot held back in the dry run only', () => {
    const { def } = assign(
      domain(
        I440FX,
        `<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
         <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><address type='drive' controller='0' bus='1' target='0' unit='0'/></disk>
         <controller type='usb' index='0' model='piix3-uhci'/>
         <controller type='pci' index='0' model='pci-root'/>
         <controller type='ide' index='0'/>
         <interface type='user'><model type='virtio'/></interface>
         <input type='tablet' bus='usb'/>${PS2}
         <graphics type='vnc'/>
         <sound model='ich6'/>
         <video><model type='vga' primary='yes'/></video>
         ${BALLOON}`,
      ),
    );
    const d = def.devices!;
    assert.equal(pci(ctrl(def, 'usb', 0)!.address), '00:01.2');
    assert.equal(pci(ctrl(def, 'ide', 0)!.address), '00:01.1');
    assert.equal(pci(d.videos![0]!.address), '00:02.0');
    assert.equal(pci(d.interfaces![0]!.address), '00:03.0');
    assert.equal(pci(d.sounds![0]!.address), '00:04.0');
    assert.equal(pci(d.disks![0]!.address), '00:05.0');
    assert.equal(d.disks![1]!.address!.type, 'drive');
    assert.equal(pci(d.memballoon!.address), '00:06.0');
    assert.deepEqual(d.inputs![0]!.address, { type: 'usb', bus: '0', port: '1' });
    assert.equal(d.inputs![1]!.address, undefined);
    const root = ctrl(def, 'pci', 0)!;
    assert.deepEqual([root.address, root.modelName, root.target], [undefined, undefined, undefined]);
    assert.equal(d.controllers!.length, 3);
  });

  it('q35: every PCIe endpoint behind its own pcie-root-port, packed in slot 2, plus one spare port', () => {
    const { def, provenance } = assign(
      domain(
        Q35,
        `<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
         <controller type='usb' index='0' model='qemu-xhci'/>
         <controller type='sata' index='0'/>
         <controller type='pci' index='0' model='pcie-root'/>
         <controller type='virtio-serial' index='0'/>
         <interface type='user'><model type='virtio'/></interface>
         <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
         <input type='tablet' bus='usb'/>${PS2}
         <graphics type='vnc'/>
         <video><model type='vga' primary='yes'/></video>
         ${BALLOON}`,
      ),
    );
    const d = def.devices!;
    assert.deepEqual(d.channels![0]!.address, { type: 'virtio-serial', controller: '0', bus: '0', port: '1' });
    assert.equal(pci(ctrl(def, 'sata', 0)!.address), '00:1f.2');
    assert.equal(pci(d.videos![0]!.address), '00:01.0');
    assert.deepEqual(
      d.controllers!.map((c) => `${c.type}${c.index}`),
      ['usb0', 'sata0', 'pci0', 'virtio-serial0', 'pci1', 'pci2', 'pci3', 'pci4', 'pci5', 'pci6'],
    );
    for (let i = 1; i <= 6; i++) {
      const port = ctrl(def, 'pci', i)!;
      assert.equal(port.model, 'pcie-root-port');
      assert.deepEqual(port.modelName, { name: 'pcie-root-port' });
      assert.deepEqual(port.target, { chassis: String(i), port: `0x${(0x10 + i - 1).toString(16)}` });
      assert.equal(pci(port.address), `00:02.${i - 1}${i === 1 ? '+m' : ''}`);
    }
    assert.equal(pci(d.interfaces![0]!.address), '01:00.0');
    assert.equal(pci(ctrl(def, 'usb', 0)!.address), '02:00.0');
    assert.equal(pci(ctrl(def, 'virtio-serial', 0)!.address), '03:00.0');
    assert.equal(pci(d.disks![0]!.address), '04:00.0');
    assert.equal(pci(d.memballoon!.address), '05:00.0');
    assert.deepEqual(d.inputs![0]!.address, { type: 'usb', bus: '0', port: '1' });
    // Provenance names the rule that added each controller.
    const added = provenance.find((p) => p.path === '/domain/devices/controller[5]/@model');
    assert.equal(added?.rule, 'pci-addresses');
    assert.equal(added?.value, 'pcie-root-port');
  });

  const LEGACY_Q35 = domain(
    Q35,
    `<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
     <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>
     <controller type='usb' index='0' model='qemu-xhci'/>
     <controller type='sata' index='0'/>
     <controller type='pci' index='0' model='pcie-root'/>
     <interface type='user'><model type='e1000'/></interface>
     ${BALLOON}`,
  );

  it('q35 with a legacy PCI NIC: a restricted root port and a pcie-to-pci-bridge', () => {
    const { def } = assign(LEGACY_Q35);
    const d = def.devices!;
    assert.deepEqual(
      d.controllers!.filter((c) => c.type === 'pci').map((c) => [c.index, c.model, pci(c.address)]),
      [
        ['0', 'pcie-root', undefined],
        ['1', 'pcie-root-port', '00:01.0+m'],
        ['2', 'pcie-to-pci-bridge', '01:00.0'],
        ['3', 'pcie-root-port', '00:01.1'],
        ['4', 'pcie-root-port', '00:01.2'],
        ['5', 'pcie-root-port', '00:01.3'],
        ['6', 'pcie-root-port', '00:01.4'],
      ],
    );
    assert.deepEqual(ctrl(def, 'pci', 1)!.target, { chassis: '1', port: '0x8' });
    assert.deepEqual(ctrl(def, 'pci', 3)!.target, { chassis: '3', port: '0x9' });
    assert.deepEqual(ctrl(def, 'pci', 6)!.target, { chassis: '6', port: '0xc' });
    assert.deepEqual(ctrl(def, 'pci', 2)!.modelName, { name: 'pcie-pci-bridge' });
    assert.equal(ctrl(def, 'pci', 2)!.target, undefined);
    assert.equal(pci(d.interfaces![0]!.address), '02:01.0');
    assert.equal(pci(ctrl(def, 'usb', 0)!.address), '03:00.0');
    assert.equal(pci(d.disks![0]!.address), '04:00.0');
    assert.equal(pci(d.memballoon!.address), '05:00.0');
  });

  it('q35 with a legacy PCI NIC and no pcie-pci-bridge in QEMU: dmi-to-pci-bridge at 00:1e.0 and a pci-bridge', () => {
    const { def } = assign(LEGACY_Q35, { pciePciBridge: false });
    const d = def.devices!;
    assert.deepEqual(
      d.controllers!.filter((c) => c.type === 'pci').map((c) => [c.index, c.model, pci(c.address), c.modelName?.name]),
      [
        ['0', 'pcie-root', undefined, undefined],
        ['1', 'dmi-to-pci-bridge', '00:1e.0', 'i82801b11-bridge'],
        ['2', 'pci-bridge', '01:00.0', 'pci-bridge'],
        ['3', 'pcie-root-port', '00:01.0+m', 'pcie-root-port'],
        ['4', 'pcie-root-port', '00:01.1', 'pcie-root-port'],
        ['5', 'pcie-root-port', '00:01.2', 'pcie-root-port'],
        ['6', 'pcie-root-port', '00:01.3', 'pcie-root-port'],
      ],
    );
    assert.deepEqual(ctrl(def, 'pci', 2)!.target, { chassisNr: '2' });
    assert.deepEqual(ctrl(def, 'pci', 3)!.target, { chassis: '3', port: '0x8' });
    assert.equal(pci(d.interfaces![0]!.address), '02:01.0');
    assert.equal(pci(ctrl(def, 'usb', 0)!.address), '03:00.0');
    assert.equal(pci(d.disks![0]!.address), '04:00.0');
    assert.equal(pci(d.memballoon!.address), '05:00.0');
  });

  it('uses ioh3420 for root ports when QEMU has no pcie-root-port device', () => {
    const { def } = assign(LEGACY_Q35, { pcieRootPort: false });
    assert.deepEqual(ctrl(def, 'pci', 1)!.modelName, { name: 'ioh3420' });
  });
});

describe('QEMU address assignment: PCI details', () => {
  const NICS = (n: number, model = 'rtl8139') => Array.from({ length: n }, () => `<interface type='user'><model type='${model}'/></interface>`).join('');

  it('marks function 0 multifunction when other functions of its slot are used, keeping an explicit off', () => {
    const { def } = assign(
      domain(
        I440FX,
        `<controller type='usb' index='0' model='none'/>
         <controller type='pci' index='0' model='pci-root'/>
         <interface type='user'><model type='rtl8139'/><address type='pci' domain='0' bus='0' slot='5' function='0'/></interface>
         <interface type='user'><model type='rtl8139'/><address type='pci' slot='0x05' function='1'/></interface>
         <interface type='user'><model type='rtl8139'/><address type='pci' slot='6' function='0' multifunction='off'/></interface>
         <interface type='user'><model type='rtl8139'/><address type='pci' slot='6' function='2'/></interface>
         <memballoon model='none'/>`,
      ),
    );
    const nets = def.devices!.interfaces!;
    assert.deepEqual(nets.map((n) => pci(n.address)), ['00:05.0+m', '00:05.1', '00:06.0-m', '00:06.2']);
    // Written the way libvirt formats them.
    assert.deepEqual(nets[1]!.address, { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x05', function: '0x1' });
  });

  it('puts USB2 companions in one slot: uhci1 function 0 (multifunction), ehci1 .7, uhci2 .1, uhci3 .2', () => {
    const { def } = assign(
      domain(
        I440FX,
        `<controller type='usb' index='0' model='ich9-ehci1'/>
         <controller type='usb' index='0' model='ich9-uhci1'><master startport='0'/></controller>
         <controller type='usb' index='0' model='ich9-uhci2'><master startport='2'/></controller>
         <controller type='usb' index='0' model='ich9-uhci3'><master startport='4'/></controller>
         <controller type='pci' index='0' model='pci-root'/>
         <memballoon model='none'/>`,
      ),
    );
    assert.deepEqual(
      def.devices!.controllers!.filter((c) => c.type === 'usb').map((c) => pci(c.address)),
      ['00:02.7', '00:02.0+m', '00:02.1', '00:02.2'],
    );
  });

  it('i440fx: adds a pci-bridge when endpoints would take the last free slot, and places it first', () => {
    const { def } = assign(
      domain(I440FX, `<controller type='usb' index='0' model='none'/><controller type='pci' index='0' model='pci-root'/>${NICS(29)}<video><model type='vga'/></video><memballoon model='none'/>`),
    );
    const bridge = ctrl(def, 'pci', 1)!;
    assert.equal(bridge.model, 'pci-bridge');
    assert.equal(pci(bridge.address), '00:03.0');
    assert.deepEqual(bridge.modelName, { name: 'pci-bridge' });
    assert.deepEqual(bridge.target, { chassisNr: '1' });
    const nets = def.devices!.interfaces!;
    assert.equal(pci(nets[0]!.address), '00:04.0');
    assert.equal(pci(nets[27]!.address), '00:1f.0');
    assert.equal(pci(nets[28]!.address), '01:01.0');
  });

  it('i440fx: 28 endpoints fit without a bridge, leaving slot 0x1f free', () => {
    const { def } = assign(
      domain(I440FX, `<controller type='usb' index='0' model='none'/><controller type='pci' index='0' model='pci-root'/>${NICS(28)}<video><model type='vga'/></video><memballoon model='none'/>`),
    );
    assert.equal(ctrl(def, 'pci', 1), undefined);
    assert.equal(pci(def.devices!.interfaces![27]!.address), '00:1e.0');
  });

  it('q35: a legacy PCI address on a bus that does not exist yet moves behind the bridge libvirt adds', () => {
    const { def } = assign(
      domain(
        Q35,
        `<controller type='usb' index='0' model='none'/><controller type='sata' index='0'/><controller type='pci' index='0' model='pcie-root'/>
         <interface type='user'><model type='e1000'/><address type='pci' bus='1' slot='1'/></interface><memballoon model='none'/>`,
      ),
    );
    assert.equal(pci(def.devices!.interfaces![0]!.address), '02:01.0');
    assert.deepEqual(
      def.devices!.controllers!.filter((c) => c.type === 'pci').map((c) => [c.index, c.model, pci(c.address)]),
      [
        ['0', 'pcie-root', undefined],
        ['1', 'pcie-root-port', '00:01.0+m'],
        ['2', 'pcie-to-pci-bridge', '01:00.0'],
        ['3', 'pcie-root-port', '00:01.1'],
      ],
    );
  });

  it('i440fx without video: the held-back slot is 00:02', () => {
    const { def } = assign(
      domain(I440FX, `<controller type='usb' index='0' model='none'/><controller type='pci' index='0' model='pci-root'/>${NICS(30)}<memballoon model='none'/>`),
    );
    assert.equal(pci(ctrl(def, 'pci', 1)!.address), '00:02.0');
    assert.equal(pci(def.devices!.interfaces![29]!.address), '01:01.0');
  });

  it('q35: a full slot of root ports moves on to the next slot', () => {
    const { def } = assign(
      domain(Q35, `<controller type='usb' index='0' model='none'/><controller type='sata' index='0'/><controller type='pci' index='0' model='pcie-root'/>${NICS(9, 'virtio')}<video><model type='vga'/></video><memballoon model='none'/>`),
    );
    const ports = def.devices!.controllers!.filter((c) => c.model === 'pcie-root-port');
    // Nine NICs and the spare.
    assert.equal(ports.length, 10);
    assert.deepEqual(ports.map((p) => pci(p.address)), ['00:02.0+m', '00:02.1', '00:02.2', '00:02.3', '00:02.4', '00:02.5', '00:02.6', '00:02.7', '00:03.0+m', '00:03.1']);
    assert.deepEqual(ports[8]!.target, { chassis: '9', port: '0x18' });
    assert.equal(pci(def.devices!.interfaces![8]!.address), '09:00.0');
  });

  it('q35: no spare root port when the XML already had PCI controllers', () => {
    const { def } = assign(
      domain(
        Q35,
        `<controller type='usb' index='0' model='none'/><controller type='sata' index='0'/>
         <controller type='pci' index='0' model='pcie-root'/><controller type='pci' index='1' model='pcie-root-port'/>
         ${NICS(2, 'virtio')}<memballoon model='none'/>`,
      ),
    );
    const ports = def.devices!.controllers!.filter((c) => c.model === 'pcie-root-port');
    assert.deepEqual(ports.map((p) => [p.index, pci(p.address)]), [['1', '00:01.0+m'], ['2', '00:01.1']]);
    assert.deepEqual(def.devices!.interfaces!.map((n) => pci(n.address)), ['01:00.0', '02:00.0']);
  });

  it('q35: a gap between PCI controller indexes becomes a root port', () => {
    const { def } = assign(
      domain(
        Q35,
        `<controller type='usb' index='0' model='none'/><controller type='sata' index='0'/>
         <controller type='pci' index='0' model='pcie-root'/><controller type='pci' index='2' model='pcie-root-port'/>
         <memballoon model='none'/>`,
      ),
    );
    assert.deepEqual(def.devices!.controllers!.map((c) => `${c.type}${c.index}:${c.model ?? ''}`), ['usb0:none', 'sata0:', 'pci0:pcie-root', 'pci2:pcie-root-port', 'pci1:pcie-root-port']);
    assert.equal(pci(ctrl(def, 'pci', 2)!.address), '00:01.0+m');
    assert.equal(pci(ctrl(def, 'pci', 1)!.address), '00:01.1');
  });

  it('q35: ich9 sound at 00:1b.0, the first ich9-uhci1 at 00:1d.0, a dmi-to-pci-bridge at 00:1e.0', () => {
    const { def } = assign(
      domain(
        Q35,
        `<controller type='usb' index='0' model='ich9-ehci1'/>
         <controller type='usb' index='0' model='ich9-uhci1'/>
         <controller type='sata' index='0'/>
         <controller type='pci' index='0' model='pcie-root'/>
         <controller type='pci' index='1' model='dmi-to-pci-bridge'/>
         <controller type='pci' index='2' model='pci-bridge'/>
         <sound model='ich9'/>
         <memballoon model='none'/>`,
      ),
    );
    assert.equal(pci(def.devices!.sounds![0]!.address), '00:1b.0');
    assert.equal(pci(def.devices!.controllers![1]!.address), '00:1d.0+m');
    assert.equal(pci(def.devices!.controllers![0]!.address), '00:1d.7');
    assert.equal(pci(ctrl(def, 'pci', 1)!.address), '00:1e.0');
    assert.equal(pci(ctrl(def, 'pci', 2)!.address), '01:00.0');
  });

  it('gives a pci-expander-bus a busNr two below the lowest in use', () => {
    const { def } = assign(
      domain(
        I440FX,
        `<controller type='usb' index='0' model='none'/>
         <controller type='pci' index='0' model='pci-root'/>
         <controller type='pci' index='1' model='pci-expander-bus'><target busNr='100'/></controller>
         <controller type='pci' index='2' model='pci-expander-bus'/>
         <memballoon model='none'/>`,
      ),
    );
    assert.deepEqual(ctrl(def, 'pci', 2)!.target, { busNr: '98' });
    assert.deepEqual(ctrl(def, 'pci', 2)!.modelName, { name: 'pxb' });
  });

  it('leaves a device with an address of its own where it is, only rewriting it as libvirt writes it', () => {
    const { def, provenance } = assign(
      domain(I440FX, `<controller type='usb' index='0' model='none'/><controller type='pci' index='0' model='pci-root'/><interface type='user'><model type='virtio'/><address type='pci' bus='0' slot='9'/></interface><memballoon model='none'/>`),
    );
    assert.deepEqual(def.devices!.interfaces![0]!.address, { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x09', function: '0x0' });
    assert.ok(provenance.some((p) => p.path === '/domain/devices/interface[1]/address/@slot' && p.value === '0x09' && p.rule === 'address-format'));
  });
});

describe('QEMU address assignment: virtio-serial', () => {
  it('gives a virtio console port 0 without writing it, channels the next ports, and adds a controller when one is full', () => {
    const { def } = assign(
      domain(
        I440FX,
        `<controller type='usb' index='0' model='none'/>
         <controller type='pci' index='0' model='pci-root'/>
         <controller type='virtio-serial' index='0' ports='3'/>
         <channel type='pty'><target type='virtio' name='a'/></channel>
         <channel type='pty'><target type='virtio' name='b'/></channel>
         <channel type='pty'><target type='virtio' name='c'/></channel>
         <console type='pty'><target type='virtio' port='0'/></console>
         <memballoon model='none'/>`,
      ),
    );
    const d = def.devices!;
    assert.equal(d.consoles![0]!.address, undefined);
    assert.deepEqual(d.channels!.map((c) => [c.address!.controller, c.address!.port]), [['0', '1'], ['0', '2'], ['1', '1']]);
    const added = ctrl(def, 'virtio-serial', 1)!;
    assert.deepEqual({ type: added.type, index: added.index }, { type: 'virtio-serial', index: '1' });
    assert.equal(added.model, undefined);
    assert.equal(pci(added.address), '00:03.0');
  });

  it('takes a port on the named controller when the address only names it', () => {
    const { def } = assign(
      domain(
        I440FX,
        `<controller type='usb' index='0' model='none'/><controller type='pci' index='0' model='pci-root'/>
         <controller type='virtio-serial' index='0'/><controller type='virtio-serial' index='1'/>
         <channel type='pty'><target type='virtio' name='a'/><address type='virtio-serial' controller='1' port='1'/></channel>
         <channel type='pty'><target type='virtio' name='b'/><address type='virtio-serial' controller='1'/></channel>
         <memballoon model='none'/>`,
      ),
    );
    assert.deepEqual(def.devices!.channels!.map((c) => c.address), [
      { type: 'virtio-serial', controller: '1', bus: '0', port: '1' },
      { type: 'virtio-serial', controller: '1', bus: '0', port: '2' },
    ]);
  });
});

describe('QEMU address assignment: USB', () => {
  it('adds a hub when the controllers have too few ports, and fills it depth-first', () => {
    const { def } = assign(
      domain(
        I440FX,
        `<controller type='usb' index='0' model='piix3-uhci'/>
         <controller type='pci' index='0' model='pci-root'/>
         <input type='tablet' bus='usb'/><input type='keyboard' bus='usb'/>${PS2}
         <graphics type='spice'/>
         <redirdev bus='usb' type='spicevmc'/>
         <memballoon model='none'/>`,
      ),
    );
    const d = def.devices!;
    assert.deepEqual(d.hubs, [{ type: 'usb', address: { type: 'usb', bus: '0', port: '1' } }]);
    assert.deepEqual(d.inputs!.slice(0, 2).map((i) => i.address!.port), ['2', '1.1']);
    assert.equal(d.redirdevs![0]!.address!.port, '1.2');
  });

  it('keeps an explicit port and takes the lowest free one for the rest', () => {
    const { def } = assign(
      domain(
        Q35,
        `<controller type='usb' index='0' model='qemu-xhci' ports='8'/><controller type='sata' index='0'/>
         <controller type='pci' index='0' model='pcie-root'/>
         <input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input>
         <input type='mouse' bus='usb'/>
         <memballoon model='none'/>`,
      ),
    );
    assert.deepEqual(def.devices!.inputs!.map((i) => i.address), [{ type: 'usb', bus: '0', port: '1' }, { type: 'usb', bus: '0', port: '2' }]);
  });
});

describe('QEMU address assignment: memory slots and spapr-vio', () => {
  it('gives DIMMs the lowest free slot', () => {
    const { def } = assign(
      domain(
        I440FX,
        `<controller type='usb' index='0' model='none'/><controller type='pci' index='0' model='pci-root'/>
         <memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target><address type='dimm' slot='0' base='0X100000000'/></memory>
         <memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>
         <memballoon model='none'/>`,
        "<maxMemory slots='4' unit='GiB'>4</maxMemory>",
      ),
    );
    assert.deepEqual(def.devices!.memoryDevices!.map((m) => m.address), [{ type: 'dimm', slot: '0', base: '0x100000000' }, { type: 'dimm', slot: '1' }]);
  });

  it('puts an ibmvscsi controller on the spapr-vio bus at its default register', () => {
    const { def } = assign(
      domain(I440FX, `<controller type='usb' index='0' model='none'/><controller type='scsi' index='0' model='ibmvscsi'/><controller type='pci' index='0' model='pci-root'/><memballoon model='none'/>`),
    );
    assert.deepEqual(ctrl(def, 'scsi', 0)!.address, { type: 'spapr-vio', reg: '0x00002000' });
  });
});

describe('QEMU address assignment: errors', () => {
  const base = (devices: string, machine = I440FX) =>
    domain(machine, `<controller type='usb' index='0' model='none'/><controller type='pci' index='0' model='${machine === Q35 ? 'pcie-root' : 'pci-root'}'/>${machine === Q35 ? "<controller type='sata' index='0'/>" : ''}${devices}<memballoon model='none'/>`);

  it('two devices at one PCI address', () => {
    fails(
      base(`<interface type='user'><model type='e1000'/><address type='pci' slot='5'/></interface><interface type='user'><model type='e1000'/><address type='pci' slot='5'/></interface>`),
      'XML_ERROR',
      'XML error: Attempted double use of PCI Address 0000:00:05.0',
      '/domain/devices/interface[2]/address',
    );
  });

  it('a device on the PIIX3 ISA bridge', () => {
    fails(base(`<interface type='user'><model type='e1000'/><address type='pci' slot='1'/></interface>`), 'XML_ERROR', 'XML error: Attempted double use of PCI Address 0000:00:01.0', '/domain/devices');
  });

  it('the primary IDE controller elsewhere than 0:0:1.1', () => {
    fails(base(`<controller type='ide' index='0'><address type='pci' slot='4'/></controller>`), 'INTERNAL_ERROR', 'internal error: Primary IDE controller must have PCI address 0:0:1.1', '/domain/devices/controller[3]/address');
  });

  it('the PIIX3 USB controller elsewhere than 0:0:1.2', () => {
    fails(
      domain(I440FX, `<controller type='usb' index='0' model='piix3-uhci'><address type='pci' slot='4'/></controller><controller type='pci' index='0' model='pci-root'/>`),
      'INTERNAL_ERROR',
      'internal error: PIIX3 USB controller at index 0 must have PCI address 0:0:1.2',
      '/domain/devices/controller[1]/address',
    );
  });

  it('the primary SATA controller elsewhere than 0:0:1f.2', () => {
    fails(
      domain(Q35, `<controller type='sata' index='0'><address type='pci' slot='4'/></controller><controller type='pci' index='0' model='pcie-root'/><controller type='usb' index='0' model='none'/>`),
      'INTERNAL_ERROR',
      'internal error: Primary SATA controller must have PCI address 0:0:1f.2',
      '/domain/devices/controller[1]/address',
    );
  });

  it('a virtio disk with a drive address', () => {
    fails(
      base(`<disk type='file' device='disk'><target dev='vda' bus='virtio'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>`),
      'CONFIG_UNSUPPORTED',
      "unsupported configuration: virtio disk cannot have an address of type 'drive'",
      '/domain/devices/disk[1]/address/@type',
    );
  });

  it('a PCI device that cannot connect to the bus it names', () => {
    fails(
      base(`<controller type='pci' index='1' model='pcie-root-port'/><controller type='pci' index='2' model='pci-expander-bus'><address type='pci' bus='1' slot='0'/></controller>`, Q35),
      'XML_ERROR',
      "XML error: The device at PCI address 0000:01:00.0 cannot be plugged into the PCI controller with index='1'. It requires a controller that accepts a pci-expander-bus.",
      '/domain/devices/controller[5]/address',
    );
  });

  it('a slot a root port does not have', () => {
    fails(
      base(`<controller type='pci' index='1' model='pcie-root-port'/><interface type='user'><model type='virtio'/><address type='pci' bus='1' slot='3'/></interface>`, Q35),
      'XML_ERROR',
      'XML error: Invalid PCI address 0000:01:03.0. slot must be <= 0',
      '/domain/devices/interface[1]/address',
    );
  });

  it('a virtio IOMMU off bus 0', () => {
    fails(
      base(`<controller type='pci' index='1' model='pcie-root-port'/><iommu model='virtio'><address type='pci' bus='1' slot='0'/></iommu>`, Q35),
      'XML_ERROR',
      'XML error: The device at PCI address 0000:01:00.0 needs to be an integrated device (bus=0)',
      '/domain/devices/iommu/address',
    );
  });

  it('a PCI address outside domain 0', () => {
    fails(
      base(`<interface type='user'><model type='e1000'/><address type='pci' domain='1' bus='0' slot='5'/></interface>`),
      'XML_ERROR',
      'XML error: Invalid PCI address 0001:00:05.0. Only PCI domain 0 is available',
      '/domain/devices/interface[1]/address',
    );
  });

  it('slot 0 of a pci-bridge', () => {
    fails(
      base(`<controller type='pci' index='1' model='pci-bridge'/><interface type='user'><model type='e1000'/><address type='pci' bus='1' slot='0'/></interface>`),
      'XML_ERROR',
      'XML error: Invalid PCI address 0000:01:00.0. slot must be >= 1',
      '/domain/devices/interface[1]/address',
    );
  });

  it('a PIIX3 function on a PCI Express root bus', () => {
    fails(
      base(`<controller type='ide' index='0'><address type='pci' slot='1' function='1'/></controller>`, Q35),
      'INTERNAL_ERROR',
      'internal error: Bus 0 must be PCI for integrated PIIX3 USB or IDE controllers',
      '/domain/devices/controller[4]/address',
    );
  });

  it('a PCI controller without a model', () => {
    fails(base(`<controller type='pci' index='1'/>`), 'INTERNAL_ERROR', 'internal error: PCI controller model was not set correctly', '/domain/devices/controller[3]');
  });

  it('a PCI device with no PCI controller at all', () => {
    fails(
      domain(I440FX, `<controller type='usb' index='0' model='none'/><video><model type='vga'/></video>`),
      'XML_ERROR',
      'XML error: No PCI buses available',
      '/domain/devices/video[1]',
    );
  });

  it('a walked device that does not connect through PCI', () => {
    fails(base(`<sound model='ich7'/>`), 'INTERNAL_ERROR', 'internal error: Cannot automatically add a new PCI bus for a device with connect flags 00', '/domain/devices/sound[1]');
  });

  it('more root ports than pcie-root has functions (30 free slots of 8)', () => {
    const ports = Array.from({ length: 250 }, (_, i) => `<controller type='pci' index='${i + 1}' model='pcie-root-port'/>`).join('');
    fails(base(ports, Q35), 'INTERNAL_ERROR', "internal error: a PCI slot is needed to connect a PCI controller model='pcie-root-port', but none is available, and it cannot be automatically added", '/domain/devices/controller[244]');
  });

  it('an added pci-bridge with no slot left for it', () => {
    const nics = Array.from({ length: 59 }, () => `<interface type='user'><model type='rtl8139'/></interface>`).join('');
    fails(
      base(`${nics}<video><model type='vga'/></video>`),
      'INTERNAL_ERROR',
      "internal error: a PCI slot is needed to connect a PCI controller model='pci-bridge', but none is available, and it cannot be automatically added",
      '/domain/devices/controller[3]',
    );
  });

  it('a pci-bridge that can only sit on its own bus', () => {
    fails(
      base(`<controller type='pci' index='1' model='pci-bridge'/>`, Q35),
      'CONFIG_UNSUPPORTED',
      "unsupported configuration: PCI controller at index 1 (0x01) has bus='0x01', but index must be larger than bus",
      '/domain/devices/controller[4]/address',
    );
  });

  it('a pci-expander-bus with no busNr left below the lowest', () => {
    fails(
      base(`<controller type='pci' index='1' model='pci-expander-bus'><target busNr='2'/></controller><controller type='pci' index='2' model='pci-expander-bus'/>`),
      'CONFIG_UNSUPPORTED',
      'unsupported configuration: No free busNr lower than current lowest busNr is available to auto-assign to bus 0. Must be manually assigned',
      '/domain/devices/controller[4]/target/@busNr',
    );
  });

  const serial = (devices: string) => base(`<controller type='virtio-serial' index='0' ports='2'/>${devices}`);

  it('a virtio-serial address on a missing controller', () => {
    fails(
      serial(`<channel type='pty'><target type='virtio' name='a'/><address type='virtio-serial' controller='1' port='1'/></channel>`),
      'XML_ERROR',
      'XML error: virtio serial controller 1 is missing',
      '/domain/devices/channel[1]/address',
    );
  });

  it('a virtio-serial port the controller does not have', () => {
    fails(
      serial(`<channel type='pty'><target type='virtio' name='a'/><address type='virtio-serial' controller='0' port='2'/></channel>`),
      'XML_ERROR',
      'XML error: virtio serial controller 0 does not have port 2',
      '/domain/devices/channel[1]/address',
    );
  });

  it('two channels on one virtio-serial port', () => {
    fails(
      serial(
        `<channel type='pty'><target type='virtio' name='a'/><address type='virtio-serial' controller='0' port='1'/></channel><channel type='pty'><target type='virtio' name='b'/><address type='virtio-serial' controller='0' port='1'/></channel>`,
      ),
      'XML_ERROR',
      'XML error: virtio serial port 1 on controller 0 is already occupied',
      '/domain/devices/channel[2]/address',
    );
  });

  it('no free port on the named virtio-serial controller', () => {
    fails(
      serial(
        `<channel type='pty'><target type='virtio' name='a'/><address type='virtio-serial' controller='0' port='1'/></channel><channel type='pty'><target type='virtio' name='b'/><address type='virtio-serial' controller='0'/></channel>`,
      ),
      'XML_ERROR',
      'XML error: Unable to find a free port on virtio-serial controller 0',
      '/domain/devices/channel[2]',
    );
  });

  it('a channel naming a virtio-serial controller that does not exist', () => {
    fails(
      serial(`<channel type='pty'><target type='virtio' name='a'/><address type='virtio-serial' controller='3'/></channel>`),
      'INTERNAL_ERROR',
      'internal error: virtio-serial controller 3 not available',
      '/domain/devices/channel[1]',
    );
  });

  it('a virtio channel with no virtio-serial controller', () => {
    fails(
      base(`<channel type='pty'><target type='virtio' name='a'/></channel>`),
      'INTERNAL_ERROR',
      'internal error: no virtio-serial controllers are available',
      '/domain/devices/channel[1]',
    );
  });

  it('USB devices with USB disabled', () => {
    fails(
      base(`<input type='tablet' bus='usb'/>`),
      'CONFIG_UNSUPPORTED',
      'unsupported configuration: USB is disabled for this domain, but USB devices are present in the domain XML',
      '/domain/devices',
    );
  });

  const usb = (devices: string) => domain(I440FX, `<controller type='usb' index='0' model='piix3-uhci'/><controller type='pci' index='0' model='pci-root'/>${devices}<memballoon model='none'/>`);

  it('two USB devices at one port', () => {
    fails(
      usb(`<input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input><input type='mouse' bus='usb'><address type='usb' bus='0' port='1'/></input>`),
      'XML_ERROR',
      'XML error: Duplicate USB address bus 0 port 1',
      '/domain/devices/input[2]/address',
    );
  });

  it('a USB bus with no controller', () => {
    fails(
      usb(`<input type='tablet' bus='usb'><address type='usb' bus='1'/></input>`),
      'XML_ERROR',
      'XML error: USB bus 1 requested but no controller with that index is present',
      '/domain/devices/input[1]',
    );
  });

  it('a USB port behind a port with no hub', () => {
    fails(
      usb(`<input type='tablet' bus='usb'><address type='usb' bus='0' port='1.2'/></input>`),
      'XML_ERROR',
      'XML error: there is no hub at port 1 in USB address bus: 0 port: 1.2',
      '/domain/devices/input[1]/address',
    );
  });

  it('a USB port the root hub does not have', () => {
    fails(
      usb(`<input type='tablet' bus='usb'><address type='usb' bus='0' port='3'/></input>`),
      'XML_ERROR',
      'XML error: requested USB port 3 not present on USB bus 0',
      '/domain/devices/input[1]/address',
    );
  });

  it('a USB bus with no controller in an explicit address', () => {
    fails(usb(`<input type='tablet' bus='usb'><address type='usb' bus='1' port='1'/></input>`), 'XML_ERROR', 'XML error: Missing USB bus 1', '/domain/devices/input[1]/address');
  });

  it('a USB port path through a port the hub does not have', () => {
    fails(
      usb(`<input type='tablet' bus='usb'><address type='usb' bus='0' port='3.1'/></input>`),
      'XML_ERROR',
      'XML error: port 3 out of range in USB address bus: 0 port: 3.1',
      '/domain/devices/input[1]/address',
    );
  });

  it('two hubs at one USB port', () => {
    fails(
      usb(`<hub type='usb'><address type='usb' bus='0' port='1'/></hub><hub type='usb'><address type='usb' bus='0' port='1'/></hub>`),
      'XML_ERROR',
      'XML error: Duplicate USB hub on bus 0 port 1',
      '/domain/devices/hub[2]/address',
    );
  });

  it('no USB port left for the hub libvirt adds', () => {
    fails(
      usb(
        `<input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input><input type='mouse' bus='usb'><address type='usb' bus='0' port='2'/></input><input type='keyboard' bus='usb'/>`,
      ),
      'INTERNAL_ERROR',
      'internal error: No free USB ports',
      '/domain/devices/hub[1]',
    );
  });

  it('two USB controllers with one index', () => {
    fails(
      domain(I440FX, `<controller type='usb' index='0' model='piix3-uhci'/><controller type='usb' index='0' model='ehci'/><controller type='pci' index='0' model='pci-root'/><memballoon model='none'/>`),
      'XML_ERROR',
      'XML error: Duplicate USB controllers with index 0',
      '/domain/devices/controller[2]',
    );
  });

  it('more DIMMs than memory slots', () => {
    fails(
      domain(
        I440FX,
        `<controller type='usb' index='0' model='none'/><controller type='pci' index='0' model='pci-root'/>
         <memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>
         <memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>
         <memballoon model='none'/>`,
        "<maxMemory slots='1' unit='GiB'>4</maxMemory>",
      ),
      'INTERNAL_ERROR',
      'internal error: failed to find an empty memory slot',
      '/domain/devices/memory[2]',
    );
  });

  it('a spapr-vio register already in use', () => {
    fails(
      base(`<controller type='scsi' index='0' model='ibmvscsi'><address type='spapr-vio' reg='0x3000'/></controller><serial type='pty'><target type='spapr-vio-serial'/><address type='spapr-vio' reg='0x3000'/></serial>`),
      'XML_ERROR',
      'XML error: spapr-vio address 0x3000 already in use',
      '/domain/devices/controller[3]/address/@reg',
    );
  });
});

describe('QEMU USB addresses without ABI_UPDATE (an existing domain, or libvirt\'s xml2xml tests)', () => {
  const usb = (devices: string) =>
    domain(I440FX, `<controller type='usb' index='0' model='piix3-uhci'><address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/></controller>
      <controller type='pci' index='0' model='pci-root'/>${devices}${PS2}<memballoon model='none'/>`);

  it('assigns no port while some USB device lacks one', () => {
    const { def } = assign(usb("<input type='tablet' bus='usb'/><input type='keyboard' bus='usb'><address type='usb' bus='0' port='2'/></input>"), undefined, { abiUpdate: false });
    assert.equal(def.devices!.inputs![0]!.address, undefined);
    // A new domain gets the free port.
    const fresh = assign(usb("<input type='tablet' bus='usb'/><input type='keyboard' bus='usb'><address type='usb' bus='0' port='2'/></input>")).def;
    assert.deepEqual(fresh.devices!.inputs![0]!.address, { type: 'usb', bus: '0', port: '1' });
  });

  it('still checks the ports when every USB device has one', () => {
    fails(
      usb("<input type='tablet' bus='usb'><address type='usb' bus='0' port='3'/></input>"),
      'XML_ERROR',
      'XML error: requested USB port 3 not present on USB bus 0',
      '/domain/devices/input[1]/address',
      undefined,
      { abiUpdate: false },
    );
  });
});
