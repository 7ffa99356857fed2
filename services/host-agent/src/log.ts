/**
 * The agent's log: one JSON line per message (pino, through the runtime's
 * shared logger), info and below on stdout, warnings and errors on stderr.
 * Callers keep the small `Logger` function; a `correlationId` in the fields
 * ties the line to the command's job and events.
 */
import { createLogger, type DestinationStream } from '@virtflow/runtime';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>) => void;

export function jsonLogger(base: Readonly<Record<string, unknown>>, min: LogLevel = 'info', destination?: DestinationStream): Logger {
  const { service, ...rest } = base;
  const log = createLogger({
    service: typeof service === 'string' ? service : 'virtflow-agent', level: min, base: rest,
    ...(destination ? { destination } : { stderrFrom: 'warn' as const }),
  });
  return (level, msg, fields) => log[level]({ ...fields }, msg);
}

export const silentLogger: Logger = () => undefined;
