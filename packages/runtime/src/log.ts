/**
 * The services' logger: pino, one JSON line per entry on stdout, with the
 * level as a word (`"level":"info"`), an ISO time, the service and host it
 * comes from, and — through `forJob` — the correlation id that ties a log
 * line to the job, its events and its commands (the same id the events carry).
 *
 *   const log = createLogger({ service: 'virtflow-parser', level: config.logLevel });
 *   log.info({ stages }, 'ready');
 *   forJob(log, job.id).warn({ err }, 'retrying');
 */
import { multistream, pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type { DestinationStream, Logger } from 'pino';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LoggerOptions {
  /** `virtflow-parser`, `virtflow-agent`, ... */
  readonly service: string;
  /** VIRTFLOW_LOG_LEVEL (info). */
  readonly level?: LogLevel | 'silent';
  /** Fields on every line (hostId, ...). */
  readonly base?: Readonly<Record<string, unknown>>;
  /** Where lines go (stdout). Tests hand a stream to read them back. */
  readonly destination?: DestinationStream;
  /** Without a destination: lines from this level up go to stderr instead of stdout (none: all on stdout). */
  readonly stderrFrom?: LogLevel;
}

/** stdout, or stdout and stderr split at a level (each line to one of them only: dedupe). */
function standardStreams(stderrFrom: LogLevel | undefined): DestinationStream | undefined {
  if (!stderrFrom) return undefined;
  return multistream([{ level: 'trace', stream: process.stdout }, { level: stderrFrom, stream: process.stderr }], { dedupe: true });
}

export function createLogger(o: LoggerOptions): Logger {
  return pino(
    {
      level: o.level ?? 'info',
      // No pid/hostname of pino's own: `hostId` is the node that matters, and a supervisor knows the pid.
      base: { service: o.service, ...o.base },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Errors as {type, message, stack, code, path}: a VirtError's code and path survive.
      serializers: { err: pino.stdSerializers.err },
    },
    o.destination ?? standardStreams(o.stderrFrom),
  );
}

/** A child logger whose every line carries the job's (or command's) correlation id. */
export function forJob(log: Logger, correlationId: string, fields: Readonly<Record<string, unknown>> = {}): Logger {
  return log.child({ correlationId, ...fields });
}
