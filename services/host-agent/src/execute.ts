/**
 * Carrying out one command: check the domain's state with the model's
 * transition rules (libvirt's errors for a wrong state), act through the
 * hypervisor, append the events the command leads to with its ids
 * (correlationId = the command's, causationId = the command's id).
 *
 * `recovering` is set when an earlier attempt of the same command may have
 * got part of the way (the agent died, or an append failed): the command's
 * own events already in the log are the result; otherwise the hypervisor is
 * asked where the domain is, and an action already done is not done twice
 * (a start finds its domain running and only records it).
 */
import {
  VirtError, checkTransition, defineDevice, defineDomain as postParse, formatDomainXML, parseDomainXML, reduceDomain,
  type AnyCommand, type AnyEvent, type Capabilities, type Command, type DomainDef, type DomainState, type DriverRegistry, type StartKnown,
} from '@virtflow/model';
import { ConcurrencyError, defineDomain, domainRef, type EventDraft, type EventStore } from '@virtflow/runtime';
import type { ChangeBook } from './changes.ts';
import { guardStorage } from './storage-guard.ts';
import type { Logger } from './log.ts';
import type { Hypervisor, RunningDomain } from './hypervisor/types.ts';

export interface ExecContext {
  readonly hostId: string;
  readonly store: EventStore;
  readonly hypervisor: Hypervisor;
  readonly caps: Capabilities;
  readonly registry: DriverRegistry;
  readonly book: ChangeBook;
  /** How long a start found half-done after a restart may take to reach running before it is started again. */
  readonly startRecoveryMs: number;
  readonly log: Logger;
  /**
   * The state this agent last wrote per domain. A running domain's lifecycle
   * is written by its agent alone (commands of one domain run one at a time),
   * so suspend, resume, destroy and the like decide on it without a load; the
   * append's optimistic check still catches anyone who wrote meanwhile (then
   * the agent reloads and checks again). Starts and migrations load: they
   * need the current definition or the scheduler's DomainMigrating (a start
   * the scheduler sent with its `known` decides on that instead, and leaves
   * no entry here).
   */
  readonly cache: Map<string, Decided>;
  /** Folders the definitions' host paths must lie under (none: no restriction): storage-guard.ts. */
  readonly storagePaths?: readonly string[];
}

/** A domain's state and version as a decision saw them. */
export interface Decided {
  readonly state: DomainState;
  readonly version: number;
}

const CACHEABLE: ReadonlySet<string> = new Set(['shutdown', 'destroy', 'reboot', 'reset', 'suspend', 'resume', 'attach-device', 'detach-device']);

