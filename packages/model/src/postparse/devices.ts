/**
 * Walking a definition's devices the way libvirt's
 * virDomainDeviceInfoIterateFlags does: a fixed order of kinds, array order
 * within each; and writing a device back at its place.
 */
import { produce } from 'immer';
import { devicesSpec } from '../domain/spec/devices.ts';
import type { DeviceDef, DeviceKind, DomainDef } from '../domain/types.ts';

/** libvirt's visiting order (post-parse and validation). */
export const DEVICE_VISIT_ORDER: readonly DeviceKind[] = [
  'disk', 'interface', 'sound', 'hostdev', 'video', 'controller', 'smartcard', 'serial', 'parallel', 'channel', 'console',
  'input', 'filesystem', 'watchdog', 'memballoon', 'rng', 'nvram', 'hub', 'shmem', 'tpm', 'panic', 'memory', 'redirdev',
  'iommu', 'vsock', 'graphics', 'audio', 'lease',
];

const children = devicesSpec.children as Record<string, { many: boolean; key?: string }>;

export function deviceKey(kind: DeviceKind): { key: string; many: boolean } {
  const c = children[kind]!;
  return { key: c.key ?? kind, many: c.many };
}

export interface DeviceRef {
  readonly kind: DeviceKind;
  /** Position among devices of the same kind (0-based). */
  readonly index: number;
  /** `/domain/devices/disk[2]` */
  readonly path: string;
}

/** The devices of a definition in libvirt's visiting order. */
export function listDevices(def: DomainDef): DeviceRef[] {
  const out: DeviceRef[] = [];
  const devs = def.devices as Record<string, unknown> | undefined;
  if (!devs) return out;
  for (const kind of DEVICE_VISIT_ORDER) {
    const { key, many } = deviceKey(kind);
    const v = devs[key];
    if (v === undefined) continue;
    if (many) (v as unknown[]).forEach((_, i) => out.push({ kind, index: i, path: `/domain/devices/${kind}[${i + 1}]` }));
    else out.push({ kind, index: 0, path: `/domain/devices/${kind}` });
  }
  return out;
}

export function getDevice(def: DomainDef, ref: DeviceRef): DeviceDef | undefined {
  const { key, many } = deviceKey(ref.kind);
  const v = (def.devices as Record<string, unknown> | undefined)?.[key];
  const d = many ? (v as unknown[] | undefined)?.[ref.index] : v;
  return d === undefined ? undefined : ({ kind: ref.kind, def: d } as DeviceDef);
}

export function setDevice(def: DomainDef, ref: DeviceRef, dev: DeviceDef): DomainDef {
  const { key, many } = deviceKey(ref.kind);
  return produce(def, (d) => {
    const devs = d.devices as Record<string, unknown>;
    if (many) (devs[key] as unknown[])[ref.index] = dev.def;
    else devs[key] = dev.def;
  });
}
