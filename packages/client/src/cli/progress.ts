/**
 * Progress for long jobs, on a terminal only (stderr, redrawn in place):
 * a job's current step, or a bar for many jobs. Off a terminal nothing is
 * drawn, so scripts and pipes read clean output.
 */
import type { Progress } from '../sdk/index.ts';

export interface Indicator {
  /** A step the job reported. */
  step(p: Progress): void;
  /** One of `total` items done. */
  tick(label?: string): void;
  done(): void;
}

const NONE: Indicator = { step: () => undefined, tick: () => undefined, done: () => undefined };

function stepText(p: unknown): string {
  if (typeof p === 'string') return p;
  if (typeof p === 'number') return `${p}%`;
  if (p && typeof p === 'object') {
    const o = p as { step?: unknown; stage?: unknown; percent?: unknown; message?: unknown };
    const s = o.step ?? o.stage ?? o.message;
    const pct = typeof o.percent === 'number' ? ` ${o.percent}%` : '';
    if (s !== undefined) return `${String(s)}${pct}`;
    return JSON.stringify(p);
  }
  return String(p);
}

export function indicator(enabled: boolean, write: (s: string) => void, what: string, total = 1): Indicator {
  if (!enabled) return NONE;
  const started = Date.now();
  let done = 0;
  let step = 'queued';
  const draw = () => {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const bar = total > 1 ? `[${'#'.repeat(Math.round((done / total) * 20)).padEnd(20, '.')}] ${done}/${total} ` : '';
    write(`\r\x1b[2K${what}: ${bar}${step} (${secs}s)`);
  };
  const timer = setInterval(draw, 200);
  timer.unref();
  draw();
  return {
    step(p) {
      step = stepText(p.progress);
      draw();
    },
    tick(label) {
      done++;
      if (label) step = label;
      draw();
    },
    done() {
      clearInterval(timer);
      write('\r\x1b[2K');
    },
  };
}
