/**
 * Building and checking commands. `validateCommand` is what an agent runs on
 * every message off its subject before any work: a bad one is refused with a
 * VirtError naming the field (INVALID_ARG, JSON-pointer path), never thrown
 * deeper. `makeCommand` builds one the same checks accept; the clock and the
 * id source are handed in (the model stays pure).
 */
import { VirtError } from '../errors.ts';
import { checkToken } from '../events/subjects.ts';
import { LIFECYCLE_STATES } from '../events/lifecycle.ts';
import { DEFAULT_MAX_BYTES } from '../xml/read.ts';
import { COMMAND_TYPES, COMMAND_VERSION, type AnyCommand, type Command, type CommandArgs, type CommandType } from './types.ts';

/** Lowercase canonical UUIDs only, as events require: the uuid is a subject token. */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
/** A command carries at most a domain's XML: the model's 1 MiB document limit plus room. */
export const MAX_COMMAND_BYTES = 1024 * 1024 + 16 * 1024;

const KNOWN: ReadonlySet<string> = new Set(COMMAND_TYPES);

export function isCommandType(t: unknown): t is CommandType {
  return typeof t === 'string' && KNOWN.has(t);
}

const bad = (detail: string, path: string): VirtError => new VirtError('INVALID_ARG', detail, path);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

type ArgCheck = (args: Record<string, unknown>, type: CommandType) => VirtError | undefined;

function str(field: string, opts: { optional?: boolean; token?: boolean } = {}): ArgCheck {
  return (args, type) => {
    const v = args[field];
    if (v === undefined) return opts.optional ? undefined : bad(`command '${type}' needs args.${field}`, `/args/${field}`);
    if (typeof v !== 'string' || v.trim() === '') return bad(`command '${type}': args.${field} must be a non-empty string`, `/args/${field}`);
    if (opts.token && /[.*>\s]/.test(v)) return bad(`command '${type}': args.${field} '${v}' cannot hold '.', '*', '>' or whitespace`, `/args/${field}`);
    return undefined;
  };
}

function port(field: string): ArgCheck {
  return (args, type) => {
    const v = args[field];
    return Number.isInteger(v) && (v as number) > 0 && (v as number) < 65536 ? undefined : bad(`command '${type}': args.${field} must be a TCP port (1-65535), not ${JSON.stringify(v)}`, `/args/${field}`);
  };
}

const flag = (field: string): ArgCheck => (args, type) => {
  const v = args[field];
  return v === undefined || typeof v === 'boolean' ? undefined : bad(`command '${type}': args.${field} must be true or false`, `/args/${field}`);
};

/** A start's `known` holds at most a domain's XML (the model's document limit) and short fields. */
export const MAX_KNOWN_XML_BYTES = DEFAULT_MAX_BYTES;
const MAX_KNOWN_FIELD = 256;
const KNOWN_FIELDS: ReadonlySet<string> = new Set(['name', 'defined', 'xml', 'domainType', 'driver', 'definitionVersion', 'version', 'updatedAt', 'state', 'reason', 'hostId', 'resources', 'observation']);
const STATES: ReadonlySet<string> = new Set(LIFECYCLE_STATES);
const nat = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

const MAX_OBSERVED_TYPES = 64;
const OBSERVATION_FIELDS: ReadonlySet<string> = new Set(['version', 'seq', 'typeSeqs', 'at', 'headId', 'complete']);

/**
 * What is wrong with an observation of an aggregate's head (KnownObservation), if anything: the
 * field under it (`typeSeqs/<type>` for an entry) and what it must be — or no `must` for a field
 * it does not have. One rule for the start command's `known` and for EventStore.observe.
 */
