/**
 * The QEMU hypervisor: runs `qemu-system-x86_64` for each domain, detached
 * (the VM outlives the agent), one run folder per domain
 * (`<runDir>/<uuid>/`: qemu.pid, qmp.sock, qemu.log, serial.log, domain.xml),
 * controlled through QMP.
 *
 * State comes from QEMU: QMP events (STOP, RESUME, SHUTDOWN, RESET,
 * MIGRATION, DEVICE_DELETED) move a domain and become lifecycle changes,
 * whoever caused them; the methods only ask QEMU and wait for QEMU to answer.
 * The end of a process is seen through the monitor socket closing and the pid
 * disappearing, and named by what came before it: our destroy → DESTROYED, a
 * finished outgoing migration → MIGRATED, a QMP SHUTDOWN (guest power-off,
 * SIGTERM) → SHUTDOWN, a failed incoming migration → FAILED, nothing →
 * CRASHED.
 *
 * reboot: QMP has no ACPI reboot. libvirt's qemu driver fakes one (guest
 * agent, else system_powerdown with -no-shutdown, then system_reset once the
 * guest has powered off); virtflow resets the machine with system_reset, as
 * `virsh reboot --mode` has no equivalent for. The guest sees a hard reset.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDomainXML, parseDomainXML, VirtError, type Capabilities, type DeviceDef, type DomainDef } from '@virtflow/model';
import { hostCapabilities, kvmUsable } from '@virtflow/runtime';
import type { Logger } from '../../log.ts';
import type { Hypervisor, LifecycleChange, MigrationTarget, RunningDomain, StartOptions } from '../types.ts';
import { buildArgv, emulatorOf, guestName, hotplugCalls, netdevId, nodeNames, runPaths, type RunPaths } from './argv.ts';
import { QmpClient, type QmpEvent } from './qmp.ts';
import { cmdlineArg, connectWhenReady, hostCpuFlags, isQemuOf, killPainfully, logTail, pidAlive, qemusByPidfile, readPidfile, spawnDetached } from './process.ts';

export { buildArgv, runPaths, type ArgvOptions, type RunPaths } from './argv.ts';
export { QmpClient, type QmpEvent, type QmpGreeting } from './qmp.ts';

export interface QemuHypervisorOptions {
  /** Where the run folders live (one per domain, by UUID). */
  readonly runDir: string;
  /** The qemu binary for every domain, instead of each definition's <emulator>. */
  readonly emulator?: string;
  /** KVM: 'auto' (default) uses it when /dev/kvm opens read-write; false forces TCG. */
  readonly kvm?: 'auto' | boolean;
  /** `<interface type='network'|'bridge'>` on user-mode networking ('user', default) or refused ('strict'). */
  readonly hostNetworks?: 'user' | 'strict';
  /** How long QEMU may take to open its monitor (default 30 s). */
  readonly startTimeoutMs?: number;
  /** How long the guest may take to release a hot-unplugged device (default 10 s). */
  readonly unplugTimeoutMs?: number;
  /** SIGTERM → SIGKILL delay of destroy (default 3 s). */
  readonly destroyGraceMs?: number;
  /** Where capabilities() comes from (default: probed from this host). */
  readonly capabilities?: () => Promise<Capabilities>;
  /** Where adoption trouble is told (a qemu found but its monitor not answering); silent by default. */
  readonly log?: Logger;
}

type VmState = 'running' | 'paused' | 'shutdown' | 'inmigrate';

