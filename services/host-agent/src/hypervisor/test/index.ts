/**
 * The `test` hypervisor: libvirt's test:///default driver behind the agent's
 * Hypervisor interface. Transitions are instant unless a delay is configured
 * for the operation, failures can be injected (the next N calls of an
 * operation throw a given VirtError), and a simulated guest powers off some
 * time after an ACPI shutdown request.
 *
 * Wrong states are refused with the qemu driver's codes and words
 * (OPERATION_INVALID 'domain is not running' / 'domain is already running'),
 * which the test driver itself words differently (INTERNAL_ERROR "domain 'x'
 * not paused"): the agent stands in for qemu, so it answers as qemu does. The
 * one exception is resume of a running domain: qemu 9.0 says 'domain is
 * already running', virtflow says 'domain is not paused' (the model's
 * transition rule, and the wording issue 6 asks for).
 *
 * With `stateFile`, the domains that run survive the instance (like qemu
 * processes survive their agent): every change is written to the file, and a
 * new instance finds the domains again through list() without emitting
 * anything for them. A start records its domain at once with the time its
 * boot completes, so a domain whose agent died mid-start finishes booting on
 * its own; `boots` counts every boot per domain, for tests that check a domain
 * never ran twice.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { VirtError, bookwormQemuCaps, type Capabilities, type DeviceDef, type DomainDef, type StoppedDetail } from '@virtflow/model';
import type { Hypervisor, LifecycleChange, MigrationTarget, RunningDomain, StartOptions } from '../types.ts';

export type TestOperation = 'start' | 'shutdown' | 'destroy' | 'reboot' | 'reset' | 'suspend' | 'resume' | 'attachDevice' | 'detachDevice' | 'migrateOut';

export interface TestHypervisorOptions {
  /** The synthetic host: CPUs and memory (8 CPUs, 16 GiB) on bookworm QEMU 7.2's guests. */
  readonly cpus?: number;
  readonly memoryKiB?: number;
  /** Capabilities to report instead of the synthetic host's. */
  readonly capabilities?: Capabilities;
  /** Milliseconds each operation takes (0: instant, libvirt's test driver). */
  readonly delays?: Partial<Record<TestOperation, number>>;
  /** How long the guest takes to power off after an ACPI shutdown (50 ms); Infinity: it ignores ACPI. */
  readonly guestShutdownMs?: number;
  /** A JSON file holding the running domains, so they outlive this instance. */
  readonly stateFile?: string;
  readonly now?: () => number;
}

type SimState = 'starting' | 'running' | 'paused' | 'shutdown';

interface SimDomain {
  name: string;
  state: SimState;
  /** Epoch ms the boot completes (state 'starting'). */
  readyAt?: number;
  /** Start paused once booted (virsh start --paused). */
  paused?: boolean;
  /** Epoch ms the guest finishes powering off, after an ACPI request. */
  offAt?: number;
  devices: string[];
}

interface StateFile {
  readonly v: 1;
  readonly domains: Record<string, SimDomain>;
  readonly boots: Record<string, number>;
}