export function observationProblem(o: Record<string, unknown>): { readonly field: string; readonly must?: string } | undefined {
  for (const f of Object.keys(o)) if (!OBSERVATION_FIELDS.has(f)) return { field: f };
  for (const f of ['version', 'seq', 'at'] as const) if (!nat(o[f])) return { field: f, must: 'a non-negative integer' };
  if (typeof o.complete !== 'boolean') return { field: 'complete', must: 'true or false' };
  if (o.headId !== undefined && (typeof o.headId !== 'string' || o.headId === '' || o.headId.length > MAX_KNOWN_FIELD)) {
    return { field: 'headId', must: `a non-empty string of at most ${MAX_KNOWN_FIELD} characters` };
  }
  const ts = o.typeSeqs;
  if (!isObject(ts)) return { field: 'typeSeqs', must: 'an object of event type → stream sequence' };
  const entries = Object.entries(ts);
  if (entries.length > MAX_OBSERVED_TYPES) return { field: 'typeSeqs', must: `at most ${MAX_OBSERVED_TYPES} entries` };
  for (const [t, v] of entries) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(t)) return { field: `typeSeqs/${t}`, must: 'keyed by an event type token' };
    if (!nat(v) || v > (o.seq as number)) return { field: `typeSeqs/${t}`, must: `a non-negative integer no greater than the observation's seq (${o.seq as number})` };
  }
  return undefined;
}

/** start's `known` (types.ts StartKnown): every field typed and bounded, paths under /args/known. */
const known: ArgCheck = (args, type) => {
  const k = args.known;
  if (k === undefined) return undefined;
  const at = (f: string) => `/args/known/${f}`;
  const no = (f: string, what: string) => bad(`command '${type}': args.known.${f.replaceAll('/', '.')} must be ${what}`, at(f));
  if (!isObject(k)) return bad(`command '${type}': args.known must be an object`, '/args/known');
  for (const f of Object.keys(k)) if (!KNOWN_FIELDS.has(f)) return bad(`command '${type}': args.known has no field '${f}'`, at(f));
  const text = (f: string, optional: boolean, max = MAX_KNOWN_FIELD): VirtError | undefined => {
    const v = k[f];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || v.length > max || (!optional && v === '')) return no(f, `a${optional ? '' : ' non-empty'} string of at most ${max} characters`);
    return undefined;
  };
  const e = text('name', false) ?? text('xml', false, MAX_KNOWN_XML_BYTES) ?? text('domainType', true) ?? text('driver', true) ?? text('updatedAt', true) ?? text('hostId', false);
  if (e) return e;
  if (/[.*>\s]/.test(k.hostId as string)) return no('hostId', "a host id (no '.', '*', '>' or whitespace)");
  if (typeof k.defined !== 'boolean') return no('defined', 'true or false');
  for (const f of ['version', 'definitionVersion'] as const) if (!nat(k[f])) return no(f, 'a non-negative integer');
  if ((k.definitionVersion as number) > (k.version as number)) return no('definitionVersion', `at most the version (${k.version as number})`);
  if (typeof k.state !== 'string' || !STATES.has(k.state)) return no('state', `one of ${LIFECYCLE_STATES.join(', ')}`);
  if (k.reason !== undefined && (typeof k.reason !== 'string' || !/^[A-Z_]{1,32}$/.test(k.reason))) return no('reason', 'a state reason (UNKNOWN, BOOTED, ...)');
  if (k.resources !== undefined) {
    const r = k.resources;
    if (!isObject(r) || Object.keys(r).some((f) => f !== 'memoryKiB' && f !== 'vcpus')) return no('resources', 'an object of memoryKiB and vcpus');
    for (const f of ['memoryKiB', 'vcpus'] as const) if (!nat(r[f])) return no(`resources/${f}`, 'a non-negative integer');
  }
  const o = k.observation;
  if (!isObject(o)) return no('observation', 'an object');
  const p = observationProblem(o);
  if (p) {
    return p.must === undefined
      ? bad(`command '${type}': args.known.observation has no field '${p.field}'`, at(`observation/${p.field}`))
      : no(`observation/${p.field}`, p.must);
  }
  if (o.version !== k.version) return no('observation/version', `the known version (${k.version as number})`);
  return undefined;
};

