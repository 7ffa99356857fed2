/**
 * The domain definition's types, inferred from the specs so the types, the
 * decoder and the canonical order can never disagree.
 */
import type { Immutable } from 'immer';
import type { Infer } from '../codec/spec.ts';
import type { domainSpec } from './spec/domain.ts';
import type { devicesSpec } from './spec/devices.ts';
import type { addressSpec } from './spec/common.ts';

type Mutable = Infer<typeof domainSpec>;
type MutableDevices = NonNullable<Mutable['devices']>;

/** A parsed domain definition: plain data, deeply frozen. Memory sizes are in KiB. */
export type DomainDef = Immutable<Mutable>;
export type DevicesDef = Immutable<MutableDevices>;
export type DomainDraft = Mutable;

type ArrayItem<T> = T extends readonly (infer U)[] ? U : T;
type DeviceKeys = { [K in keyof typeof devicesSpec.children]: (typeof devicesSpec.children)[K]['key'] extends string ? (typeof devicesSpec.children)[K]['key'] : K };

/** The XML element name of each device kind, e.g. `disk`, `interface`. */
export type DeviceKind = Exclude<keyof typeof devicesSpec.children, 'emulator'>;
/** One device, tagged with its kind: what a device post-parse callback receives. */
export type DeviceDef = { [K in DeviceKind]: { readonly kind: K; readonly def: Immutable<ArrayItem<NonNullable<MutableDevices[DeviceKeys[K] & keyof MutableDevices]>>> } }[DeviceKind];

export type DiskDef = Extract<DeviceDef, { kind: 'disk' }>['def'];
export type ControllerDef = Extract<DeviceDef, { kind: 'controller' }>['def'];
export type InterfaceDef = Extract<DeviceDef, { kind: 'interface' }>['def'];
export type GraphicsDef = Extract<DeviceDef, { kind: 'graphics' }>['def'];
export type VideoDef = Extract<DeviceDef, { kind: 'video' }>['def'];
export type InputDef = Extract<DeviceDef, { kind: 'input' }>['def'];
export type HostdevDef = Extract<DeviceDef, { kind: 'hostdev' }>['def'];

/** An <address> of any type, as decoded: every attribute a string (mutable, for rules). */
export type AddressDef = Infer<typeof addressSpec>;
