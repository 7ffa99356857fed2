/**
 * The one error type of the model layer, shaped like libvirt's virError:
 * a code named as libvirt names it, the path of the node at fault, and a
 * message that reads like libvirt's for the same input.
 */
export const ERROR_CODES = [
  'INTERNAL_ERROR',
  'XML_ERROR',
  'XML_DETAIL',
  'CONFIG_UNSUPPORTED',
  'INVALID_ARG',
  'OVERFLOW',
  'NO_SOURCE',
  'NO_TARGET',
  'NO_NAME',
  'OPERATION_INVALID',
  'OPERATION_UNSUPPORTED',
  'OPERATION_DENIED',
  'OPERATION_TIMEOUT',
  'OPERATION_FAILED',
  'DEVICE_MISSING',
  'NO_SUPPORT',
  'NO_DOMAIN',
  'XML_INVALID_SCHEMA',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** libvirt's `msginfo` templates: how a detail becomes the message a client sees. */
const PREFIX: Partial<Record<ErrorCode, string>> = {
  INTERNAL_ERROR: 'internal error: ',
  XML_ERROR: 'XML error: ',
  CONFIG_UNSUPPORTED: 'unsupported configuration: ',
  INVALID_ARG: 'invalid argument: ',
  OVERFLOW: 'numerical overflow: ',
  NO_SOURCE: 'missing source information for device ',
  NO_TARGET: 'missing target information for device ',
  NO_NAME: 'missing name information in ',
  OPERATION_INVALID: 'Requested operation is not valid: ',
  OPERATION_UNSUPPORTED: 'Operation not supported: ',
  OPERATION_DENIED: 'operation forbidden: ',
  OPERATION_TIMEOUT: 'Timed out during operation: ',
  OPERATION_FAILED: 'operation failed: ',
  DEVICE_MISSING: 'device not found: ',
  NO_SUPPORT: 'this function is not supported by the connection driver: ',
  NO_DOMAIN: 'Domain not found: ',
  XML_INVALID_SCHEMA: 'XML document failed to validate against schema: ',
};

/** libvirt's bare `msg` for a code reported without detail. */
const BARE: Partial<Record<ErrorCode, string>> = {
  INTERNAL_ERROR: 'internal error',
  XML_ERROR: 'XML description is invalid or not well formed',
  XML_DETAIL: 'parser error',
  CONFIG_UNSUPPORTED: 'unsupported configuration',
  INVALID_ARG: 'invalid argument',
  OVERFLOW: 'numerical overflow',
  NO_SOURCE: 'missing source information for device',
  NO_TARGET: 'missing target information for device',
  NO_NAME: 'missing name information',
};

export interface VirtErrorJSON {
  readonly code: ErrorCode;
  readonly path?: string;
  readonly message: string;
  /** The detail alone, without the code's prefix. */
  readonly detail?: string;
}

export class VirtError extends Error {
  override readonly name = 'VirtError';
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail: string | undefined, path?: string, options?: { cause?: unknown }) {
    super(formatMessage(code, detail), options);
    this.code = code;
    this.detail = detail;
    this.path = path;
  }

  /** The error as it crosses the wire. */
  toJSON(): VirtErrorJSON {
    return { code: this.code, ...(this.path ? { path: this.path } : {}), message: this.message, ...(this.detail !== undefined ? { detail: this.detail } : {}) };
  }

  /** Rebuilds an error received as `{code, path, message}`. */
  static fromJSON(json: VirtErrorJSON): VirtError {
    const err = new VirtError(json.code, json.detail, json.path);
    if (json.detail === undefined) Object.defineProperty(err, 'message', { value: json.message });
    return err;
  }

  /** One line for a user: the message, then where it is. */
  describe(): string {
    return this.path ? `${this.message} (at ${this.path})` : this.message;
  }
}

export function formatMessage(code: ErrorCode, detail: string | undefined): string {
  if (detail === undefined || detail === '') return BARE[code] ?? code;
  return (PREFIX[code] ?? '') + detail;
}

export function isVirtError(e: unknown): e is VirtError {
  return e instanceof VirtError;
}