const ARGS: { readonly [T in CommandType]: readonly ArgCheck[] } = {
  define: [str('xml')],
  start: [flag('paused'), known],
  shutdown: [],
  destroy: [],
  reboot: [],
  reset: [],
  suspend: [],
  resume: [],
  'attach-device': [str('xml')],
  'detach-device': [str('alias')],
  'migrate-out': [str('toHost', { token: true }), str('host'), port('port')],
  'migrate-in': [str('fromHost', { token: true }), str('host'), port('port')],
  undefine: [],
};

/**
 * Checks a decoded command: envelope, a known type, its arguments, and (when
 * `hostId` is given) that it is addressed to this host. Returns the frozen
 * command or the VirtError; never throws.
 */
export function validateCommand(raw: unknown, hostId?: string): AnyCommand | VirtError {
  if (!isObject(raw)) return bad('a command must be a JSON object', '/');
  for (const f of ['id', 'hostId', 'uuid', 'correlationId', 'at'] as const) {
    if (typeof raw[f] !== 'string' || raw[f] === '') return bad(`command field '${f}' must be a non-empty string`, `/${f}`);
  }
  const r = raw as Record<string, unknown> & { id: string; hostId: string; uuid: string; at: string };
  if (!ID_RE.test(r.id)) return bad(`command id '${r.id}' must be 1 to 128 characters of A-Z a-z 0-9 _ -`, '/id');
  if (!isCommandType(r.type)) return bad(`unknown command type ${JSON.stringify(r.type)} (known: ${COMMAND_TYPES.join(', ')})`, '/type');
  if (r.v !== COMMAND_VERSION) return bad(`command envelope version ${JSON.stringify(r.v)} is not supported (this build reads ${COMMAND_VERSION})`, '/v');
  try {
    checkToken(r.hostId, 'hostId');
  } catch (e) {
    return bad((e as VirtError).detail ?? String(e), '/hostId');
  }
  if (hostId !== undefined && r.hostId !== hostId) return bad(`command ${r.id} is for host '${r.hostId}', not '${hostId}'`, '/hostId');
  if (!UUID_RE.test(r.uuid)) return bad(`'${r.uuid}' is not a UUID in lowercase 8-4-4-4-12 form`, '/uuid');
  if (!ISO_UTC.test(r.at) || !Number.isFinite(Date.parse(r.at))) return bad(`command time '${r.at}' is not ISO 8601 UTC`, '/at');
  const args = r.args === undefined ? {} : r.args;
  if (!isObject(args)) return bad(`command '${r.type}': args must be an object`, '/args');
  for (const check of ARGS[r.type]) {
    const e = check(args, r.type);
    if (e) return e;
  }
  return deepFreeze({ ...r, args }) as unknown as AnyCommand;
}

/** Decodes a command off the wire (UTF-8 JSON) and validates it; never throws. */
export function decodeCommand(input: string | Uint8Array, hostId?: string): AnyCommand | VirtError {
  if (input.length > MAX_COMMAND_BYTES) return bad(`command is ${input.length} bytes, over the limit of ${MAX_COMMAND_BYTES}`, '/');
  let text: string;
  try {
    text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    return bad('command is not valid UTF-8', '/');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return bad(`command is not JSON: ${(e as Error).message}`, '/');
  }
  return validateCommand(raw, hostId);
}

export function encodeCommand(cmd: Command): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cmd));
}

export interface CommandMeta {
  readonly correlationId: string;
  readonly now: () => Date;
  readonly newId: () => string;
}

/** Builds a frozen command; throws the VirtError validateCommand would return. */
export function makeCommand<T extends CommandType>(type: T, target: { readonly hostId: string; readonly uuid: string }, args: CommandArgs[T], meta: CommandMeta): Command<T> {
  const raw = { id: meta.newId(), type, hostId: target.hostId, uuid: target.uuid, correlationId: meta.correlationId, at: meta.now().toISOString(), args, v: COMMAND_VERSION };
  const c = validateCommand(raw);
  if (c instanceof VirtError) throw c;
  return c as unknown as Command<T>;
}

function deepFreeze<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  return Object.freeze(v);
}
