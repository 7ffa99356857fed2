/**
 * The poison-message check: every consumer decodes an event through here, and
 * makeEvent checks what it builds the same way, so nothing ill-formed is ever
 * written or folded. Event data is checked field by field (types and required
 * keys); capabilities and provenance only at their top level.
 */
import { ERROR_CODES, VirtError } from '../errors.ts';
import { DOMAIN_EVENT_TYPES, ENVELOPE_VERSION, EVENT_TYPES, type AnyEvent, type EventType } from './types.ts';
import { subjects } from './subjects.ts';
import { RESUMED_REASON, SHUTDOWN_REASON, STARTED_REASON, STOPPED_REASON, SUSPENDED_REASON } from './lifecycle.ts';

/** Returns what is wrong with a value, or undefined when it fits. */
type Check = (v: unknown, path: string) => string | undefined;
interface Field {
  readonly check: Check;
  readonly optional: boolean;
}
type Shape = Readonly<Record<string, Field>>;

const show = (v: unknown): string => {
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
};
const req = (check: Check): Field => ({ check, optional: false });
const opt = (check: Check): Field => ({ check, optional: true });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const str: Check = (v) => (typeof v === 'string' ? undefined : `must be a string, not ${show(v)}`);
const nonEmpty: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : `must be a non-empty string, not ${show(v)}`);
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : `must be true or false, not ${show(v)}`);
const count: Check = (v) => (Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : `must be a non-negative integer, not ${show(v)}`);
const positive: Check = (v) => (Number.isSafeInteger(v) && (v as number) > 0 ? undefined : `must be a positive integer, not ${show(v)}`);

/**
 * Lowercase canonical form only: the uuid is a subject token, and 'ABC...' and
 * 'abc...' would otherwise be two aggregates of one domain.
 */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const uuid: Check = (v) => (typeof v === 'string' && UUID_RE.test(v) ? undefined : `must be a UUID in lowercase 8-4-4-4-12 form, not ${show(v)}`);

/** The same rule as subjects.ts's checkToken, without paying for an exception on the hot path. */
const TOKEN_BAD = /[.*>\s]/;
const token: Check = (v) => {
  if (typeof v !== 'string' || v === '') return `must be a non-empty string, not ${show(v)}`;
  return TOKEN_BAD.test(v) ? `cannot hold '.', '*', '>' or whitespace (it is a subject token), not ${show(v)}` : undefined;
};

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const time: Check = (v) => (typeof v === 'string' && ISO_UTC.test(v) && Number.isFinite(Date.parse(v)) ? undefined : `must be an ISO 8601 UTC time (2024-01-31T12:00:00.000Z), not ${show(v)}`);

const oneOf = (values: readonly string[]): Check => {
  const set = new Set(values);
  const list = values.map((x) => `'${x}'`).join(', ');
  return (v) => (typeof v === 'string' && set.has(v) ? undefined : `must be one of ${list}, not ${show(v)}`);
};

const stringRecord: Check = (v, path) => {
  if (!isObject(v)) return `must be an object of strings, not ${show(v)}`;
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') return `${path}/${k} must be a string, not ${show(x)}`;
  return undefined;
};

const shape = (fields: Shape): Check => {
  const compiled = compile(fields);
  return (v, path) => checkShape(v, compiled, path);
};

type Compiled = ReadonlyArray<readonly [key: string, field: Field]>;
const compiledShapes = new WeakMap<Shape, Compiled>();
function compile(fields: Shape): Compiled {
  let c = compiledShapes.get(fields);
  if (!c) compiledShapes.set(fields, (c = Object.entries(fields)));
  return c;
}

function checkShape(v: unknown, fields: Compiled, path: string): string | undefined {
  if (!isObject(v)) return `must be an object, not ${show(v)}`;
  for (let i = 0; i < fields.length; i++) {
    const [key, f] = fields[i]!;
    const x = Object.hasOwn(v, key) ? v[key] : undefined;
    if (x === undefined) {
      if (f.optional) continue;
      return `${path}/${key} is missing`;
    }
    const bad = f.check(x, `${path}/${key}`);
    if (bad !== undefined) {
      const at = `${path}/${key}`;
      return bad.startsWith(`${at}/`) || bad.startsWith(`${at} `) ? bad : `${at} ${bad}`;
    }
  }
  return undefined;
}