export interface RecordedEvent {
  readonly id: string;
  readonly type: string;
  readonly seq: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The domain as read for this command while its pending record was being
 * created (agent.ts): a start needs the read anyway, and asking for both at
 * once saves a round trip. Not used in recovery, which reads afresh.
 */
export type Preloaded = Promise<{ readonly state: DomainState | undefined; readonly version: number }>;

export async function execute(ctx: ExecContext, cmd: AnyCommand, recovering: boolean, preloaded?: Preloaded): Promise<readonly RecordedEvent[]> {
  try {
    return await dispatch(ctx, cmd, recovering, preloaded);
  } catch (e) {
    // Whatever went wrong, the next decision on this domain starts from the log.
    ctx.cache.delete(cmd.uuid);
    throw e;
  }
}

async function dispatch(ctx: ExecContext, cmd: AnyCommand, recovering: boolean, preloaded: Preloaded | undefined): Promise<readonly RecordedEvent[]> {
  let prior: readonly RecordedEvent[] = [];
  if (recovering) {
    ctx.cache.delete(cmd.uuid);
    prior = await ownEvents(ctx, cmd);
    // The store appends a command's events one by one, not atomically: an agent killed between
    // a start's DomainPlaced and its DomainStarted left the first alone, which is not the start's
    // result (the log would say shutoff while the domain runs). That start goes on from the log.
    // Likewise an undefine killed between its DomainUndefined and the release of the name.
    if (prior.length && cmd.type === 'undefine') return finishUndefine(ctx, cmd, prior);
    if (prior.length && !(cmd.type === 'start' && startCutShort(cmd, prior))) return prior;
  }
  switch (cmd.type) {
    case 'define':
      return define(ctx, cmd);
    case 'undefine':
      return undefine(ctx, cmd);
    case 'start':
      if (prior.length) return finishStartRecord(ctx, cmd as Command<'start'>, prior);
      return start(ctx, cmd, recovering, recovering ? undefined : preloaded);
    case 'shutdown':
      return op(ctx, cmd, recovering, {
        check: (s) => running(ctx, s),
        act: () => ctx.hypervisor.shutdown(cmd.uuid),
        // The guest decides: its power-off is recorded when it comes, as this command's.
        before: () => ctx.book.followUp(cmd.uuid, { commandId: cmd.id, correlationId: cmd.correlationId, endsWith: ['stopped'] }),
        done: (a) => a === undefined,
      });
    case 'destroy':
      return op(ctx, cmd, recovering, {
        check: (s) => active(ctx, s),
        expect: ['stopped:DESTROYED'],
        act: () => ctx.hypervisor.destroy(cmd.uuid),
        drafts: () => [{ type: 'DomainStopped', data: { uuid: cmd.uuid, hostId: ctx.hostId, detail: 'DESTROYED' } }],
        done: (a) => a === undefined,
      });
    case 'reboot':
      return op(ctx, cmd, recovering, { check: (s) => running(ctx, s), expect: ['reset'], act: () => ctx.hypervisor.reboot(cmd.uuid), done: () => true });
    case 'reset':
      return op(ctx, cmd, recovering, { check: (s) => active(ctx, s), expect: ['reset'], act: () => ctx.hypervisor.reset(cmd.uuid), done: () => true });
    case 'suspend':
      return op(ctx, cmd, recovering, {
        check: (s) => running(ctx, s),
        expect: ['suspended'],
        act: () => ctx.hypervisor.suspend(cmd.uuid),
        drafts: () => [{ type: 'DomainSuspended', data: { uuid: cmd.uuid, hostId: ctx.hostId, detail: 'PAUSED' } }],
        done: (a) => a?.state === 'paused',
      });
    case 'resume':
      return op(ctx, cmd, recovering, {
        check: (s) => {
          if (s.state !== 'paused') throw new VirtError('OPERATION_INVALID', 'domain is not paused');
          here(ctx, s);
        },
        expect: ['resumed'],
        act: () => ctx.hypervisor.resume(cmd.uuid),
        drafts: () => [{ type: 'DomainResumed', data: { uuid: cmd.uuid, hostId: ctx.hostId, detail: 'UNPAUSED' } }],
        done: (a) => a?.state === 'running',
      });
    case 'attach-device': {
      const c = cmd;
      return op(ctx, cmd, recovering, {
        check: (s) => active(ctx, s),
        act: async (s) => {
          await guardStorage(c.args.xml, ctx.storagePaths, ctx.caps);
          const device = defineDevice(c.args.xml, domainDef(s), { caps: ctx.caps, registry: ctx.registry, provenance: false }).def;
          await tolerant(recovering, () => ctx.hypervisor.attachDevice(c.uuid, device));
        },
        done: () => false,
      });
    }
    case 'detach-device': {
      const c = cmd;
      return op(ctx, cmd, recovering, {
        check: (s) => active(ctx, s),
        act: () => tolerant(recovering, () => ctx.hypervisor.detachDevice(c.uuid, c.args.alias)),
        done: () => false,
      });
    }
    case 'migrate-in': {
      const c = cmd;
      return op(ctx, cmd, recovering, {
        check: (s) => {
          const m = s.migration;
          if (!m || m.toHost !== ctx.hostId) throw new VirtError('OPERATION_INVALID', `domain '${s.name}' is not being migrated to host '${ctx.hostId}'`);
          if (m.fromHost !== c.args.fromHost) throw new VirtError('OPERATION_INVALID', `domain '${s.name}' is being migrated from host '${m.fromHost}', not '${c.args.fromHost}'`);
        },
        before: () => ctx.book.followUp(c.uuid, { commandId: c.id, correlationId: c.correlationId, endsWith: ['resumed:MIGRATED', 'started:MIGRATED', 'suspended:MIGRATED', 'stopped'] }),
        act: async (s) => {
          await guardStorage(s.xml, ctx.storagePaths, ctx.caps);
          await ctx.hypervisor.start(domainDef(s), { incoming: { host: c.args.host, port: c.args.port } });
        },
        done: (a) => a !== undefined,
      });
    }
    case 'migrate-out': {
      const c = cmd;
      return op(ctx, cmd, recovering, {
        check: (s) => {
          active(ctx, s);
          const m = s.migration;
          if (!m || m.fromHost !== ctx.hostId || m.toHost !== c.args.toHost) throw new VirtError('OPERATION_INVALID', `domain '${s.name}' is not being migrated from host '${ctx.hostId}' to '${c.args.toHost}'`);
        },
        expect: ['stopped:MIGRATED'],
        act: () => ctx.hypervisor.migrateOut(c.uuid, { host: c.args.host, port: c.args.port }),
        drafts: () => [{ type: 'DomainStopped', data: { uuid: c.uuid, hostId: ctx.hostId, detail: 'MIGRATED' } }],
        done: (a) => a === undefined,
      });
    }
  }
}

// ------------------------------------------------------------- the checks

function noDomain(uuid: string): VirtError {
  return new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`, '/uuid');
}

function here(ctx: ExecContext, s: DomainState): void {
  if (s.hostId !== undefined && s.hostId !== ctx.hostId) throw new VirtError('OPERATION_INVALID', `domain '${s.name}' is on host '${s.hostId}', not '${ctx.hostId}'`);
}

/** libvirt's virDomainObjCheckActive. */
function active(ctx: ExecContext, s: DomainState): void {
  if (s.state === 'shutoff') throw new VirtError('OPERATION_INVALID', 'domain is not running');
  here(ctx, s);
}

/** qemu's shutdown, reboot and suspend want the CPUs running. */
function running(ctx: ExecContext, s: DomainState): void {
  if (s.state !== 'running') throw new VirtError('OPERATION_INVALID', 'domain is not running');
  here(ctx, s);
}

/** In recovery an attach or detach may already have happened: its "already so" error means done. */
async function tolerant(recovering: boolean, f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!(recovering && e instanceof VirtError && e.code === 'OPERATION_INVALID')) throw e;
  }
}

function domainDef(s: DomainState): DomainDef {
  return parseDomainXML(s.xml);
}

/** The drafts must be legal steps from `state`, one after the other (throws the model's VirtError). */
function checkDrafts(store: EventStore, state: DomainState | undefined, drafts: readonly EventDraft[], cmd: AnyCommand): void {
  let s = state;
  for (const e of store.makeEvents(drafts, state?.version ?? 0, { correlationId: cmd.correlationId, causationId: cmd.id })) {
    checkTransition(s, e);
    s = reduceDomain(s, e);
  }
}

// ------------------------------------------------------------- the steps

interface Op {
  /** Throws the VirtError a wrong state is. */
  check(s: DomainState): void;
  /** Changes the hypervisor will report for this action and this command records itself. */
  readonly expect?: readonly string[];
  before?(): void;
  act(s: DomainState): Promise<void>;
  /** The events that record the result (none: the outcome record is the result). */
  drafts?(s: DomainState): readonly EventDraft[];
  /** In recovery: the hypervisor already shows the action done. */
  done(actual: RunningDomain | undefined): boolean;
}

async function op(ctx: ExecContext, cmd: AnyCommand, recovering: boolean, o: Op): Promise<readonly RecordedEvent[]> {
  const loaded = (CACHEABLE.has(cmd.type) ? ctx.cache.get(cmd.uuid) : undefined) ?? (await load(ctx, cmd.uuid));
  const s = loaded.state;
  if (!s?.defined) throw noDomain(cmd.uuid);
  o.check(s);
  const drafts = o.drafts?.(s) ?? [];
  checkDrafts(ctx.store, s, drafts, cmd);
  const actual = recovering ? await find(ctx, cmd.uuid) : undefined;
  // A domain whose state the hypervisor could not read is not known to be done: act (and fail if it still cannot).
  const skip = recovering && !actual?.stateUnknown && o.done(actual);
  if (!skip) {
    o.before?.();
    await act(ctx, cmd.uuid, o.expect ?? [], () => o.act(s));
  }
  return drafts.length ? record(ctx, cmd, loaded, (now) => o.drafts!(now)) : [];
}

async function load(ctx: ExecContext, uuid: string): Promise<{ state: DomainState | undefined; version: number }> {
  const l = await ctx.store.load(domainRef(uuid));
  return { state: l.state, version: l.version };
}

/** Folds what was appended into the decision's state, for the next command of the domain. */
function remember(ctx: ExecContext, uuid: string, from: DomainState, version: number, events: readonly AnyEvent[]): void {
  let s: DomainState | undefined = from;
  for (const e of events) s = reduceDomain(s, e);
  if (s?.defined) ctx.cache.set(uuid, { state: s, version: version + events.length });
  else ctx.cache.delete(uuid);
}

async function act(ctx: ExecContext, uuid: string, expect: readonly string[], f: () => Promise<void>): Promise<void> {
  // Expected for as long as the hypervisor acts (a TCG start or a destroy's SIGKILL grace can outlast
  // the book's TTL), then for the TTL: a change of ours reported late must not be recorded as news.
  ctx.book.expect(uuid, expect, { open: true });
  try {
    await f();
    ctx.book.settle(uuid);
  } catch (e) {
    ctx.book.unexpect(uuid);
    // What the hypervisor throws is the command's failure (qemu would not start, QMP refused), never a reason to retry.
    throw e instanceof VirtError ? e : new VirtError('INTERNAL_ERROR', e instanceof Error ? e.message : String(e), undefined, { cause: e });
  }
}

async function find(ctx: ExecContext, uuid: string): Promise<RunningDomain | undefined> {
  return (await ctx.hypervisor.list()).find((d) => d.uuid === uuid);
}

/**
 * Appends the command's events at the version the decision was made on; a
 * concurrent writer (the scheduler, the parser) sends it round again through
 * load → check → append. The hypervisor has acted by now, so a check that
 * fails then is reported, not retried.
 */
async function record(
  ctx: ExecContext, cmd: AnyCommand, loaded: { state: DomainState | undefined; version: number }, drafts: (s: DomainState) => readonly EventDraft[],
  opts: { readonly cache?: boolean } = {},
): Promise<readonly RecordedEvent[]> {
  const ids = { correlationId: cmd.correlationId, causationId: cmd.id };
  const first = drafts(loaded.state!);
  const events = ctx.store.makeEvents(first, loaded.version, ids);
  try {
    const r = await ctx.store.append(domainRef(cmd.uuid), events, loaded.version);
    // `cache: false`: the decision's state is partial (a start from the scheduler's `known`), not for the next command.
    if (opts.cache === false) ctx.cache.delete(cmd.uuid);
    else remember(ctx, cmd.uuid, loaded.state!, loaded.version, events);
    return events.map((e, i) => ({ id: e.id, type: e.type, seq: r.seqs[i] ?? 0 }));
  } catch (e) {
    if (!(e instanceof ConcurrencyError)) throw e;
    ctx.cache.delete(cmd.uuid);
  }
  let decided: { state: DomainState; version: number } | undefined;
  const r = await ctx.store.update(domainRef(cmd.uuid), ({ state, version }) => {
    if (!state?.defined) throw noDomain(cmd.uuid);
    const d = drafts(state);
    checkDrafts(ctx.store, state, d, cmd);
    decided = { state, version };
    return d;
  }, ids);
  if (decided) remember(ctx, cmd.uuid, decided.state, decided.version, r.events);
  return r.events.map((e, i) => ({ id: e.id, type: e.type, seq: r.seqs[i] ?? 0 }));
}

/** A start's own events in the log lack its DomainStarted (or, paused, its DomainSuspended). */
function startCutShort(cmd: Command<'start'>, prior: readonly RecordedEvent[]): boolean {
  const types = new Set(prior.map((e) => e.type));
  return !types.has('DomainStarted') || (cmd.args.paused === true && !types.has('DomainSuspended'));
}

/**
 * Recovery of a start whose events were cut short: the events it still owes,
 * decided on the log as it is now and on what the hypervisor runs.
 * - DomainPlaced alone: the domain is placed here and shut off in the log; the
 *   start carries on (startedMeanwhile finds the qemu the first attempt ran,
 *   or starts one) and records DomainStarted.
 * - A paused start with DomainStarted but not its DomainSuspended: recorded if
 *   the guest is indeed paused (the log says running until then).
 */
async function finishStartRecord(ctx: ExecContext, cmd: Command<'start'>, prior: readonly RecordedEvent[]): Promise<readonly RecordedEvent[]> {
  if (!prior.some((e) => e.type === 'DomainStarted')) {
    const now = (await load(ctx, cmd.uuid)).state;
    // Recorded meanwhile by another writer (a lifecycle change): nothing left to complete.
    if (now?.defined && now.state !== 'shutoff' && now.hostId === ctx.hostId) return prior;
    ctx.log('warn', 'an interrupted start recorded only part of its events: completing it', { uuid: cmd.uuid, id: cmd.id, recorded: prior.map((e) => e.type) });
    return [...prior, ...(await start(ctx, cmd, true, undefined))];
  }
  const loaded = await load(ctx, cmd.uuid);
  const s = loaded.state;
  if (!s?.defined || s.state !== 'running' || s.hostId !== ctx.hostId) return prior;
  const actual = await find(ctx, cmd.uuid);
  if (actual?.state !== 'paused' || actual.stateUnknown) return prior;
  ctx.log('warn', 'an interrupted paused start did not record its suspension: completing it', { uuid: cmd.uuid, id: cmd.id });
  return [...prior, ...(await record(ctx, cmd, loaded, () => [{ type: 'DomainSuspended', data: { uuid: cmd.uuid, hostId: ctx.hostId, detail: 'PAUSED' } }]))];
}

async function ownEvents(ctx: ExecContext, cmd: AnyCommand): Promise<readonly RecordedEvent[]> {
  const all = await ctx.store.events(domainRef(cmd.uuid));
  return all.filter((e) => e.event.causationId === cmd.id).map((e) => ({ id: e.event.id, type: e.event.type, seq: e.seq }));
}

// ---------------------------------------------------------- the commands

async function define(ctx: ExecContext, cmd: Command<'define'>): Promise<readonly RecordedEvent[]> {
  await guardStorage(cmd.args.xml, ctx.storagePaths, ctx.caps);
  const r = postParse(cmd.args.xml, { caps: ctx.caps, registry: ctx.registry });
  if (r.def.uuid !== cmd.uuid) throw new VirtError('INVALID_ARG', `the definition's uuid '${r.def.uuid ?? ''}' is not the command's '${cmd.uuid}'`, '/args/xml');
  const out = await defineDomain(ctx.store, {
    uuid: cmd.uuid, name: r.def.name!, domainType: r.def.type!, driver: r.driver, xml: formatDomainXML(r.def), provenance: r.provenance,
  }, { correlationId: cmd.correlationId, causationId: cmd.id });
  return [{ id: out.event.id, type: out.event.type, seq: out.seqs[0] ?? 0 }];
}

async function undefine(ctx: ExecContext, cmd: Command<'undefine'>): Promise<readonly RecordedEvent[]> {
  let name = '';
  const r = await ctx.store.update(domainRef(cmd.uuid), ({ state }) => {
    if (!state?.defined) throw noDomain(cmd.uuid);
    name = state.name;
    const d: EventDraft[] = [{ type: 'DomainUndefined', data: { uuid: cmd.uuid, name } }];
    checkDrafts(ctx.store, state, d, cmd);
    return d;
  }, { correlationId: cmd.correlationId, causationId: cmd.id });
  await ctx.store.releaseName(name, cmd.uuid);
  return r.events.map((e, i) => ({ id: e.id, type: e.type, seq: r.seqs[i] ?? 0 }));
}

/**
 * Recovery of an undefine that recorded DomainUndefined: the name it frees
 * after that may not have been freed (the agent died in between), and held by
 * an undefined domain it would refuse every define of another uuid for good.
 * Released unless the domain was defined again since (then the name is its).
 */
async function finishUndefine(ctx: ExecContext, cmd: Command<'undefine'>, prior: readonly RecordedEvent[]): Promise<readonly RecordedEvent[]> {
  const s = (await load(ctx, cmd.uuid)).state;
  if (s && !s.defined) await ctx.store.releaseName(s.name, cmd.uuid);
  return prior;
}

/** What a domain claims on a host: its memory (KiB) and vCPUs, from its definition. */
export function resourcesOf(def: DomainDef): { memoryKiB: number; vcpus: number } {
  const mem = Number((def as { memory?: { text?: string } }).memory?.text ?? 0);
  const vcpus = Number((def as { vcpu?: { text?: string } }).vcpu?.text ?? 1);
  return { memoryKiB: Number.isSafeInteger(mem) && mem >= 0 ? mem : 0, vcpus: Number.isSafeInteger(vcpus) && vcpus > 0 ? vcpus : 1 };
}

/**
 * start: a domain placed on this host (or on none: a start sent straight to
 * a host places the domain there, as libvirt's own start would) boots; with
 * `paused` its CPUs stay stopped (STARTED BOOTED, then SUSPENDED PAUSED, as
 * libvirt reports `virsh start --paused`).
 */
async function start(ctx: ExecContext, cmd: Command<'start'>, recovering: boolean, preloaded: Preloaded | undefined): Promise<readonly RecordedEvent[]> {
  const known = recovering ? undefined : knownHere(ctx.hostId, cmd);
  const loaded = known ? fromKnown(ctx, cmd.uuid, known) : preloaded ? await preloaded : await load(ctx, cmd.uuid);
  const s = loaded.state;
  if (!s?.defined) throw noDomain(cmd.uuid);
  if (s.state !== 'shutoff') throw new VirtError('OPERATION_INVALID', 'domain is already running');
  // The stored definition may come from the parser, which does not know this host's storage.
  await guardStorage(s.xml, ctx.storagePaths, ctx.caps);
  const def = domainDef(s);
  const paused = cmd.args.paused === true;
  const drafts = (now: DomainState): EventDraft[] => [
    ...(now.state === 'shutoff' && now.hostId === undefined
      ? [{ type: 'DomainPlaced', data: { uuid: cmd.uuid, hostId: ctx.hostId, ...resourcesOf(def), reason: `start command ${cmd.id} sent to host '${ctx.hostId}'` } } as const]
      : []),
    { type: 'DomainStarted', data: { uuid: cmd.uuid, hostId: ctx.hostId, detail: 'BOOTED' } },
    ...(paused ? [{ type: 'DomainSuspended', data: { uuid: cmd.uuid, hostId: ctx.hostId, detail: 'PAUSED' } } as const] : []),
  ];
  checkDrafts(ctx.store, s, drafts(s), cmd);
  if (!(recovering && (await startedMeanwhile(ctx, cmd.uuid, paused)))) {
    await act(ctx, cmd.uuid, paused ? ['started', 'suspended:PAUSED'] : ['started'], () => ctx.hypervisor.start(def, { paused }));
  }
  // The state built from `known` lacks the definition history: the next command of the domain loads it.
  return record(ctx, cmd, loaded, drafts, { cache: !known });
}

/**
 * How old (by this host's clock) the scheduler's observation in a start's
 * `known` may be for the start to decide on it. A start decided on `known`
 * boots the domain before anything is read, so a command that waited in the
 * queue while the scheduler gave up on it (its command timeout, 60 s by
 * default) and placed the domain elsewhere would boot a second copy before its
 * append is refused; the load it replaces would have refused the start up
 * front. Past this age the start loads, as without `known`.
 */
export const KNOWN_MAX_AGE_MS = 10_000;

/**
 * The scheduler's `known` of a start placed on this host, if the start may
 * use it: the domain as the scheduler wrote it with its DomainPlaced, and its
 * store's observation of that write, made less than KNOWN_MAX_AGE_MS ago.
 * (agent.ts then skips its preload.)
 */
export function knownHere(hostId: string, cmd: AnyCommand, now = Date.now()): StartKnown | undefined {
  if (cmd.type !== 'start') return undefined;
  const k = cmd.args.known;
  if (!k || k.hostId !== hostId || k.observation.version !== k.version) return undefined;
  return now - k.observation.at < KNOWN_MAX_AGE_MS ? k : undefined;
}

/**
 * The decision's state from `known` instead of a load: the store is seeded
 * with the scheduler's observation (EventStore.observe), so the append at
 * `known.version` needs no read either, and is checked by the server all the
 * same: anyone who wrote the domain since makes it a ConcurrencyError, and
 * record() reloads and decides again. The state is the domain's row without
 * its history (a start does not read it).
 */
function fromKnown(ctx: ExecContext, uuid: string, k: StartKnown): { state: DomainState; version: number } {
  ctx.store.observe(domainRef(uuid), k.observation);
  const state: DomainState = {
    uuid, name: k.name, defined: k.defined,
    ...(k.domainType !== undefined ? { domainType: k.domainType } : {}),
    ...(k.driver !== undefined ? { driver: k.driver } : {}),
    xml: k.xml, definitionVersion: k.definitionVersion, version: k.version, updatedAt: k.updatedAt ?? '',
    state: k.state, reason: k.reason ?? 'UNKNOWN', migrating: false, hostId: k.hostId,
    ...(k.resources !== undefined ? { resources: k.resources } : {}),
    history: [],
  };
  return { state, version: k.version };
}

/**
 * After a restart: did the interrupted start get its domain going? One still
 * booting is given `startRecoveryMs` to finish; one that does not is
 * destroyed so the start can run again — never two copies. One whose CPUs
 * were never started (prelaunch: the start was cut before QEMU's `cont`) has
 * nothing left to wait for — its agent died — and the start run again
 * finishes it (the hypervisor continues the domain it finds, the same one).
 */
async function startedMeanwhile(ctx: ExecContext, uuid: string, paused: boolean): Promise<boolean> {
  const deadline = Date.now() + ctx.startRecoveryMs;
  for (;;) {
    const d = await find(ctx, uuid);
    if (!d) return false;
    if (d.prelaunch) {
      ctx.log('info', 'an interrupted start left its domain before its CPUs were started: finishing that start', { uuid });
      return false;
    }
    // A state the hypervisor could not read is not a start that completed: a qemu still in prelaunch must not be recorded as running.
    if (!d.stateUnknown && (d.state === 'running' || (paused && d.state === 'paused' && Date.now() >= deadline))) return true;
    if (Date.now() >= deadline) {
      ctx.log('warn', 'an interrupted start did not complete: destroying the half-started domain to start it again', { uuid, state: d.state });
      await act(ctx, uuid, ['stopped'], () => ctx.hypervisor.destroy(uuid));
      return false;
    }
    await sleep(100);
  }
}
