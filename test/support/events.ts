/**
 * A simulated cluster's event log for the event-store tests and benchmark:
 * hosts that register, go down and come back, drain; domains that are defined,
 * placed, started, paused, migrated, stopped, redefined, undefined. Every event
 * is a legal next step (the model's transitionError says so) and the log is a
 * pure function of its seed.
 */
import {
  makeEvent, reduceDomainRow, reduceHostFacts, emptyHostFacts, transitionError,
  type AnyEvent, type Capabilities, type DomainRow, type EventData, type EventType, type HostFacts,
} from '@virtflow/model';

export interface WorldOptions {
  readonly seed?: number;
  readonly hosts?: number;
  readonly domains?: number;
  /** Pad the definitions to about this many bytes (realistic payloads: 1500). */
  readonly xmlBytes?: number;
  /** Host ids are `<hostPrefix><n>` ('host'). */
  readonly hostPrefix?: string;
}

/** A small deterministic PRNG (mulberry32). */
/** The model's seeded generators: one PRNG and one UUID drawer for every test and benchmark. */
import { prng as rng, seededUUID as uuidFrom } from '@virtflow/model';
export { rng, uuidFrom };

export function capabilities(cpus = 64, memoryKiB = 256 * 1024 * 1024): Capabilities {
  return { host: { arch: 'x86_64', cpus, memoryKiB }, guests: [], cpuModels: [], source: 'test world' } as unknown as Capabilities;
}

export function domainXml(name: string, uuid: string, memKiB: number, pad = 0, rev = 0): string {
  const base = `<domain type='kvm'>\n  <name>${name}</name>\n  <uuid>${uuid}</uuid>\n  <memory unit='KiB'>${memKiB}</memory>\n  <vcpu placement='static'>2</vcpu>\n  <os>\n    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n  </os>\n  <description>revision ${rev}</description>\n`;
  const filler = pad > base.length ? `  <metadata><pad>${'x'.repeat(pad - base.length - 40)}</pad></metadata>\n` : '';
  return `${base}${filler}</domain>\n`;
}

/** Deterministic event metadata: a fake clock one millisecond per event, ids from the seed. */
export function metaSource(r: () => number, start = Date.UTC(2024, 0, 1)) {
  let t = start;
  return (aggregateVersion: number) => ({
    aggregateVersion,
    correlationId: 'sim',
    causationId: 'sim',
    now: () => new Date(t++),
    newId: () => uuidFrom(r),
  });
}

export class World {
  readonly r: () => number;
  readonly hostIds: string[];
  readonly uuids: string[];
  readonly domains = new Map<string, DomainRow | undefined>();
  readonly hosts = new Map<string, HostFacts>();
  readonly #meta: ReturnType<typeof metaSource>;
  readonly #xmlBytes: number;
  #rev = 0;

  constructor(o: WorldOptions = {}) {
    this.r = rng(o.seed ?? 1);
    this.hostIds = Array.from({ length: o.hosts ?? 8 }, (_, i) => `${o.hostPrefix ?? 'host'}${i + 1}`);
    this.uuids = Array.from({ length: o.domains ?? 200 }, () => uuidFrom(this.r));
    this.#meta = metaSource(this.r);
    this.#xmlBytes = o.xmlBytes ?? 0;
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }

  /** The next legal event, applied to the world. */
  next(): AnyEvent {
    for (;;) {
      const e = this.#propose();
      if (e && !transitionError(this.#stateOf(e), e)) {
        this.#apply(e);
        return e;
      }
    }
  }

  /** `n` events. */
  take(n: number): AnyEvent[] {
    return Array.from({ length: n }, () => this.next());
  }

  #stateOf(e: AnyEvent): DomainRow | HostFacts | undefined {
    return e.type.startsWith('Host') ? this.hosts.get((e.data as { hostId: string }).hostId) : this.domains.get((e.data as { uuid: string }).uuid);
  }

