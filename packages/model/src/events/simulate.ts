/**
 * A seeded, deterministic cluster simulation: a stream of mixed domain and
 * host events that a real cluster could have written (each checked with
 * checkTransition), optionally salted with illegal events and poison messages.
 * The property tests fold it; the runtime's suites and the events benchmark
 * can publish it. Pure: the seed is the only source of randomness.
 */
import { VirtError } from '../errors.ts';
import type { Capabilities } from '../caps/types.ts';
import { type AnyEvent, type EventData, type EventType } from './types.ts';
import { makeEvent } from './make.ts';
import { decodeEvent, subjectFor } from './validate.ts';
import { reduceDomainRow, type DomainRow } from './domain.ts';
import { reduceHostFacts, emptyHostFacts, type HostFacts } from './host.ts';
import { isLegalTransition } from './transitions.ts';
import { RESUMED_REASON, SHUTDOWN_REASON, STARTED_REASON, STOPPED_REASON, SUSPENDED_REASON } from './lifecycle.ts';
import { subjects } from './subjects.ts';

/** mulberry32: a small, fast, well-mixed 32-bit generator; returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A version-4 UUID drawn from `rnd`. */
export function randomUUID(rnd: () => number): string {
  let hex = '';
  for (let i = 0; i < 4; i++) hex += Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, '0');
  const v = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${v}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export interface SimulationOptions {
  readonly seed: number;
  readonly count: number;
  /** Hosts in the cluster (default 4). */
  readonly hosts?: number;
  /** Most domains defined at once (default 40). */
  readonly domains?: number;
  /** Share of events appended without checkTransition (default 0). */
  readonly illegal?: number;
  /** Share of stream entries that are poison messages (default 0). */
  readonly poison?: number;
  /** When the first event happens; each later one is 1 s after (default 2024-01-01T00:00:00Z). */
  readonly start?: string;
}

/** One entry of the stream: an event, or a poison message with its bytes and the decode error. */
export type SimulatedItem =
  | { readonly seq: number; readonly subject: string; readonly event: AnyEvent; readonly wire?: undefined }
  | { readonly seq: number; readonly subject: string; readonly event: VirtError; readonly wire: string };

const MEMORY = [262144, 524288, 1048576, 2097152, 4194304];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function caps(rnd: () => number): Capabilities {
  return {
    host: { arch: 'x86_64', cpus: pick(rnd, [8, 16, 32]), memoryKiB: pick(rnd, [16, 32, 64]) * 1048576 },
    guests: [],
    cpuModels: [],
    source: 'simulated',
  };
}

function domainXml(name: string, uuid: string, memoryKiB: number, disks: number): string {
  let devices = '';
  for (let i = 0; i < disks; i++) devices += `\n    <disk type='file' device='disk'><source file='/var/lib/${name}-${i}.qcow2'/><target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/></disk>`;
  return `<domain type='kvm'>\n  <name>${name}</name>\n  <uuid>${uuid}</uuid>\n  <memory unit='KiB'>${memoryKiB}</memory>\n  <vcpu placement='static'>2</vcpu>\n  <devices>${devices}\n  </devices>\n</domain>\n`;
}

const POISON = [
  '{"id":"p","type":"DomainExploded","data":{}}',
  'not json at all',
  '{"id":"p","type":"DomainPlaced","subject":"virt.evt.domain.x.DomainPlaced","version":1,"at":"2024-01-01T00:00:00Z","correlationId":"c","causationId":"c","v":1,"data":{"uuid":"x","memoryKiB":"lots"}}',
  '[1,2,3]',
];

type Candidate = { [T in EventType]: { type: T; data: EventData[T] } }[EventType];

