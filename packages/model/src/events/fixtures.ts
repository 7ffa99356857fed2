/**
 * Small fixtures for the event tests: a log that stamps versions, times and
 * ids deterministically, host capabilities, and domain XML.
 */
import type { Capabilities } from '../caps/types.ts';
import type { AnyEvent, EventData, EventEnvelope, EventType } from './types.ts';
import { makeEvent } from './make.ts';

export const U1 = '11111111-1111-4111-8111-111111111111';
export const U2 = '22222222-2222-4222-8222-222222222222';
export const U3 = '33333333-3333-4333-8333-333333333333';

export function caps(cpus = 8, memoryKiB = 16 * 1048576): Capabilities {
  return { host: { arch: 'x86_64', cpus, memoryKiB }, guests: [], cpuModels: [], source: 'fixture' };
}

export function xml(name: string, uuid: string, opts: { memoryKiB?: number; bus?: string; disks?: number } = {}): string {
  const disks = Array.from({ length: opts.disks ?? 1 }, (_, i) => `    <disk type='file' device='disk'>\n      <source file='/var/lib/libvirt/images/${name}-${i}.qcow2'/>\n      <target dev='vd${String.fromCharCode(97 + i)}' bus='${opts.bus ?? 'virtio'}'/>\n    </disk>\n`).join('');
  return `<domain type='kvm'>\n  <name>${name}</name>\n  <uuid>${uuid}</uuid>\n  <memory unit='KiB'>${opts.memoryKiB ?? 1048576}</memory>\n  <devices>\n${disks}  </devices>\n</domain>\n`;
}

export interface Log {
  readonly events: AnyEvent[];
  /** Appends an event at the aggregate's next version; `at` defaults to one second after the last. */
  add<T extends EventType>(type: T, data: EventData[T], at?: string): EventEnvelope<T>;
  /** The event `add` would append, without appending it. */
  next<T extends EventType>(type: T, data: EventData[T]): EventEnvelope<T>;
}

export function log(start = '2024-01-01T00:00:00.000Z'): Log {
  const events: AnyEvent[] = [];
  const versions = new Map<string, number>();
  let clock = Date.parse(start);
  let n = 0;
  const key = (type: EventType, data: unknown) => (type.startsWith('Domain') ? `d:${(data as { uuid: string }).uuid}` : `h:${(data as { hostId: string }).hostId}`);
  const build = <T extends EventType>(type: T, data: EventData[T], at?: string): EventEnvelope<T> => {
    const t = at ? Date.parse(at) : clock + 1000;
    return makeEvent(type, data, {
      aggregateVersion: (versions.get(key(type, data)) ?? 0) + 1,
      correlationId: 'job-1',
      causationId: `cmd-${n + 1}`,
      now: () => new Date(t),
      newId: () => `evt-${n + 1}`,
    });
  };
  return {
    events,
    add(type, data, at) {
      const e = build(type, data, at);
      n++;
      clock = Date.parse(e.at);
      versions.set(key(type, data), e.version);
      events.push(e as AnyEvent);
      return e;
    },
    next: (type, data) => build(type, data),
  };
}
