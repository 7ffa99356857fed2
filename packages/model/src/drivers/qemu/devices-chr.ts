/**
 * QEMU post-parse of character devices (qemuDomainChrDefPostParse): the
 * serial target type and model per arch and machine, and, for inactive
 * definitions, the socket path libvirt itself generated for a virtio channel
 * (dropped so it is generated again at start). Ports, the console/serial
 * compatibility and the isa-debug check are the generic layer's.
 */
import { deviceRule, type DeviceRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { archOf, isARMVirt, isPSeries, isRISCVVirt, isS390, isX86 } from './devices-common.ts';

/** The target model a serial target type implies (qemuDomainChrDefPostParse). */
function serialModelFor(type: string | undefined, armVirt: boolean, riscvVirt: boolean): string | undefined {
  switch (type) {
    case 'isa-serial':
      return 'isa-serial';
    case 'usb-serial':
      return 'usb-serial';
    case 'pci-serial':
      return 'pci-serial';
    case 'spapr-vio-serial':
      return 'spapr-vty';
    case 'system-serial':
      return armVirt ? 'pl011' : riscvVirt ? '16550a' : undefined;
    case 'sclp-serial':
      return 'sclpconsole';
    case 'isa-debug':
      return 'isa-debugcon';
    default:
      return undefined;
  }
}

const serialTargetType = deviceRule<QemuData, 'serial'>(
  ['serial'],
  'serial-target-type',
  "a serial port without a target type gets the machine's own: isa-serial on x86, spapr-vio-serial on pSeries, system-serial on ARM/RISC-V virt, sclp-serial on s390",
  (chr, def, ctx) => {
    const target = (chr.target ??= {});
    // isa-serial was historically the same as "unset": it is derived again from the machine.
    const given = target.type === 'isa-serial' || target.type === 'none' ? undefined : target.type;
    if (given !== undefined) return;
    const arch = archOf(def, ctx);
    let type: string | undefined;
    if (isX86(arch)) type = 'isa-serial';
    else if (isPSeries(def)) type = 'spapr-vio-serial';
    else if (isARMVirt(def) || isRISCVVirt(def)) type = 'system-serial';
    else if (isS390(arch)) type = 'sclp-serial';
    if (type !== undefined) target.type = type;
    else delete target.type;
  },
);

const serialTargetModel = deviceRule<QemuData, 'serial'>(
  ['serial'],
  'serial-target-model',
  'a serial port without a target model gets the device its target type stands for (isa-serial, spapr-vty, pl011, sclpconsole, ...)',
  (chr, def) => {
    const target = chr.target;
    if (!target || (target.model?.name !== undefined && target.model.name !== 'none')) return;
    const name = serialModelFor(target.type, isARMVirt(def), isRISCVVirt(def));
    if (name !== undefined) (target.model ??= {}).name = name;
  },
);

/** cfg->channelTargetDir of the system daemon. */
const CHANNEL_TARGET_DIR = '/var/lib/libvirt/qemu/channel/target';

/** virBufferEscapeRegex: the characters a POSIX extended regex treats specially. */
function escapeRegex(s: string): string {
  return s.replace(/[\^$.|?*+()[\]{}\\]/g, '\\$&');
}

const channelDropDefaultPath = deviceRule<QemuData, 'channel'>(
  ['channel'],
  'channel-default-path',
  'a virtio channel socket at a path libvirt generated itself is forgotten in a persistent definition, so a fresh one is made at start',
  (chr, _def, ctx) => {
    if (!ctx.flags.inactive) return;
    if (chr.type !== 'unix' || chr.target?.type !== 'virtio') return;
    const path = chr.sources?.[0]?.path;
    if (path === undefined) return;
    // As libvirt builds it, the `|` splits the whole expression in two alternatives.
    const name = chr.target.name;
    const re = new RegExp(`^${escapeRegex(CHANNEL_TARGET_DIR)}/([^/]+\\.)|(domain-[^/]+/)${name === undefined ? '' : `${escapeRegex(name)}$`}`);
    if (!re.test(path)) return;
    // A unix source without a path is not written at all.
    delete chr.sources;
  },
);

export const qemuChrRules: DeviceRule<QemuData, any>[] = [serialTargetType, serialTargetModel, channelDropDefaultPath];