const notRunning = () => new VirtError('OPERATION_INVALID', 'domain is not running');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A synthetic host as the test driver would present it: bookworm's QEMU guests on N CPUs and M KiB,
 * each also offering domain type `test` (libvirt's test driver runs any `<domain type='test'>`), so
 * the scheduler's DomainTypeFilter places test domains on test hosts.
 */
export function syntheticCapabilities(cpus = 8, memoryKiB = 16 * 1024 * 1024): Capabilities {
  const guests = bookwormQemuCaps.guests.map((g) => (g.domains.some((d) => d.type === 'test') ? g : { ...g, domains: [...g.domains, { type: 'test' }] }));
  return { ...bookwormQemuCaps, host: { ...bookwormQemuCaps.host, cpus, memoryKiB }, guests, source: `test hypervisor: synthetic host, ${cpus} CPUs, ${memoryKiB} KiB` };
}

export class TestHypervisor implements Hypervisor {
  readonly kind = 'test' as const;
  readonly #opts: TestHypervisorOptions;
  readonly #now: () => number;
  readonly #listeners = new Set<(c: LifecycleChange) => void>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #failures = new Map<TestOperation, VirtError[]>();
  readonly #incoming = new Map<string, Server>();
  /** Domains found in the state file: their boot belongs to the instance that started them (the agent's reconcile), not to this one. */
  readonly #inherited = new Set<string>();
  #domains: Record<string, SimDomain> = {};
  #boots: Record<string, number> = {};
  #closed = false;

  constructor(opts: TestHypervisorOptions = {}) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    if (opts.stateFile && existsSync(opts.stateFile)) {
      const s = JSON.parse(readFileSync(opts.stateFile, 'utf8')) as StateFile;
      this.#domains = s.domains ?? {};
      this.#boots = s.boots ?? {};
    }
    // Domains inherited mid-boot or mid-poweroff finish on their own: nobody here asked, so nothing is emitted.
    for (const uuid of Object.keys(this.#domains)) this.#settle(uuid, false);
    for (const uuid of Object.keys(this.#domains)) this.#inherited.add(uuid);
  }

  /** The next `times` calls of `op` throw `error` (before any effect). */
  failNext(op: TestOperation, error: VirtError, times = 1): void {
    const q = this.#failures.get(op) ?? [];
    for (let i = 0; i < times; i++) q.push(error);
    this.#failures.set(op, q);
  }

  /** How many times each domain was booted, across instances sharing the state file. */
  boots(uuid: string): number {
    return this.#boots[uuid] ?? 0;
  }

  /** The guest powers itself off (from inside): stopped SHUTDOWN, as after an ACPI request. */
  powerOff(uuid: string): void {
    const d = this.#domains[uuid];
    if (!d || d.state === 'starting') throw notRunning();
    this.#emit({ uuid, event: 'shutdown', detail: 'GUEST' });
    this.#gone(uuid, 'SHUTDOWN');
  }

  /** The domain's process dies under it (a qemu killed from outside): stopped CRASHED, or FAILED. */
  crash(uuid: string, detail: Extract<StoppedDetail, 'CRASHED' | 'FAILED'> = 'CRASHED', message = 'the domain died'): void {
    if (!this.#domains[uuid]) throw notRunning();
    this.#gone(uuid, detail, message);
  }

  async capabilities(): Promise<Capabilities> {
    return this.#opts.capabilities ?? syntheticCapabilities(this.#opts.cpus, this.#opts.memoryKiB);
  }

  async list(): Promise<readonly RunningDomain[]> {
    const out: RunningDomain[] = [];
    for (const [uuid, d] of Object.entries(this.#domains)) {
      // Announced: a guest that powered off (or, started here, booted) since the last look
      // is a change the agent must hear of, whichever of list() and the timer notices it first.
      this.#settle(uuid, this.#inherited.has(uuid) ? 'poweroff' : true);
      const now = this.#domains[uuid];
      if (!now) continue;
      // A domain still booting is paused, as libvirt shows a qemu started with -S (STARTING_UP).
      out.push({ uuid, name: d.name, state: now.state === 'starting' ? 'paused' : now.state });
    }
    return out;
  }

  async start(def: DomainDef, options: StartOptions = {}): Promise<void> {
    const uuid = def.uuid;
    if (!uuid) throw new VirtError('INVALID_ARG', 'a domain to start needs its uuid', '/domain/uuid');
    if (this.#domains[uuid]) throw new VirtError('OPERATION_INVALID', 'domain is already running');
    this.#inject('start');
    const delay = this.#opts.delays?.start ?? 0;
    if (options.incoming) {
      await this.#listen(uuid, def.name ?? uuid, options.incoming);
      return;
    }
    this.#boots[uuid] = (this.#boots[uuid] ?? 0) + 1;
    this.#inherited.delete(uuid);
    this.#domains[uuid] = { name: def.name ?? uuid, state: 'starting', readyAt: this.#now() + delay, devices: [], ...(options.paused ? { paused: true } : {}) };
    this.#save();
    if (delay > 0) await sleep(delay);
    this.#settle(uuid, true);
    if (!this.#domains[uuid]) throw notRunning();
  }

  async shutdown(uuid: string): Promise<void> {
    const d = this.#active(uuid);
    if (d.state !== 'running') throw notRunning();
    this.#inject('shutdown');
    await this.#delay('shutdown');
    const ms = this.#opts.guestShutdownMs ?? 50;
    if (!Number.isFinite(ms)) return; // the guest ignores the power button
    d.offAt = this.#now() + ms;
    this.#save();
    this.#later(ms, () => this.#settle(uuid, true));
  }

  async destroy(uuid: string): Promise<void> {
    this.#active(uuid);
    this.#inject('destroy');
    await this.#delay('destroy');
    this.#gone(uuid, 'DESTROYED');
  }

  async reboot(uuid: string): Promise<void> {
    const d = this.#active(uuid);
    if (d.state !== 'running') throw notRunning();
    this.#inject('reboot');
    await this.#delay('reboot');
    // on_reboot=restart: the guest goes down and comes straight back; libvirt reports a reset, no state change.
    this.#emit({ uuid, event: 'reset' });
  }

  async reset(uuid: string): Promise<void> {
    this.#active(uuid);
    this.#inject('reset');
    await this.#delay('reset');
    this.#emit({ uuid, event: 'reset' });
  }

  async suspend(uuid: string): Promise<void> {
    const d = this.#active(uuid);
    if (d.state !== 'running') throw notRunning();
    this.#inject('suspend');
    await this.#delay('suspend');
    this.#set(uuid, 'paused');
    this.#emit({ uuid, event: 'suspended', detail: 'PAUSED' });
  }

  async resume(uuid: string): Promise<void> {
    const d = this.#active(uuid);
    if (d.state !== 'paused') throw new VirtError('OPERATION_INVALID', 'domain is not paused');
    this.#inject('resume');
    await this.#delay('resume');
    this.#set(uuid, 'running');
    this.#emit({ uuid, event: 'resumed', detail: 'UNPAUSED' });
  }

  async attachDevice(uuid: string, device: DeviceDef): Promise<void> {
    const d = this.#active(uuid);
    const alias = (device.def as { alias?: { name?: string } }).alias?.name;
    if (alias && d.devices.includes(alias)) throw new VirtError('OPERATION_INVALID', `device with alias '${alias}' is already attached`);
    this.#inject('attachDevice');
    await this.#delay('attachDevice');
    if (alias) d.devices.push(alias);
    this.#save();
  }

  async detachDevice(uuid: string, alias: string): Promise<void> {
    const d = this.#active(uuid);
    if (!d.devices.includes(alias)) throw new VirtError('OPERATION_INVALID', `no device with alias '${alias}' in the running domain`);
    this.#inject('detachDevice');
    await this.#delay('detachDevice');
    d.devices = d.devices.filter((a) => a !== alias);
    this.#save();
  }

  /**
   * Hands the domain over to a test hypervisor started with `incoming` on
   * target.host:target.port: one line of JSON over TCP, answered 'ok'.
   */
  async migrateOut(uuid: string, target: MigrationTarget): Promise<void> {
    const d = this.#active(uuid);
    this.#inject('migrateOut');
    await this.#delay('migrateOut');
    await new Promise<void>((resolve, reject) => {
      const sock = createConnection(target.port, target.host);
      let reply = '';
      sock.setEncoding('utf8');
      sock.on('connect', () => sock.write(`${JSON.stringify({ uuid, state: d.state, devices: d.devices })}\n`));
      sock.on('data', (chunk) => (reply += chunk));
      sock.on('end', () => (reply.trim() === 'ok' ? resolve() : reject(new VirtError('OPERATION_INVALID', `migration of ${uuid} refused by ${target.host}:${target.port}: ${reply.trim()}`))));
      sock.on('error', (e) => reject(new VirtError('OPERATION_INVALID', `migration of ${uuid} to ${target.host}:${target.port} failed: ${e.message}`, undefined, { cause: e })));
    });
    this.#gone(uuid, 'MIGRATED');
  }

  onLifecycle(listener: (change: LifecycleChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const s of this.#incoming.values()) s.close();
    this.#incoming.clear();
    this.#listeners.clear();
  }

  // ------------------------------------------------------------ internals

  #listen(uuid: string, name: string, at: { host: string; port: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => {
        let buf = '';
        sock.setEncoding('utf8');
        sock.on('data', (chunk) => {
          buf += chunk;
          const nl = buf.indexOf('\n');
          if (nl < 0) return;
          const msg = JSON.parse(buf.slice(0, nl)) as { uuid: string; state: SimState; devices: string[] };
          if (msg.uuid !== uuid) return void sock.end(`wrong domain: expected ${uuid}\n`);
          this.#boots[uuid] = (this.#boots[uuid] ?? 0) + 1;
          this.#inherited.delete(uuid);
          this.#domains[uuid] = { name, state: msg.state === 'paused' ? 'paused' : 'running', devices: msg.devices ?? [] };
          this.#save();
          sock.end('ok\n');
          server.close();
          this.#incoming.delete(uuid);
          // As qemu's destination reports it (libvirt's qemuMigrationDstFinish): a paused
          // source arrives as STARTED MIGRATED then SUSPENDED PAUSED, a running one as
          // RESUMED MIGRATED. SUSPENDED MIGRATED is the *source's* event; the model refuses it here.
          if (msg.state === 'paused') {
            this.#emit({ uuid, event: 'started', detail: 'MIGRATED' });
            this.#emit({ uuid, event: 'suspended', detail: 'PAUSED' });
          } else {
            this.#emit({ uuid, event: 'resumed', detail: 'MIGRATED' });
          }
        });
      });
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        this.#incoming.set(uuid, server);
        resolve();
      });
    });
  }

  #active(uuid: string): SimDomain {
    this.#settle(uuid, true);
    const d = this.#domains[uuid];
    if (!d || d.state === 'starting') throw notRunning();
    return d;
  }

  /**
   * Applies what time has done to a domain: a boot completed, a guest powered off.
   * `announce`: emit both, neither, or only the power-off.
   */
  #settle(uuid: string, announce: boolean | 'poweroff'): void {
    const d = this.#domains[uuid];
    if (!d) return;
    const now = this.#now();
    if (d.state === 'starting' && (d.readyAt ?? 0) <= now) {
      d.state = d.paused ? 'paused' : 'running';
      delete d.readyAt;
      delete d.paused;
      this.#save();
      if (announce === true) {
        this.#emit({ uuid, event: 'started', detail: 'BOOTED' });
        if (d.state === 'paused') this.#emit({ uuid, event: 'suspended', detail: 'PAUSED' });
      }
    }
    if (d.offAt !== undefined && d.offAt <= now) {
      if (announce) this.#emit({ uuid, event: 'shutdown', detail: 'GUEST' });
      if (announce) this.#gone(uuid, 'SHUTDOWN');
      else {
        delete this.#domains[uuid];
        this.#save();
      }
    }
  }

  #gone(uuid: string, detail: StoppedDetail, message?: string): void {
    if (!this.#domains[uuid]) return;
    delete this.#domains[uuid];
    this.#save();
    this.#emit({ uuid, event: 'stopped', detail, ...(message ? { message } : {}) });
  }

  #set(uuid: string, state: SimState): void {
    this.#domains[uuid]!.state = state;
    this.#save();
  }

  #inject(op: TestOperation): void {
    const e = this.#failures.get(op)?.shift();
    if (e) throw e;
  }

  async #delay(op: TestOperation): Promise<void> {
    const ms = this.#opts.delays?.[op] ?? 0;
    if (ms > 0) await sleep(ms);
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#closed) fn();
    }, ms);
    this.#timers.add(t);
  }

  #emit(change: LifecycleChange): void {
    if (this.#closed) return;
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch (e) {
        console.error('test hypervisor: lifecycle listener failed:', e);
      }
    }
  }

  #save(): void {
    const file = this.#opts.stateFile;
    // A closed instance has handed its domains to whoever opens the file next: it writes no more.
    if (!file || this.#closed) return;
    const body: StateFile = { v: 1, domains: this.#domains, boots: this.#boots };
    writeFileSync(`${file}.tmp`, JSON.stringify(body));
    renameSync(`${file}.tmp`, file);
  }
}

export function createTestHypervisor(opts: TestHypervisorOptions = {}): TestHypervisor {
  return new TestHypervisor(opts);
}