interface Vm {
  readonly uuid: string;
  readonly name: string;
  readonly paths: RunPaths;
  pid: number;
  def: DomainDef | undefined;
  child: ChildProcess | undefined;
  qmp: QmpClient | undefined;
  state: VmState;
  /** QEMU still in 'prelaunch': started with -S and never continued (its start was cut short). */
  prelaunch: boolean;
  /** `state` was read from QEMU (or set by our own start); false for an adopted qemu whose monitor has not answered yet. */
  stateKnown: boolean;
  /** A #reattach under way: QEMU serves one monitor client, so one attempt at a time. */
  reattaching: Promise<boolean> | undefined;
  /** Set while start() brings the guest up: its STOP/RESUME are not news. */
  starting: boolean;
  destroying: boolean;
  migratingOut: 'no' | 'running' | 'completed';
  /** Nothing is reported about a start that failed. */
  silent: boolean;
  shutdownSeen: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  gone: boolean;
  readonly stopped: Promise<void>;
  markStopped(): void;
}

const PAUSED_STATUSES = new Set(['paused', 'prelaunch', 'postmigrate', 'finish-migrate', 'suspended', 'io-error', 'watchdog', 'guest-panicked', 'debug', 'restore-vm', 'save-vm', 'internal-error', 'colo']);

