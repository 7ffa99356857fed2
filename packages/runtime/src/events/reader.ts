/**
 * Reading the projections the projector keeps in KV: the current generation
 * (VIRT_PROJECTIONS `current`) is looked up on each call, so a rebuild that
 * switches generations is picked up without a restart.
 */
import { JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { VirtError, type DomainLifecycle, type DomainRow, type HostView, type LifecycleState } from '@virtflow/model';
import { textDecoder } from './codec.ts';
import { generation, keys, type Generation, type GenerationState } from './kvlayout.ts';
import { readBucket } from './projector.ts';

export interface ProjectionDump {
  readonly generation: number;
  readonly seq: number;
  /** Every key of the domains bucket with its value. */
  readonly domains: Readonly<Record<string, string>>;
  readonly hosts: Readonly<Record<string, string>>;
}

export class ProjectionReader {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  #kvm: Kvm | undefined;
  #meta: KV | undefined;
  readonly #buckets = new Map<string, KV>();
  #jsm: JetStreamManager | undefined;

  constructor(nc: NatsConnection, opts: { readonly prefix?: string } = {}) {
    this.#nc = nc;
    this.#prefix = opts.prefix ?? 'VIRT';
  }

  async domain(uuid: string): Promise<DomainRow | undefined> {
    return this.#json<DomainRow>('domains', keys.domain(uuid));
  }

  async domainByName(name: string): Promise<DomainRow | undefined> {
    const uuid = await this.#text('domains', keys.name(name));
    return uuid ? this.domain(uuid) : undefined;
  }

  /** uuids of the domains placed on or running on a host, sorted. */
  async domainsOnHost(hostId: string): Promise<string[]> {
    return this.#suffixes('domains', keys.onHostAll(hostId));
  }

  /** uuids of the domains in a lifecycle state, sorted. */
  async domainsInState(state: LifecycleState): Promise<string[]> {
    return this.#suffixes('domains', keys.inStateAll(state));
  }

  async host(hostId: string): Promise<HostView | undefined> {
    return this.#json<HostView>('hosts', keys.host(hostId));
  }

  /** Every host, sorted by id. */
  async hosts(): Promise<HostView[]> {
    return this.#retry(async () => {
      const jsm = (this.#jsm ??= await jetstreamManager(this.#nc));
      const all = await readBucket(this.#nc, jsm, (await this.#current()).hosts);
      return [...all].filter(([k]) => k.startsWith('host.')).map(([, v]) => JSON.parse(v) as HostView).sort((a, b) => (a.hostId < b.hostId ? -1 : 1));
    });
  }

  async lifecycle(uuid: string): Promise<DomainLifecycle | undefined> {
    return this.#json<DomainLifecycle>('hosts', keys.lifecycle(uuid));
  }

  /** Everything in the current generation: for comparisons and debugging. */
  async dump(): Promise<ProjectionDump> {
    return this.#retry(async () => {
      const g = await this.#current();
      const meta = await this.#metaKv();
      const st = await meta.get(`gen.${g.gen}`);
      const state = st && st.length ? (JSON.parse(textDecoder.decode(st.value)) as GenerationState) : { seq: 0, clean: false };
      const jsm = (this.#jsm ??= await jetstreamManager(this.#nc));
      const sorted = (m: Map<string, string>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      return { generation: g.gen, seq: state.seq, domains: sorted(await readBucket(this.#nc, jsm, g.domains)), hosts: sorted(await readBucket(this.#nc, jsm, g.hosts)) };
    });
  }

  async #metaKv(): Promise<KV> {
    this.#kvm ??= new Kvm(this.#nc);
    return (this.#meta ??= await this.#kvm.open(`${this.#prefix}_PROJECTIONS`));
  }

  async #current(): Promise<Generation> {
    const e = await (await this.#metaKv()).get('current');
    if (!e || e.length === 0) throw new VirtError('OPERATION_INVALID', 'no projections yet: the projector has not run');
    return generation(this.#prefix, (JSON.parse(textDecoder.decode(e.value)) as { gen: number }).gen);
  }

  async #bucket(which: 'domains' | 'hosts'): Promise<KV> {
    const name = (await this.#current())[which];
    let kv = this.#buckets.get(name);
    if (!kv) {
      this.#kvm ??= new Kvm(this.#nc);
      kv = await this.#kvm.open(name);
      this.#buckets.set(name, kv);
    }
    return kv;
  }

  /** A rebuild may drop the generation between our pointer read and our get: read the pointer again. */
  async #retry<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof JetStreamApiError) && !(e instanceof Error && /not found/i.test(e.message))) throw e;
      this.#buckets.clear();
      return f();
    }
  }

  async #text(which: 'domains' | 'hosts', key: string): Promise<string | undefined> {
    return this.#retry(async () => {
      const e = await (await this.#bucket(which)).get(key);
      return e && e.operation === 'PUT' ? textDecoder.decode(e.value) : undefined;
    });
  }

  async #json<T>(which: 'domains' | 'hosts', key: string): Promise<T | undefined> {
    const t = await this.#text(which, key);
    return t ? (JSON.parse(t) as T) : undefined;
  }

  async #suffixes(which: 'domains' | 'hosts', filter: string): Promise<string[]> {
    return this.#retry(async () => {
      const out: string[] = [];
      for await (const k of await (await this.#bucket(which)).keys(filter)) out.push(k.slice(k.lastIndexOf('.') + 1));
      return out.sort();
    });
  }
}
