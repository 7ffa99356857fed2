/** One JSON line per message on stdout/stderr: what the agent did and why, for people and log shippers. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>) => void;

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(base: Readonly<Record<string, unknown>>, min: LogLevel = 'info'): Logger {
  return (level, msg, fields) => {
    if (RANK[level] < RANK[min]) return;
    const line = JSON.stringify({ level, at: new Date().toISOString(), msg, ...base, ...fields });
    (RANK[level] >= RANK.warn ? process.stderr : process.stdout).write(`${line}\n`);
  };
}

export const silentLogger: Logger = () => undefined;
