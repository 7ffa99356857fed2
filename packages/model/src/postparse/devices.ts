/**
 * Walking a definition's devices the way libvirt's
 * virDomainDeviceInfoIterateFlags does: a fixed order of kinds, array order
 * within each; and writing a device back at its place.
 */
import { produce } from 'immer';
import { devicesSpec } from '../domain/spec/devices.ts';
import type { DeviceDef, DeviceKind, DomainDef } from '../domain/types.ts';
import { indexedDevicePath } from '../util/device-path.ts';
import { keysInOrder } from '../util/keys-in-order.ts';

/** libvirt's visiting order (post-parse and validation). */
export const DEVICE_VISIT_ORDER: readonly DeviceKind[] = [
  'disk', 'interface', 'sound', 'hostdev', 'video', 'controller', 'smartcard', 'serial', 'parallel', 'channel', 'console',
  'input', 'filesystem', 'watchdog', 'memballoon', 'rng', 'nvram', 'hub', 'shmem', 'tpm', 'panic', 'memory', 'redirdev',
  'iommu', 'vsock', 'graphics', 'audio', 'lease',
];

const children = devicesSpec.children as Record<string, { many: boolean; key?: string }>;

interface KindKey {
  readonly kind: DeviceKind;
  readonly key: string;
  readonly many: boolean;
  /** `/domain/devices/disk` */
  readonly path: string;
}

/** Every kind's key and arity, read from the spec once. */
const KEYS = new Map<string, KindKey>(
  Object.entries(children).map(([kind, c]) => [kind, { kind: kind as DeviceKind, key: c.key ?? kind, many: c.many, path: `/domain/devices/${kind}` }]),
);

/** The visiting order with each kind's key and arity. */
const VISIT: readonly KindKey[] = DEVICE_VISIT_ORDER.map((kind) => KEYS.get(kind)!);

/** Each kind's key → its place in the visiting order. */
const VISIT_INDEX: ReadonlyMap<string, number> = new Map(VISIT.map((v, i) => [v.key, i]));

export function deviceKey(kind: DeviceKind): { key: string; many: boolean } {
  return KEYS.get(kind)!;
}

/**
 * Calls `f` on every device object in libvirt's visiting order, without
 * building references or paths: for the passes that only need the devices.
 */
export function eachDevice(def: DomainDef, f: (dev: Record<string, unknown>, kind: DeviceKind, index: number) => void): void {
  const devs = def.devices as Record<string, unknown> | undefined;
  if (!devs) return;
  const present = keysInOrder(devs, VISIT_INDEX);
  for (let p = 0; p < present.length; p++) {
    const { kind, key, many } = VISIT[present[p]!]!;
    const v = devs[key];
    if (v === undefined) continue;
    if (many) {
      const list = v as Array<Record<string, unknown>>;
      for (let i = 0; i < list.length; i++) f(list[i]!, kind, i);
    } else f(v as Record<string, unknown>, kind, 0);
  }
}

/**
 * Calls `f` on every device in libvirt's visiting order with its kind and
 * path: listDevices and getDevice in one walk, for passes that only read.
 */
export function eachDeviceAt(def: DomainDef, f: (dev: DeviceDef, path: string) => void): void {
  const devs = def.devices as Record<string, unknown> | undefined;
  if (!devs) return;
  const present = keysInOrder(devs, VISIT_INDEX);
  for (let p = 0; p < present.length; p++) {
    const { kind, key, many, path } = VISIT[present[p]!]!;
    const v = devs[key];
    if (v === undefined) continue;
    if (many) {
      const list = v as unknown[];
      for (let i = 0; i < list.length; i++) {
        const d = list[i];
        if (d !== undefined) f({ kind, def: d } as DeviceDef, indexedDevicePath(kind, i));
      }
    } else f({ kind, def: v } as DeviceDef, path);
  }
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
  const present = keysInOrder(devs, VISIT_INDEX);
  for (let p = 0; p < present.length; p++) {
    const { kind, key, many, path } = VISIT[present[p]!]!;
    const v = devs[key];
    if (v === undefined) continue;
    if (many) {
      const n = (v as unknown[]).length;
      for (let i = 0; i < n; i++) out.push({ kind, index: i, path: indexedDevicePath(kind, i) });
    } else out.push({ kind, index: 0, path });
  }
  return out;
}

export function getDevice(def: DomainDef, ref: DeviceRef): DeviceDef | undefined {
  const { key, many } = KEYS.get(ref.kind)!;
  const v = (def.devices as Record<string, unknown> | undefined)?.[key];
  const d = many ? (v as unknown[] | undefined)?.[ref.index] : v;
  return d === undefined ? undefined : ({ kind: ref.kind, def: d } as DeviceDef);
}

export function setDevice(def: DomainDef, ref: DeviceRef, dev: DeviceDef): DomainDef {
  const { key, many } = KEYS.get(ref.kind)!;
  return produce(def, (d) => {
    const devs = d.devices as Record<string, unknown>;
    if (many) (devs[key] as unknown[])[ref.index] = dev.def;
    else devs[key] = dev.def;
  });
}
