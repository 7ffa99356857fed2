/**
 * Job submissions: the payload of every operation a user can queue on
 * `virtflow.jobs`, and their validation. Pure: the parser service checks a
 * payload with `validateJob` before any work, and a bad one fails at once
 * with the path of the field at fault.
 */
import { VirtError } from './errors.ts';
import { validateSchedulerHints } from './placement/request.ts';
import type { SchedulerHints } from './placement/types.ts';

/** Operations the parser carries out itself. */
export const PARSER_OPS = ['define', 'redefine', 'undefine', 'attach-device', 'detach-device', 'update-device'] as const;
/** Operations validated here and handed on to the scheduler's queue. */
export const SCHEDULER_OPS = ['start', 'shutdown', 'destroy', 'reboot', 'reset', 'suspend', 'resume', 'migrate', 'evacuate'] as const;
export type ParserOp = (typeof PARSER_OPS)[number];
export type SchedulerOp = (typeof SCHEDULER_OPS)[number];
export type JobOp = ParserOp | SchedulerOp;

/** A submission's size limit: the model's 1 MiB document limit plus room for the envelope. */
export const MAX_JOB_BYTES = 1024 * 1024 + 16 * 1024;

interface Base {
  /** Idempotency key: a second submission with it returns the first one's result. */
  readonly key?: string;
}
export interface DefineJob extends Base { readonly op: 'define' | 'redefine'; readonly xml: string }
export interface UndefineJob extends Base { readonly op: 'undefine'; readonly uuid: string }
export interface DeviceJob extends Base { readonly op: 'attach-device' | 'detach-device' | 'update-device'; readonly uuid: string; readonly xml: string }
export interface LifecycleJob extends Base {
  readonly op: 'start' | 'shutdown' | 'destroy' | 'reboot' | 'reset' | 'suspend' | 'resume';
  readonly uuid: string;
  /** start only: how to steer the placement (placement/request.ts), over the definition's `<vf:scheduling>`. */
  readonly schedulerHints?: SchedulerHints;
}
export interface MigrateJob extends Base { readonly op: 'migrate'; readonly uuid: string; readonly toHost?: string; readonly live?: boolean; readonly schedulerHints?: SchedulerHints }
export interface EvacuateJob extends Base { readonly op: 'evacuate'; readonly hostId: string }

export type JobPayload = DefineJob | UndefineJob | DeviceJob | LifecycleJob | MigrateJob | EvacuateJob;

/** What a completed define/redefine/attach job returns. */
export interface JobResult {
  readonly uuid: string;
  readonly version: number;
  readonly xml: string;
  readonly provenance: readonly unknown[];
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const KEY_RE = /^[A-Za-z0-9._@/-]{1,200}$/;
const ALL_OPS: ReadonlySet<string> = new Set([...PARSER_OPS, ...SCHEDULER_OPS]);

export function isParserOp(op: JobOp): op is ParserOp {
  return (PARSER_OPS as readonly string[]).includes(op);
}

const invalid = (detail: string, path: string) => new VirtError('INVALID_ARG', detail, path);

function str(o: Record<string, unknown>, field: string, required: boolean): VirtError | undefined {
  const v = o[field];
  if (v === undefined) return required ? invalid(`job field '${field}' is required`, `/${field}`) : undefined;
  if (typeof v !== 'string') return invalid(`job field '${field}' must be a string, not ${typeof v}`, `/${field}`);
  if (required && v.trim() === '') return invalid(`job field '${field}' must not be empty`, `/${field}`);
  return undefined;
}

/** The fields each operation needs, beyond `op`. */
function fieldsOf(op: JobOp): ReadonlyArray<readonly [string, boolean]> {
  switch (op) {
    case 'define':
    case 'redefine':
      return [['xml', true]];
    case 'attach-device':
    case 'detach-device':
    case 'update-device':
      return [['uuid', true], ['xml', true]];
    case 'migrate':
      return [['uuid', true], ['toHost', false]];
    case 'evacuate':
      return [['hostId', true]];
    default:
      return [['uuid', true]];
  }
}

/**
 * Checks a submission: a JSON object under the size limit with a known `op`
 * and that op's fields. Returns the typed job, or the VirtError (never throws).
 */
export function validateJob(payload: unknown, opts: { readonly maxBytes?: number } = {}): JobPayload | VirtError {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return invalid('a job must be a JSON object', '/');
  const max = opts.maxBytes ?? MAX_JOB_BYTES;
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(payload));
  } catch {
    return invalid('a job must be plain JSON', '/');
  }
  if (size > max) return invalid(`job is ${size} bytes, over the limit of ${max}`, '/');
  const o = payload as Record<string, unknown>;
  if (typeof o.op !== 'string') return invalid("job field 'op' is required", '/op');
  if (!ALL_OPS.has(o.op)) return invalid(`unknown operation '${o.op}' (known: ${[...ALL_OPS].join(', ')})`, '/op');
  const op = o.op as JobOp;
  for (const [field, required] of [...fieldsOf(op), ['key', false] as const]) {
    const e = str(o, field, required);
    if (e) return e;
  }
  if (typeof o.uuid === 'string' && !UUID_RE.test(o.uuid)) return invalid(`'${o.uuid}' is not a UUID`, '/uuid');
  if (typeof o.key === 'string' && !KEY_RE.test(o.key)) return invalid('an idempotency key is 1 to 200 characters of A-Z a-z 0-9 . _ @ / -', '/key');
  if (o.live !== undefined && typeof o.live !== 'boolean') return invalid("job field 'live' must be a boolean", '/live');
  if (o.schedulerHints !== undefined) {
    if (op !== 'start' && op !== 'migrate') return invalid(`scheduler hints steer a placement: only start and migrate jobs take them, not ${op}`, '/schedulerHints');
    const hints = validateSchedulerHints(o.schedulerHints);
    if (hints instanceof VirtError) return hints;
  }
  return o as unknown as JobPayload;
}