/** Yields `count` stream entries, sequences 1..count. */
export function* simulateCluster(o: SimulationOptions): Generator<SimulatedItem> {
  const rnd = prng(o.seed);
  const hostIds = Array.from({ length: o.hosts ?? 4 }, (_, i) => `host-${i}`);
  const maxDomains = o.domains ?? 40;
  const hosts = new Map<string, HostFacts>(hostIds.map((h) => [h, emptyHostFacts(h)]));
  const domains = new Map<string, DomainRow>();
  const disks = new Map<string, number>();
  /** Defined domains, and a few undefined ones that may be defined again. */
  const live: string[] = [];
  const retired: string[] = [];
  const t0 = Date.parse(o.start ?? '2024-01-01T00:00:00.000Z');
  let named = 0;
  let registered = 0;

  let usable: readonly string[] = hostIds;
  const anyHost = () => pick(rnd, usable);
  const refreshHosts = () => {
    const up = hostIds.filter((h) => hosts.get(h)!.registered && hosts.get(h)!.up && !hosts.get(h)!.drained);
    usable = up.length ? up : hostIds;
  };

  const hostCandidate = (h: string): Candidate => {
    const f = hosts.get(h)!;
    if (!f.registered || rnd() < 0.05) return { type: 'HostRegistered', data: { hostId: h, address: `10.0.0.${hostIds.indexOf(h) + 1}`, labels: { rack: `r${hostIds.indexOf(h) % 2}` }, capabilities: caps(rnd) } };
    const r = rnd();
    if (r < 0.3) return { type: 'HostCapabilitiesReported', data: { hostId: h, capabilities: caps(rnd) } };
    if (r < 0.65) return f.up ? { type: 'HostDown', data: { hostId: h, reason: 'heartbeat lost', lastSeen: f.lastSeen ?? new Date(t0).toISOString() } } : { type: 'HostUp', data: { hostId: h } };
    return { type: 'HostDrained', data: { hostId: h, drained: !f.drained } };
  };

  const define = (): Candidate => {
    const uuid = randomUUID(rnd);
    const name = `vm-${++named}`;
    disks.set(uuid, 1);
    return { type: 'DomainDefined', data: { uuid, name, domainType: 'kvm', driver: 'qemu', xml: domainXml(name, uuid, pick(rnd, MEMORY), 1) } };
  };

  const redefine = (s: DomainRow): Candidate => ({ type: 'DomainRedefined', data: { uuid: s.uuid, name: s.name, domainType: 'kvm', driver: 'qemu', xml: domainXml(s.name, s.uuid, pick(rnd, MEMORY), disks.get(s.uuid) ?? 1) } });
  const device = (s: DomainRow): Candidate => {
    const n = disks.get(s.uuid) ?? 1;
    const more = n < 6 && rnd() < 0.6;
    const k = more ? n + 1 : Math.max(1, n - 1);
    disks.set(s.uuid, k);
    const type = more ? 'DomainDeviceAttached' : n > 1 ? 'DomainDeviceDetached' : 'DomainDeviceUpdated';
    return { type, data: { uuid: s.uuid, path: `/domain/devices/disk[${Math.max(k, n)}]`, xml: `<disk type='file' device='disk'/>`, definition: domainXml(s.name, s.uuid, 1048576, k) } };
  };
  const stop = (s: DomainRow, hostId: string, detail: keyof typeof STOPPED_REASON): Candidate => ({
    type: 'DomainStopped',
    data: { uuid: s.uuid, hostId, detail, ...(detail === 'FAILED' ? { error: { code: 'INTERNAL_ERROR' as const, message: 'internal error: qemu unexpectedly closed the monitor' } } : {}) },
  });
  const place = (s: DomainRow): Candidate => ({ type: 'DomainPlaced', data: { uuid: s.uuid, hostId: anyHost(), memoryKiB: pick(rnd, MEMORY), vcpus: 1 + Math.floor(rnd() * 4) } });
  const SUSPENDED = Object.keys(SUSPENDED_REASON) as Array<keyof typeof SUSPENDED_REASON>;
  const RESUMED = Object.keys(RESUMED_REASON) as Array<keyof typeof RESUMED_REASON>;
  const STARTED = Object.keys(STARTED_REASON) as Array<keyof typeof STARTED_REASON>;
  const STOPPED = Object.keys(STOPPED_REASON) as Array<keyof typeof STOPPED_REASON>;
  const SHUTDOWN = Object.keys(SHUTDOWN_REASON) as Array<keyof typeof SHUTDOWN_REASON>;

  /** What a domain in this state plausibly does next; checkTransition has the last word. */
  const domainCandidate = (s: DomainRow): Candidate => {
    const uuid = s.uuid;
    const r = rnd();
    if (!s.defined) return { type: 'DomainDefined', data: { uuid, name: s.name, domainType: 'kvm', driver: 'qemu', xml: domainXml(s.name, uuid, pick(rnd, MEMORY), disks.get(uuid) ?? 1) } };
    if (r < 0.06) return redefine(s);
    if (r < 0.12) return device(s);
    const h = s.hostId ?? anyHost();
    const m = s.migration;
    if (m) {
      const q = rnd();
      if (q < 0.4) return { type: rnd() < 0.5 ? 'DomainStarted' : 'DomainResumed', data: { uuid, hostId: m.toHost, detail: 'MIGRATED' } };
      if (q < 0.75) return stop(s, m.fromHost, rnd() < 0.8 ? 'MIGRATED' : 'FAILED');
      if (q < 0.85) return stop(s, m.toHost, 'FAILED');
      return { type: 'DomainSuspended', data: { uuid, hostId: h, detail: 'MIGRATED' } };
    }
    switch (s.state) {
      case 'shutoff':
        if (r < 0.18) return { type: 'DomainUndefined', data: { uuid, name: s.name } };
        if (s.hostId === undefined || r < 0.3) return place(s);
        return { type: 'DomainStarted', data: { uuid, hostId: h, detail: pick(rnd, STARTED) } };
      case 'running':
        if (r < 0.35) return { type: 'DomainSuspended', data: { uuid, hostId: h, detail: pick(rnd, SUSPENDED) } };
        if (r < 0.5) return { type: 'DomainShutdown', data: { uuid, hostId: h, detail: pick(rnd, SHUTDOWN) } };
        if (r < 0.75) return stop(s, h, pick(rnd, STOPPED));
        return { type: 'DomainMigrating', data: { uuid, fromHost: h, toHost: anyHost() } };
      case 'paused':
        if (r < 0.55) return { type: 'DomainResumed', data: { uuid, hostId: h, detail: pick(rnd, RESUMED) } };
        if (r < 0.75) return stop(s, h, pick(rnd, STOPPED));
        return { type: 'DomainMigrating', data: { uuid, fromHost: h, toHost: anyHost() } };
      default:
        return stop(s, h, r < 0.8 ? 'SHUTDOWN' : pick(rnd, STOPPED));
    }
  };

  /** Anything at all, for the illegal share: a random type, detail and host. */
  const chaos = (s: DomainRow): Candidate => {
    const uuid = s.uuid;
    const h = anyHost();
    switch (Math.floor(rnd() * 9)) {
      case 0: return { type: 'DomainDefined', data: { uuid, name: s.name || `vm-${++named}`, domainType: 'kvm', driver: 'qemu', xml: domainXml(s.name || 'x', uuid, 1048576, 1) } };
      case 1: return { type: 'DomainUndefined', data: { uuid, name: s.name || 'x' } };
      case 2: return place(s);
      case 3: return { type: 'DomainStarted', data: { uuid, hostId: h, detail: pick(rnd, STARTED) } };
      case 4: return { type: 'DomainSuspended', data: { uuid, hostId: h, detail: pick(rnd, SUSPENDED) } };
      case 5: return { type: 'DomainResumed', data: { uuid, hostId: h, detail: pick(rnd, RESUMED) } };
      case 6: return { type: 'DomainShutdown', data: { uuid, hostId: h, detail: pick(rnd, SHUTDOWN) } };
      case 7: return stop(s, h, pick(rnd, STOPPED));
      default: return { type: 'DomainMigrating', data: { uuid, fromHost: s.hostId ?? h, toHost: anyHost() } };
    }
  };

  const versionOf = (c: Candidate): number => {
    const d = c.data as { uuid?: string; hostId: string };
    return ((d.uuid !== undefined && c.type.startsWith('Domain') ? domains.get(d.uuid)?.version : hosts.get(d.hostId)?.version) ?? 0) + 1;
  };
  const stateOf = (c: Candidate): DomainRow | HostFacts | undefined => {
    const d = c.data as { uuid?: string; hostId: string };
    return c.type.startsWith('Domain') ? domains.get(d.uuid!) : hosts.get(d.hostId);
  };
  const legal = (c: Candidate): boolean => isLegalTransition(stateOf(c), { ...c, version: versionOf(c) } as unknown as AnyEvent);

  for (let seq = 1; seq <= o.count; seq++) {
    const at = new Date(t0 + seq * 1000);
    if (rnd() < (o.poison ?? 0)) {
      const wire = pick(rnd, POISON);
      const err = decodeEvent(wire);
      if (!(err instanceof VirtError)) throw new VirtError('INTERNAL_ERROR', 'a poison message decoded');
      yield { seq, subject: subjects.hostEvent('host-0', 'Poison'), event: err, wire };
      continue;
    }
    const lawless = rnd() < (o.illegal ?? 0);
    let chosen: Candidate | undefined;
    const unregistered = registered < hostIds.length ? hostIds.filter((h) => !hosts.get(h)!.registered) : [];
    if (registered === 0 || rnd() < 0.06) chosen = hostCandidate(pick(rnd, unregistered.length ? unregistered : hostIds));
    else if (live.length === 0 || (live.length < maxDomains && rnd() < 0.08)) chosen = define();
    else {
      const s = domains.get(retired.length && rnd() < 0.02 ? pick(rnd, retired) : pick(rnd, live))!;
      if (lawless) chosen = chaos(s);
      for (let i = 0; i < 8 && !chosen; i++) {
        const c = domainCandidate(s);
        if (legal(c)) chosen = c;
      }
      chosen ??= s.defined ? redefine(s) : domainCandidate(s);
    }
    if (!lawless && !legal(chosen)) chosen = hostCandidate(anyHost());
    if (!lawless && !legal(chosen)) {
      // Nothing legal came up (rare): re-report a registered host's capabilities, always legal.
      const h = hostIds.find((x) => hosts.get(x)!.registered) ?? hostIds[0]!;
      chosen = hosts.get(h)!.registered ? { type: 'HostCapabilitiesReported', data: { hostId: h, capabilities: caps(rnd) } } : hostCandidate(h);
    }
    const event = makeEvent(chosen.type, chosen.data as never, {
      aggregateVersion: versionOf(chosen),
      correlationId: `job-${seq}`,
      causationId: `cmd-${seq}`,
      now: () => at,
      newId: () => randomUUID(rnd),
    }) as AnyEvent;
    if (event.type.startsWith('Domain')) {
      const uuid = (event.data as { uuid: string }).uuid;
      const was = domains.get(uuid)?.defined ?? false;
      const row = reduceDomainRow(domains.get(uuid), event)!;
      domains.set(uuid, row);
      if (row.defined && !was) {
        live.push(uuid);
        const i = retired.indexOf(uuid);
        if (i >= 0) retired.splice(i, 1);
      } else if (!row.defined && was) {
        live.splice(live.indexOf(uuid), 1);
        retired.push(uuid);
        // Keep a few undefined domains to define again; forget the rest.
        if (retired.length > 8) domains.delete(retired.shift()!);
      }
    } else {
      const h = (event.data as { hostId: string }).hostId;
      if (!hosts.get(h)!.registered && event.type === 'HostRegistered') registered++;
      hosts.set(h, reduceHostFacts(hosts.get(h)!, event));
      refreshHosts();
    }
    yield { seq, subject: subjectFor(event.type, event.data), event };
  }
}