  #apply(e: AnyEvent): void {
    if (e.type.startsWith('Host')) {
      const id = (e.data as { hostId: string }).hostId;
      this.hosts.set(id, reduceHostFacts(this.hosts.get(id) ?? emptyHostFacts(id), e));
    } else {
      const u = (e.data as { uuid: string }).uuid;
      this.domains.set(u, reduceDomainRow(this.domains.get(u), e));
    }
  }

  #make<T extends EventType>(type: T, data: EventData[T], version: number): AnyEvent {
    return makeEvent(type, data, this.#meta(version + 1)) as AnyEvent;
  }

  #propose(): AnyEvent | undefined {
    if (this.hosts.size < this.hostIds.length) {
      return this.#make('HostRegistered', { hostId: this.hostIds[this.hosts.size]!, capabilities: capabilities(), labels: { rack: 'r1' } }, 0);
    }
    if (this.r() < 0.03) return this.#hostEvent();
    const i = Math.floor(this.r() * this.uuids.length);
    const uuid = this.uuids[i]!;
    const row = this.domains.get(uuid);
    const v = row?.version ?? 0;
    const name = `vm-${i}`;
    const host = () => {
      const up = this.hostIds.filter((h) => this.hosts.get(h)?.up && !this.hosts.get(h)?.drained);
      return this.#pick(up.length ? up : this.hostIds);
    };
    const mem = 1024 * 1024 * (1 + Math.floor(this.r() * 4));
    const xml = () => domainXml(name, uuid, mem, this.#xmlBytes, ++this.#rev);
    if (!row?.defined) return this.#make('DomainDefined', { uuid, name, domainType: 'kvm', driver: 'qemu', xml: xml() }, v);
    const m = row.migration;
    if (m) {
      if (!m.targetStarted && this.r() < 0.6) return this.#make('DomainStarted', { uuid, hostId: m.toHost, detail: 'MIGRATED' }, v);
      if (!m.sourceStopped) return this.#make('DomainStopped', { uuid, hostId: m.fromHost, detail: 'MIGRATED' }, v);
      return this.#make('DomainStarted', { uuid, hostId: m.toHost, detail: 'MIGRATED' }, v);
    }
    const x = this.r();
    switch (row.state) {
      case 'shutoff':
        if (row.hostId === undefined || x < 0.1) return this.#make('DomainPlaced', { uuid, hostId: host(), memoryKiB: mem, vcpus: 1 + Math.floor(this.r() * 4) }, v);
        if (x < 0.55) return this.#make('DomainStarted', { uuid, hostId: row.hostId, detail: 'BOOTED' }, v);
        if (x < 0.75) return this.#make('DomainRedefined', { uuid, name, domainType: 'kvm', driver: 'qemu', xml: xml() }, v);
        if (x < 0.9) return this.#make('DomainDeviceAttached', { uuid, path: '/domain/devices/disk[2]', xml: "<disk type='file'/>", definition: xml() }, v);
        return this.#make('DomainUndefined', { uuid, name }, v);
      case 'running': {
        const h = row.hostId!;
        if (x < 0.3) return this.#make('DomainSuspended', { uuid, hostId: h, detail: 'PAUSED' }, v);
        if (x < 0.5) return this.#make('DomainShutdown', { uuid, hostId: h, detail: 'GUEST' }, v);
        if (x < 0.65) return this.#make('DomainStopped', { uuid, hostId: h, detail: 'DESTROYED' }, v);
        if (x < 0.85) {
          const to = this.hostIds.filter((o) => o !== h);
          return this.#make('DomainMigrating', { uuid, fromHost: h, toHost: this.#pick(to) }, v);
        }
        return this.#make('DomainDeviceUpdated', { uuid, path: '/domain/devices/interface[1]', xml: "<interface type='network'/>", definition: xml() }, v);
      }
      case 'paused':
        return x < 0.7 ? this.#make('DomainResumed', { uuid, hostId: row.hostId!, detail: 'UNPAUSED' }, v) : this.#make('DomainStopped', { uuid, hostId: row.hostId!, detail: 'DESTROYED' }, v);
      case 'shutdown':
        return this.#make('DomainStopped', { uuid, hostId: row.hostId!, detail: 'SHUTDOWN' }, v);
      default:
        return undefined;
    }
  }

  #hostEvent(): AnyEvent {
    const h = this.#pick(this.hostIds);
    const f = this.hosts.get(h)!;
    const x = this.r();
    if (x < 0.3) return this.#make('HostCapabilitiesReported', { hostId: h, capabilities: capabilities(64 + Math.floor(this.r() * 4) * 16) }, f.version);
    if (x < 0.65) return f.up ? this.#make('HostDown', { hostId: h, reason: 'heartbeat missed' }, f.version) : this.#make('HostUp', { hostId: h }, f.version);
    return this.#make('HostDrained', { hostId: h, drained: !f.drained }, f.version);
  }
}

/** Groups a log by aggregate, keeping each aggregate's order. */
export function byAggregate(events: readonly AnyEvent[]): Map<string, AnyEvent[]> {
  const out = new Map<string, AnyEvent[]>();
  for (const e of events) {
    const k = e.subject.split('.').slice(0, 4).join('.');
    const list = out.get(k);
    if (list) list.push(e);
    else out.set(k, [e]);
  }
  return out;
}