const arrayOfObjects: Check = (v, path) => {
  if (!Array.isArray(v)) return `must be an array, not ${show(v)}`;
  const i = v.findIndex((x) => !isObject(x));
  return i < 0 ? undefined : `${path}/${i} must be an object, not ${show(v[i])}`;
};

/** Shallow: the parts the reducers read (host totals) are checked, the rest only for shape. */
const capabilities: Check = shape({
  host: req(shape({ arch: req(nonEmpty), cpus: opt(count), memoryKiB: opt(count) })),
  guests: req(arrayOfObjects),
  cpuModels: req(arrayOfObjects),
  source: req(str),
});

const cell: Check = shape({ guestCell: req(count), hostCell: req(count), memoryKiB: req(count), vcpus: req(count) });
const cells: Check = (v, path) => {
  if (!Array.isArray(v)) return `must be an array, not ${show(v)}`;
  for (let i = 0; i < v.length; i++) {
    const bad = cell(v[i], `${path}/${i}`);
    if (bad !== undefined) return bad.startsWith(`${path}/${i}`) ? bad : `${path}/${i} ${bad}`;
  }
  return undefined;
};

const virtError: Check = shape({ code: req(oneOf(ERROR_CODES)), message: req(str), path: opt(str), detail: opt(str) });

const defined: Shape = {
  uuid: req(uuid), name: req(nonEmpty), domainType: req(nonEmpty), driver: req(nonEmpty), xml: req(nonEmpty), provenance: opt(arrayOfObjects),
};
const device: Shape = { uuid: req(uuid), path: req(nonEmpty), xml: req(nonEmpty), definition: req(nonEmpty) };
const onHost = (details: readonly string[]): Shape => ({ uuid: req(uuid), hostId: req(token), detail: req(oneOf(details)) });

export const EVENT_SHAPES: { readonly [T in EventType]: Shape } = {
  DomainDefined: defined,
  DomainRedefined: defined,
  DomainUndefined: { uuid: req(uuid), name: req(nonEmpty) },
  DomainDeviceAttached: device,
  DomainDeviceDetached: device,
  DomainDeviceUpdated: device,
  DomainPlaced: { uuid: req(uuid), hostId: req(token), memoryKiB: req(count), vcpus: req(positive), reason: opt(str) },
  DomainStarted: onHost(Object.keys(STARTED_REASON)),
  DomainSuspended: onHost(Object.keys(SUSPENDED_REASON)),
  DomainResumed: onHost(Object.keys(RESUMED_REASON)),
  DomainShutdown: onHost(Object.keys(SHUTDOWN_REASON)),
  DomainStopped: { ...onHost(Object.keys(STOPPED_REASON)), error: opt(virtError) },
  DomainMigrating: { uuid: req(uuid), fromHost: req(token), toHost: req(token) },
  HostRegistered: { hostId: req(token), address: opt(str), labels: opt(stringRecord), capabilities: req(capabilities) },
  HostCapabilitiesReported: { hostId: req(token), capabilities: req(capabilities) },
  HostDown: { hostId: req(token), reason: req(str), lastSeen: opt(time) },
  HostUp: { hostId: req(token) },
  HostDrained: { hostId: req(token), drained: req(bool) },
  DomainCommandFailed: { hostId: req(token), uuid: opt(uuid), command: req(nonEmpty), error: req(virtError) },
  HostResourcesClaimed: {
    hostId: req(token), uuid: req(uuid), memoryKiB: req(count), vcpus: req(positive), numa: opt(cells), group: opt(nonEmpty), migrateFrom: opt(token), reason: opt(str),
  },
  HostResourcesReleased: { hostId: req(token), uuid: req(uuid), reason: req(str) },
};

const KNOWN: ReadonlySet<string> = new Set(EVENT_TYPES);
const DOMAIN: ReadonlySet<string> = new Set(DOMAIN_EVENT_TYPES);

export function isEventType(type: unknown): type is EventType {
  return typeof type === 'string' && KNOWN.has(type);
}

