/**
 * Which device kinds each driver of libvirt 9.0 attaches, detaches and
 * updates on a persistent definition (the `--config` paths), and libvirt's
 * refusal for the rest:
 * - QEMU (qemuDomainAttachDeviceConfig): most kinds; the others are
 *   OPERATION_UNSUPPORTED "persistent attach of device 'graphics' is not
 *   supported". Its detach and update rules are edit/devices.ts's matchers.
 * - LXC (lxcDomain*DeviceConfig) and libxl (libxlDomain*DeviceConfig): a few
 *   kinds; the rest CONFIG_UNSUPPORTED "persistent attach of device is not
 *   supported" (no kind named).
 * - test and bhyve: no such API at all (NO_SUPPORT, virDomainAttachDeviceFlags).
 */
import { VirtError } from '../errors.ts';
import type { DeviceKind } from '../domain/types.ts';

export type EditOp = 'attach' | 'detach' | 'update';

export interface DriverEditRules {
  readonly attach: readonly DeviceKind[];
  readonly detach: readonly DeviceKind[];
  readonly update: readonly DeviceKind[];
}

const CHARDEVS: readonly DeviceKind[] = ['serial', 'parallel', 'console', 'channel'];

/** qemuDomainAttachDeviceConfig's cases that attach (the rest fall to its "not supported"). */
const QEMU_ATTACH: ReadonlySet<DeviceKind> = new Set<DeviceKind>([
  'disk', 'interface', 'sound', 'hostdev', 'lease', 'controller', ...CHARDEVS, 'filesystem', 'rng', 'memory', 'redirdev', 'shmem', 'watchdog', 'input', 'vsock',
]);

const DRIVER_RULES: Readonly<Record<string, DriverEditRules | 'none'>> = {
  lxc: { attach: ['disk', 'interface', 'hostdev'], detach: ['disk', 'interface', 'hostdev'], update: ['interface'] },
  xen: { attach: ['disk', 'controller', 'interface', 'hostdev'], detach: ['disk', 'controller', 'interface', 'hostdev'], update: ['disk'] },
  test: 'none',
  bhyve: 'none',
};

const API: Readonly<Record<EditOp, string>> = { attach: 'virDomainAttachDeviceFlags', detach: 'virDomainDetachDeviceFlags', update: 'virDomainUpdateDeviceFlags' };

/** virDomainDeviceTypeToString: the name libvirt's messages use for a kind. */
export const deviceTypeName = (kind: DeviceKind): string => (CHARDEVS.includes(kind) ? 'chr' : kind === 'interface' ? 'net' : kind === 'filesystem' ? 'fs' : kind);

/**
 * Throws libvirt's error when the driver cannot make this change on a
 * persistent definition; returns the driver's own rules when it has a short
 * list (LXC, libxl), undefined for QEMU's (and unknown drivers').
 */
export function driverAllows(driverName: string, op: EditOp, kind: DeviceKind): DriverEditRules | undefined {
  const rules = DRIVER_RULES[driverName];
  if (rules === undefined) {
    if (op === 'attach' && driverName === 'qemu' && !QEMU_ATTACH.has(kind)) {
      throw new VirtError('OPERATION_UNSUPPORTED', `persistent attach of device '${deviceTypeName(kind)}' is not supported`, `/${kind}`);
    }
    return undefined;
  }
  if (rules === 'none') throw new VirtError('NO_SUPPORT', API[op], '/');
  if (!rules[op].includes(kind)) throw new VirtError('CONFIG_UNSUPPORTED', `persistent ${op} of device is not supported`, `/${kind}`);
  return rules;
}
