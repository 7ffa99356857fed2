/**
 * The QEMU driver's opaque data (libvirt's per-parse qemuCaps): what the
 * domain's emulator offers, looked up once per parse from the host
 * capabilities. Owned by the domain-level rules; read by every qemu rule.
 */
import type { Capabilities, GuestCaps } from '../../caps/types.ts';
import { findGuest } from '../../caps/index.ts';
import type { DomainDef } from '../../domain/types.ts';

export interface QemuData {
  readonly caps: Capabilities;
  /** The guest entry matching the domain's OS type, arch and domain type; undefined when none does. */
  readonly guest: GuestCaps | undefined;
  readonly arch: string;
}

export function createQemuData(caps: Capabilities, def: DomainDef): QemuData {
  const arch = def.os?.type?.arch ?? caps.host.arch;
  return { caps, guest: findGuest(caps, def.os?.type?.text ?? 'hvm', arch), arch };
}