/** The subject an event of this type and data is published on. */
export function subjectFor(type: EventType, data: unknown): string {
  const d = data as { uuid: string; hostId: string };
  return DOMAIN.has(type) ? subjects.domainEvent(d.uuid, type) : subjects.hostEvent(d.hostId, type);
}

/** What is wrong with an event's data, as a VirtError, or undefined when it fits its type. */
export function dataError(type: EventType, data: unknown, what = `event ${type}`): VirtError | undefined {
  if (data === undefined) return new VirtError('INVALID_ARG', `${what}: /data is missing`, '/data');
  const bad = checkShape(data, compile(EVENT_SHAPES[type]), '/data');
  if (bad === undefined) return undefined;
  const path = bad.startsWith('/') ? bad.slice(0, bad.indexOf(' ')) : '/data';
  return new VirtError('INVALID_ARG', `${what}: ${bad.startsWith('/') ? bad : `/data ${bad}`}`, path);
}

const ENVELOPE: Shape = {
  id: req(nonEmpty), type: req(str), subject: req(nonEmpty), version: req(positive), at: req(time),
  correlationId: req(str), causationId: req(str), v: req(count),
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(detail: string, path: string, cause?: unknown): VirtError {
  return new VirtError('INVALID_ARG', detail, path, cause === undefined ? undefined : { cause });
}

/**
 * Decodes an event off the wire and checks it: JSON, envelope, a known type,
 * its data, and that its subject is the one its type and aggregate give (and
 * the one it arrived on, when `subject` is given). Returns the frozen event,
 * or the VirtError naming what is wrong: it never throws, so a consumer can
 * report a poison message and move past it.
 */
export function decodeEvent(input: string | Uint8Array, subject?: string): AnyEvent | VirtError {
  let text: string;
  try {
    text = typeof input === 'string' ? input : utf8.decode(input);
  } catch (e) {
    return fail('event is not valid UTF-8', '/', e);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`event is not JSON: ${(e as Error).message}`, '/', e);
  }
  return checkEvent(raw, subject);
}

/** The checks of decodeEvent, on a value already parsed. */
export function checkEvent(raw: unknown, subject?: string): AnyEvent | VirtError {
  if (!isObject(raw)) return fail(`event must be a JSON object, not ${show(raw)}`, '/');
  const where = typeof raw.id === 'string' && raw.id !== '' ? `event ${raw.id}` : 'event';
  if (!isEventType(raw.type)) return fail(`${where}: unknown event type ${show(raw.type)}`, '/type');
  const what = `${where} (${raw.type})`;
  const bad = checkShape(raw, compile(ENVELOPE), '');
  if (bad !== undefined) return fail(`${what}: ${bad}`, bad.slice(0, bad.indexOf(' ')));
  if (raw.v !== ENVELOPE_VERSION) return fail(`${what}: envelope version ${show(raw.v)} is not supported (this build reads ${ENVELOPE_VERSION})`, '/v');
  const dataBad = dataError(raw.type, raw.data, what);
  if (dataBad) return dataBad;
  const expected = subjectFor(raw.type, raw.data);
  if (raw.subject !== expected) return fail(`${what}: subject '${String(raw.subject)}' does not match its type and aggregate (expected '${expected}')`, '/subject');
  if (subject !== undefined && subject !== expected) return fail(`${what}: arrived on subject '${subject}' but belongs on '${expected}'`, '/subject');
  return deepFreeze(raw) as unknown as AnyEvent;
}

/** decodeEvent for callers that would rather catch: throws the VirtError. */
export function decodeEventOrThrow(input: string | Uint8Array, subject?: string): AnyEvent {
  const e = decodeEvent(input, subject);
  if (e instanceof VirtError) throw e;
  return e;
}

/** The wire form of an event: what decodeEvent reads back. */
export function encodeEvent(event: AnyEvent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(event));
}

/**
 * Freezes a freshly parsed JSON value throughout. Plain recursion over own
 * values: JSON has no cycles, getters or symbols, and this is three times
 * faster than immer's general-purpose freeze on the replay path.
 */
export function deepFreeze<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) deepFreeze(v[i]);
  else for (const k in v) deepFreeze((v as Record<string, unknown>)[k]);
  return Object.freeze(v);
}