function vmStateOf(status: string): VmState {
  if (status === 'running') return 'running';
  if (status === 'inmigrate') return 'inmigrate';
  if (status === 'shutdown') return 'shutdown';
  return PAUSED_STATUSES.has(status) ? 'paused' : 'paused';
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createQemuHypervisor(options: QemuHypervisorOptions): Hypervisor {
  return new QemuHypervisor(options);
}

class QemuHypervisor implements Hypervisor {
  readonly kind = 'qemu' as const;
  readonly #opts: QemuHypervisorOptions;
  readonly #vms = new Map<string, Vm>();
  readonly #listeners = new Set<(c: LifecycleChange) => void>();
  readonly #adopting = new Map<string, Promise<Vm | undefined>>();
  readonly #startingNow = new Set<string>();
  #kvm: Promise<boolean> | undefined;
  #caps: Promise<Capabilities> | undefined;
  #watchdog: NodeJS.Timeout;
  #closed = false;

  constructor(opts: QemuHypervisorOptions) {
    this.#opts = opts;
    // A backstop for processes whose monitor we never got: check the pids every second.
    this.#watchdog = setInterval(() => {
      for (const vm of this.#vms.values()) if (!vm.gone && !pidAlive(vm.pid)) void this.#processGone(vm);
    }, 1000);
    this.#watchdog.unref();
  }

  capabilities(): Promise<Capabilities> {
    return (this.#caps ??= (this.#opts.capabilities ?? hostCapabilities)());
  }

  onLifecycle(listener: (change: LifecycleChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: LifecycleChange): void {
    for (const l of [...this.#listeners]) {
      try {
        l(change);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  #useKvm(): Promise<boolean> {
    const k = this.#opts.kvm ?? 'auto';
    return (this.#kvm ??= k === 'auto' ? kvmUsable() : Promise.resolve(k));
  }

  // ---------------------------------------------------------------- lookup and adoption

  async list(): Promise<readonly RunningDomain[]> {
    this.#assertOpen();
    let entries: string[];
    try {
      entries = await readdir(this.#opts.runDir);
    } catch {
      return [];
    }
    const out: RunningDomain[] = [];
    let scan: Map<string, number> | undefined;
    for (const uuid of entries.filter((e) => UUID_RE.test(e))) {
      let vm = this.#live(uuid);
      if (!vm) {
        try {
          vm = await this.#adopt(uuid, (scan ??= qemusByPidfile()));
        } catch (e) {
          // Not listed, so a reconcile may take it for dead: say why.
          this.#log('warn', 'a qemu could not be adopted', { uuid, error: String(e) });
        }
      } else if (!vm.stateKnown) await this.#reattach(vm, 1000);
      if (vm) out.push(this.#listed(vm));
    }
    return out;
  }

  #listed(vm: Vm): RunningDomain {
    // Unknown: 'paused' (the Vm's state until QEMU answers), flagged, never taken for running.
    return {
      uuid: vm.uuid, name: vm.name, state: vm.state === 'inmigrate' ? 'paused' : vm.state, pid: vm.pid,
      ...(vm.stateKnown ? {} : { stateUnknown: true }), ...(vm.stateKnown && vm.prelaunch && !vm.starting ? { prelaunch: true } : {}),
    };
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
    this.#opts.log?.(level, msg, fields);
  }

  /**
   * An adopted qemu whose monitor did not answer: try it again (QEMU serves one
   * client at a time, and a qemu spawned just before its agent died may not
   * have opened its socket yet). True when the state is known now.
   */
  #reattach(vm: Vm, timeoutMs: number, level: 'debug' | 'warn' = 'debug'): Promise<boolean> {
    return (vm.reattaching ??= this.#reattachOnce(vm, timeoutMs, level).finally(() => (vm.reattaching = undefined)));
  }

  async #reattachOnce(vm: Vm, timeoutMs: number, level: 'debug' | 'warn'): Promise<boolean> {
    if (vm.gone) return false;
    if (vm.qmp && !vm.qmp.isClosed && vm.stateKnown) return true;
    try {
      const qmp = vm.qmp && !vm.qmp.isClosed ? vm.qmp : await connectWhenReady(vm.paths.qmp, () => !pidAlive(vm.pid), vm.paths.log, timeoutMs);
      if (vm.qmp !== qmp) this.#attach(vm, qmp);
      const status = (await qmp.execute<{ status: string }>('query-status')).status;
      vm.state = vmStateOf(status);
      vm.prelaunch = status === 'prelaunch';
      vm.stateKnown = true;
      return true;
    } catch (e) {
      this.#log(level, 'the monitor of an adopted qemu does not answer: its state is unknown', { uuid: vm.uuid, pid: vm.pid, error: String(e) });
      return false;
    }
  }

  #live(uuid: string): Vm | undefined {
    const vm = this.#vms.get(uuid.toLowerCase());
    return vm && !vm.gone ? vm : undefined;
  }

  /** Takes over a qemu this instance did not start (an agent restart): pidfile, /proc check, QMP. */
  #adopt(uuid: string, scan?: ReadonlyMap<string, number>): Promise<Vm | undefined> {
    // One adoption at a time per domain: QEMU serves a single QMP client.
    const key = uuid.toLowerCase();
    let p = this.#adopting.get(key);
    if (!p) {
      p = this.#adoptOnce(key, scan).finally(() => this.#adopting.delete(key));
      this.#adopting.set(key, p);
    }
    return p;
  }

  async #adoptOnce(uuid: string, scan?: ReadonlyMap<string, number>): Promise<Vm | undefined> {
    const paths = runPaths(this.#opts.runDir, uuid.toLowerCase());
    let pid = await readPidfile(paths.pidfile);
    if (pid === undefined || !isQemuOf(pid, uuid)) {
      // No (valid) pidfile: only a qemu being started when its agent died has none. Look it up.
      if (!existsSync(paths.dir)) return undefined;
      // The same uuid may also run from another run folder (a migration's other end on this host): match the pidfile too.
      pid = (scan ?? qemusByPidfile()).get(paths.pidfile);
      if (pid === undefined || !isQemuOf(pid, uuid)) return undefined;
    }
    const existing = this.#live(uuid);
    if (existing) return existing;
    const name = guestName(cmdlineArg(pid, '-name') ?? '') || uuid;
    let def: DomainDef | undefined;
    try {
      def = parseDomainXML(await readFile(paths.domainXml, 'utf8'));
    } catch {
      def = undefined;
    }
    const vm = this.#newVm(uuid.toLowerCase(), name, paths, pid, def, undefined);
    // Not 'running' until QEMU says so: a qemu whose start was cut short sits in prelaunch, CPUs never started.
    vm.state = 'paused';
    vm.stateKnown = false;
    this.#vms.set(vm.uuid, vm);
    // Another client may hold the monitor (QEMU serves one at a time), or a qemu spawned just before its
    // agent died may not have opened it yet: the VM exists either way, its state unknown until it answers.
    if (!(await this.#reattach(vm, 5000, 'warn')) && !pidAlive(pid)) {
      this.#vms.delete(vm.uuid);
      return undefined;
    }
    return vm;
  }

  /** The running domain, adopting it when this instance has not seen it yet. */
  async #get(uuid: string): Promise<Vm> {
    const vm = this.#live(uuid) ?? (await this.#adopt(uuid));
    if (vm) return vm;
    if (existsSync(runPaths(this.#opts.runDir, uuid.toLowerCase()).dir)) throw new VirtError('OPERATION_INVALID', 'domain is not running');
    throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`);
  }

  #newVm(uuid: string, name: string, paths: RunPaths, pid: number, def: DomainDef | undefined, child: ChildProcess | undefined): Vm {
    let markStopped!: () => void;
    const stopped = new Promise<void>((r) => (markStopped = r));
    return {
      uuid, name, paths, pid, def, child, qmp: undefined, state: 'paused', prelaunch: false, stateKnown: true, reattaching: undefined, starting: false, destroying: false,
      migratingOut: 'no', silent: false, shutdownSeen: false, exit: undefined, gone: false, stopped, markStopped,
    };
  }

  // ---------------------------------------------------------------- events

  #attach(vm: Vm, qmp: QmpClient): void {
    vm.qmp = qmp;
    qmp.onEvent((ev) => this.#onEvent(vm, ev));
    qmp.onClose(() => {
      if (vm.qmp === qmp) void this.#watchExit(vm);
    });
  }

  #onEvent(vm: Vm, ev: QmpEvent): void {
    const uuid = vm.uuid;
    switch (ev.event) {
      case 'STOP':
        if (vm.starting || vm.migratingOut !== 'no' || vm.state === 'inmigrate' || vm.state === 'shutdown') return;
        if (vm.state !== 'paused') {
          vm.state = 'paused';
          this.#emit({ uuid, event: 'suspended', detail: 'PAUSED' });
        }
        return;
      case 'RESUME':
        if (vm.state === 'inmigrate') {
          void this.#incomingDone(vm);
          return;
        }
        if (vm.starting || vm.migratingOut !== 'no') return;
        if (vm.state !== 'running') {
          vm.state = 'running';
          this.#emit({ uuid, event: 'resumed', detail: 'UNPAUSED' });
        }
        return;
      case 'SHUTDOWN': {
        vm.shutdownSeen = true;
        if (vm.destroying || vm.migratingOut !== 'no' || vm.silent || vm.state === 'shutdown') return;
        vm.state = 'shutdown';
        const guest = ev.data?.['guest'];
        this.#emit({ uuid, event: 'shutdown', detail: guest === true ? 'GUEST' : guest === false ? 'HOST' : 'FINISHED' });
        return;
      }
      case 'RESET':
        if (!vm.silent) this.#emit({ uuid, event: 'reset' });
        return;
      case 'MIGRATION':
        if (vm.state === 'inmigrate' && ev.data?.['status'] === 'completed') void this.#incomingDone(vm);
        return;
      default:
        return;
    }
  }

  /** The destination of a migration has the guest: started MIGRATED (and paused if the source was). */
  async #incomingDone(vm: Vm): Promise<void> {
    if (vm.state !== 'inmigrate' || !vm.qmp) return;
    let status = 'inmigrate';
    for (let i = 0; i < 100 && status === 'inmigrate'; i++) {
      status = (await vm.qmp.execute<{ status: string }>('query-status').catch(() => ({ status: 'gone' }))).status;
      if (status === 'inmigrate') await sleep(20);
    }
    if (vm.state !== 'inmigrate' || status === 'gone') return;
    vm.state = status === 'running' ? 'running' : 'paused';
    this.#emit({ uuid: vm.uuid, event: 'started', detail: 'MIGRATED' });
    if (vm.state === 'paused') this.#emit({ uuid: vm.uuid, event: 'suspended', detail: 'PAUSED' });
  }

  /** The monitor closed: QEMU exited or is exiting. Watch the pid go. */
  async #watchExit(vm: Vm): Promise<void> {
    for (let i = 0; i < 500 && !vm.gone; i++) {
      if (vm.exit || !pidAlive(vm.pid)) return this.#processGone(vm);
      await sleep(10);
    }
    // Still alive 5 s after closing its monitor: the watchdog keeps looking.
  }

  async #processGone(vm: Vm): Promise<void> {
    if (vm.gone) return;
    // Our own child: wait for node to reap it, for its exit status and so the pid is really free.
    if (vm.child && !vm.exit) {
      const child = vm.child;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        if (vm.exit || child.exitCode !== null || child.signalCode !== null) resolve();
      });
      vm.exit ??= child.exitCode !== null || child.signalCode !== null ? { code: child.exitCode, signal: child.signalCode } : undefined;
    }
    if (vm.gone) return;
    vm.gone = true;
    vm.qmp?.close();
    // Only this Vm's own entry and files: a late end of an old Vm must not unlist, or remove the pidfile
    // and monitor socket of, a qemu started since in the same run folder.
    if (this.#vms.get(vm.uuid) === vm) this.#vms.delete(vm.uuid);
    if (!this.#vms.has(vm.uuid)) {
      await rm(vm.paths.pidfile, { force: true }).catch(() => undefined);
      await rm(vm.paths.qmp, { force: true }).catch(() => undefined);
    }
    // A start that fails reports nothing: it never started.
    if (!vm.silent && !vm.starting) {
      if (vm.destroying) this.#emit({ uuid: vm.uuid, event: 'stopped', detail: 'DESTROYED' });
      else if (vm.migratingOut === 'completed') this.#emit({ uuid: vm.uuid, event: 'stopped', detail: 'MIGRATED' });
      else if (vm.state === 'inmigrate') this.#emit({ uuid: vm.uuid, event: 'stopped', detail: 'FAILED', message: `incoming migration failed: ${await logTail(vm.paths.log, 3)}` });
      else if (vm.shutdownSeen) this.#emit({ uuid: vm.uuid, event: 'stopped', detail: 'SHUTDOWN' });
      else {
        const how = vm.exit ? (vm.exit.signal ? `signal ${vm.exit.signal}` : `exit code ${vm.exit.code}`) : 'without a shutdown';
        this.#emit({ uuid: vm.uuid, event: 'stopped', detail: 'CRASHED', message: `qemu (pid ${vm.pid}) ended unexpectedly: ${how}` });
      }
    }
    vm.markStopped();
  }

  // ---------------------------------------------------------------- start

  async start(def: DomainDef, options: StartOptions = {}): Promise<void> {
    this.#assertOpen();
    const uuid = def.uuid?.toLowerCase();
    if (!uuid || !UUID_RE.test(uuid)) throw new VirtError('INVALID_ARG', 'the definition has no valid uuid', '/domain/uuid');
    // Two starts of one domain at once would share (and wipe) one run folder.
    if (this.#startingNow.has(uuid)) throw new VirtError('OPERATION_INVALID', 'domain is already being started');
    this.#startingNow.add(uuid);
    try {
      await this.#startOnce(uuid, def, options);
    } finally {
      this.#startingNow.delete(uuid);
    }
  }

  async #startOnce(uuid: string, def: DomainDef, options: StartOptions): Promise<void> {
    const existing = this.#live(uuid) ?? (await this.#adopt(uuid));
    if (existing) {
      // Found by its command line before its monitor was up: give it the time a start has (else: already running, below).
      // In rounds: a shorter attempt (a list()'s) may be under way, and it is shared.
      const until = Date.now() + (this.#opts.startTimeoutMs ?? 30_000);
      while (!existing.child && !existing.stateKnown && !existing.gone && Date.now() < until) await this.#reattach(existing, Math.max(1000, until - Date.now()));
      if (existing.prelaunch && existing.qmp && !options.incoming) return this.#finishStart(existing, options);
      throw new VirtError('OPERATION_INVALID', 'domain is already running');
    }
    const paths = runPaths(this.#opts.runDir, uuid);
    const emulator = emulatorOf(def, this.#opts.emulator);
    const kvm = await this.#useKvm();
    const argv = buildArgv(def, {
      kvm,
      paths,
      ...(options.incoming ? { incoming: options.incoming } : {}),
      ...(this.#opts.hostNetworks ? { hostNetworks: this.#opts.hostNetworks } : {}),
      // Only `-cpu host` / `max` under KVM need the probe (a qemu start, once per emulator).
      hostCpuFlags: kvm && def.type === 'kvm' && /^(host-passthrough|host-model|maximum)$/.test(def.cpu?.mode ?? '') ? await hostCpuFlags(emulator) : [],
    });
    await rm(paths.dir, { recursive: true, force: true });
    await mkdir(paths.dir, { recursive: true, mode: 0o750 });
    await writeFile(paths.domainXml, formatDomainXML(def));
    await writeFile(paths.log, `${new Date().toISOString()} starting: ${[emulator, ...argv].map((a) => (/[\s'"{}]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);

    const child = spawnDetached(emulator, argv, paths.log);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const vm = this.#newVm(uuid, def.name ?? uuid, paths, child.pid ?? -1, def, child);
    vm.starting = true;
    vm.state = options.incoming ? 'inmigrate' : 'paused';
    child.once('exit', (code, signal) => {
      vm.exit = { code, signal };
      if (!vm.starting) void this.#processGone(vm);
    });
    this.#vms.set(uuid, vm);
    try {
      if (child.pid === undefined) throw new VirtError('INTERNAL_ERROR', `cannot run ${emulator}: ${(await spawnError).message}`);
      const qmp = await connectWhenReady(paths.qmp, () => vm.exit !== undefined, paths.log, this.#opts.startTimeoutMs ?? 30_000);
      this.#attach(vm, qmp);
      if (options.incoming) {
        // MIGRATION events tell the destination when the state has arrived.
        await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
        vm.starting = false;
        return;
      }
      if (!options.paused) await qmp.execute('cont');
      const status = await qmp.execute<{ status: string }>('query-status');
      vm.state = vmStateOf(status.status);
      vm.starting = false;
      this.#emit({ uuid, event: 'started', detail: 'BOOTED' });
      if (vm.state === 'paused') this.#emit({ uuid, event: 'suspended', detail: 'PAUSED' });
    } catch (e) {
      vm.silent = true;
      // QEMU may greet and then fail (a device that cannot be realized): its log says why.
      const died = vm.exit !== undefined || (await Promise.race([new Promise<boolean>((r) => child.once('exit', () => r(true))), sleep(300).then(() => false)]));
      vm.starting = false;
      if (vm.exit === undefined && child.pid !== undefined) await killPainfully(child.pid, 1000).catch(() => undefined);
      await this.#processGone(vm);
      if (died && (e as VirtError).code === 'INTERNAL_ERROR' && !/process exited/.test((e as Error).message)) {
        throw new VirtError('INTERNAL_ERROR', `process exited while connecting to monitor: ${await logTail(paths.log)}`, undefined, { cause: e });
      }
      throw e;
    }
  }

  /**
   * A qemu whose start was cut short (the agent died after spawning it, before
   * `cont`) is the same start asked again: finish it rather than run a second.
   */
  async #finishStart(vm: Vm, options: StartOptions): Promise<void> {
    const qmp = vm.qmp!;
    vm.starting = true;
    try {
      if (!options.paused) await qmp.execute('cont');
      vm.state = vmStateOf((await qmp.execute<{ status: string }>('query-status')).status);
      vm.prelaunch = false;
    } finally {
      vm.starting = false;
    }
    this.#emit({ uuid: vm.uuid, event: 'started', detail: 'BOOTED' });
    if (vm.state === 'paused') this.#emit({ uuid: vm.uuid, event: 'suspended', detail: 'PAUSED' });
  }

  // ---------------------------------------------------------------- lifecycle operations

  async #monitor(uuid: string, allowed: readonly VmState[], message: string): Promise<{ vm: Vm; qmp: QmpClient }> {
    this.#assertOpen();
    const vm = await this.#get(uuid);
    // Adopted while another client held the monitor: try again now (reported below if still not).
    if ((!vm.qmp || !vm.stateKnown) && !vm.gone) await this.#reattach(vm, 2000);
    if (!allowed.includes(vm.state)) throw new VirtError('OPERATION_INVALID', message);
    if (!vm.qmp || vm.qmp.isClosed) throw new VirtError('OPERATION_INVALID', 'qemu monitor is not available (another client holds it?)');
    return { vm, qmp: vm.qmp };
  }

  async shutdown(uuid: string): Promise<void> {
    const { qmp } = await this.#monitor(uuid, ['running', 'paused', 'shutdown'], 'domain is not running');
    await qmp.execute('system_powerdown');
  }

  async reboot(uuid: string): Promise<void> {
    const { qmp } = await this.#monitor(uuid, ['running', 'paused'], 'domain is not running');
    await qmp.execute('system_reset');
  }

  async reset(uuid: string): Promise<void> {
    const { qmp } = await this.#monitor(uuid, ['running', 'paused'], 'domain is not running');
    await qmp.execute('system_reset');
  }

  async suspend(uuid: string): Promise<void> {
    const { qmp } = await this.#monitor(uuid, ['running'], 'domain is not running');
    // The STOP event (before the reply) moves the state and reports it.
    await qmp.execute('stop');
  }

  async resume(uuid: string): Promise<void> {
    const { qmp } = await this.#monitor(uuid, ['paused'], 'domain is not paused');
    await qmp.execute('cont');
  }

  /** SIGTERM, SIGKILL after the grace period; returns once the process is gone and its stop handled. */
  async #kill(vm: Vm): Promise<void> {
    await killPainfully(vm.pid, this.#opts.destroyGraceMs ?? 3000);
    // A qemu this process spawned is dead once /proc says zombie, but its pid is only free once Node has
    // reaped it (its 'exit' event): until then `kill(pid, 0)` still finds it (seen once in CI).
    const child = vm.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5_000, undefined, { ref: false })]);
    }
    if (!vm.gone && (vm.exit || !pidAlive(vm.pid))) await this.#processGone(vm);
    await vm.stopped;
  }

  async destroy(uuid: string): Promise<void> {
    this.#assertOpen();
    const vm = await this.#get(uuid);
    vm.destroying = true;
    await this.#kill(vm);
  }

  // ---------------------------------------------------------------- devices

  async attachDevice(uuid: string, device: DeviceDef): Promise<void> {
    const { vm, qmp } = await this.#monitor(uuid, ['running', 'paused'], 'domain is not running');
    const taken = new Set((await qmp.execute<Array<{ name: string }>>('qom-list', { path: '/machine/peripheral' })).map((p) => p.name));
    const def = vm.def ?? ({ name: vm.name, uuid: vm.uuid, devices: {} } as DomainDef);
    const { alias, calls } = hotplugCalls(def, device, { takenAliases: taken, ...(this.#opts.hostNetworks ? { hostNetworks: this.#opts.hostNetworks } : {}) });
    if (taken.has(alias)) throw new VirtError('OPERATION_INVALID', `a device with alias '${alias}' already exists`);
    const done: Array<{ execute: string; arguments?: Record<string, unknown> }> = [];
    try {
      for (const call of calls) {
        await qmp.execute(call.execute, call.arguments);
        done.push(call);
      }
    } catch (e) {
      // Undo the backends already added, newest first.
      for (const call of done.reverse()) {
        if (call.execute === 'netdev_add') await qmp.execute('netdev_del', { id: call.arguments?.['id'] }).catch(() => undefined);
        if (call.execute === 'blockdev-add') await qmp.execute('blockdev-del', { 'node-name': call.arguments?.['node-name'] }).catch(() => undefined);
      }
      throw e;
    }
  }

  async detachDevice(uuid: string, alias: string): Promise<void> {
    const { qmp } = await this.#monitor(uuid, ['running', 'paused'], 'domain is not running');
    const taken = (await qmp.execute<Array<{ name: string }>>('qom-list', { path: '/machine/peripheral' })).map((p) => p.name);
    if (!taken.includes(alias)) throw new VirtError('OPERATION_INVALID', `device not found: no device with alias '${alias}'`);
    const timeoutMs = this.#opts.unplugTimeoutMs ?? 10_000;
    const deleted = qmp.waitEvent('DEVICE_DELETED', (ev) => ev.data?.['device'] === alias, timeoutMs);
    deleted.catch(() => undefined);
    await qmp.execute('device_del', { id: alias });
    try {
      await deleted;
    } catch (e) {
      if ((e as VirtError).code === 'OPERATION_TIMEOUT') throw new VirtError('OPERATION_TIMEOUT', `the guest did not release device '${alias}' within ${timeoutMs} ms (the unplug request stays pending)`);
      throw e;
    }
    // The backends the device used, by the names argv gives them; those it did not have answer "not found".
    await qmp.execute('netdev_del', { id: netdevId(alias) }).catch(() => undefined);
    const nodes = nodeNames(alias);
    await qmp.execute('blockdev-del', { 'node-name': nodes.format }).catch(() => undefined);
    await qmp.execute('blockdev-del', { 'node-name': nodes.storage }).catch(() => undefined);
  }

  // ---------------------------------------------------------------- migration

  async migrateOut(uuid: string, target: MigrationTarget): Promise<void> {
    const { vm, qmp } = await this.#monitor(uuid, ['running', 'paused'], 'domain is not running');
    const before = vm.state;
    vm.migratingOut = 'running';
    const host = target.host.includes(':') ? `[${target.host}]` : target.host;
    try {
      await qmp.execute('migrate', { uri: `tcp:${host}:${target.port}` });
      for (;;) {
        const info = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
        if (info.status === 'completed') break;
        if (info.status === 'failed' || info.status === 'cancelled') throw new VirtError('INTERNAL_ERROR', `operation failed: job 'migration out' failed: ${info['error-desc'] ?? info.status}`);
        await sleep(50);
      }
    } catch (e) {
      vm.migratingOut = 'no';
      // QEMU resumes a source whose migration failed: catch up with its state.
      const status = await qmp.execute<{ status: string }>('query-status').catch(() => undefined);
      if (status) {
        vm.state = vmStateOf(status.status);
        if (vm.state !== before && vm.state === 'running') this.#emit({ uuid: vm.uuid, event: 'resumed', detail: 'MIGRATED' });
        if (vm.state !== before && vm.state === 'paused') this.#emit({ uuid: vm.uuid, event: 'suspended', detail: 'MIGRATED' });
      }
      throw e;
    }
    // Handed over: the source copy is stopped, as libvirt's qemuProcessStop(MIGRATED).
    vm.migratingOut = 'completed';
    await this.#kill(vm);
  }

  // ---------------------------------------------------------------- close

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#watchdog);
    for (const vm of this.#vms.values()) {
      const qmp = vm.qmp;
      vm.qmp = undefined;
      vm.child?.removeAllListeners('exit');
      qmp?.close();
    }
    this.#vms.clear();
    this.#listeners.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new VirtError('OPERATION_INVALID', 'the qemu hypervisor is closed');
  }
}
