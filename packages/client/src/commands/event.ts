/**
 * `virtflow event`: domain and host events as they happen, as virsh event
 * prints them (`event 'lifecycle' for domain 'web': Started Booted`). With
 * --name the subscription is durable: a later `event --name` under the same
 * name resumes after the last event this one printed, even if it was killed.
 */
import type { Command } from 'commander';
import { VirtError, type AnyEvent } from '@virtflow/model';
import { domainRef } from '@virtflow/runtime';
import { run, type Context } from '../cli/context.ts';
import type { SubscribeOptions, VirtflowClient } from '../sdk/index.ts';

/** The events virsh reports as 'lifecycle'. */
export const LIFECYCLE_TYPES = ['DomainDefined', 'DomainRedefined', 'DomainUndefined', 'DomainStarted', 'DomainSuspended', 'DomainResumed', 'DomainShutdown', 'DomainStopped'] as const;

const cap = (s: string) => s.charAt(0) + s.slice(1).toLowerCase().replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

/** virsh's "<Event> <Detail>" words for a lifecycle event, or undefined for others. */
export function lifecycleWords(e: AnyEvent): string | undefined {
  switch (e.type) {
    case 'DomainDefined': return 'Defined Added';
    case 'DomainRedefined': return 'Defined Updated';
    case 'DomainUndefined': return 'Undefined Removed';
    case 'DomainStarted': return `Started ${cap(e.data.detail)}`;
    case 'DomainSuspended': return `Suspended ${cap(e.data.detail)}`;
    case 'DomainResumed': return `Resumed ${cap(e.data.detail)}`;
    case 'DomainShutdown': return `Shutdown ${cap(e.data.detail)}`;
    case 'DomainStopped': return `Stopped ${cap(e.data.detail)}`;
    default: return undefined;
  }
}

export function parseFrom(raw: string | undefined): SubscribeOptions['from'] {
  if (raw === undefined) return undefined;
  if (raw === 'all' || raw === 'new') return raw;
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n < 1) throw new VirtError('INVALID_ARG', 'a stream sequence starts at 1', '--from');
    return n;
  }
  const t = new Date(raw);
  if (Number.isNaN(t.getTime())) throw new VirtError('INVALID_ARG', `'${raw}' is neither a stream sequence, a time (ISO 8601), 'all' nor 'new'`, '--from');
  return t;
}

/** Names of the domains events mention, looked up once each. */
class Names {
  readonly #names = new Map<string, string>();
  constructor(readonly vf: VirtflowClient) {}
  async of(e: AnyEvent): Promise<string | undefined> {
    const uuid = (e.data as { uuid?: string }).uuid;
    if (!uuid) return undefined;
    const named = (e.data as { name?: string }).name;
    if (named) this.#names.set(uuid, named);
    if (!this.#names.has(uuid)) this.#names.set(uuid, (await this.vf.store.load(domainRef(uuid))).state?.name ?? uuid);
    return this.#names.get(uuid);
  }
}

export function registerEvent(program: Command, ctxOf: (cmd: Command) => Context): void {
  program
    .command('event')
    .description("wait for events and print them (lifecycle events unless --all or --event; one unless --loop)")
    .option('--loop', 'keep printing events until interrupted (or --count / --timeout)')
    .option('--all', 'every event type')
    .option('--event <type...>', 'only these event types (DomainStarted, HostDown, ...)')
    .option('--domain <domain>', 'only this domain (name or uuid)')
    .option('--host <host>', 'only events on this host')
    .option('--from <seq|time>', "where to start: a stream sequence, an ISO time, 'all' or 'new' (default)")
    .option('--name <name>', 'a durable subscription name: resumes where the last one of that name stopped')
    .option('--count <n>', 'stop after this many events')
    .option('--timeout <seconds>', 'stop after this many seconds')
    .action(async (opts: { loop?: boolean; all?: boolean; event?: string[]; domain?: string; host?: string; from?: string; name?: string; count?: string; timeout?: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      await run(ctx, async () => {
        const from = parseFrom(opts.from);
        const count = opts.count !== undefined ? Number(opts.count) : opts.loop ? Infinity : 1;
        if (!(count >= 1)) throw new VirtError('INVALID_ARG', `'${opts.count}' is not a positive count`, '--count');
        const timeoutS = opts.timeout !== undefined ? Number(opts.timeout) : undefined;
        if (timeoutS !== undefined && !(timeoutS > 0)) throw new VirtError('INVALID_ARG', `'${opts.timeout}' is not a number of seconds`, '--timeout');
        const types = opts.event ?? (opts.all ? undefined : [...LIFECYCLE_TYPES]);
        const vf = await ctx.client();
        const sub = await vf.events.subscribe({
          ...(opts.domain ? { domain: opts.domain } : {}), ...(opts.host ? { host: opts.host } : {}), ...(types ? { types } : {}),
          ...(from !== undefined ? { from } : {}), ...(opts.name ? { name: opts.name } : {}),
        });
        const names = new Names(vf);
        let seen = 0;
        let timedOut = false;
        const timer = timeoutS !== undefined ? setTimeout(() => ((timedOut = true), sub.stop()), timeoutS * 1000) : undefined;
        // Ctrl-C ends after the current event, so a durable subscription keeps its place exactly.
        const onSignal = () => sub.stop();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          for await (const { seq, event } of sub) {
            const name = await names.of(event);
            if (ctx.json) ctx.out(JSON.stringify({ seq, ...(name ? { domain: name } : {}), event }));
            else {
              const about = name !== undefined ? `domain '${name}'` : `host '${(event.data as { hostId?: string }).hostId ?? '?'}'`;
              const words = lifecycleWords(event);
              const host = (event.data as { hostId?: string }).hostId;
              ctx.out(`event '${words ? 'lifecycle' : event.type}' for ${about}${words ? `: ${words}` : ''}${host && name !== undefined ? ` on '${host}'` : ''}`);
            }
            if (++seen >= count) sub.stop();
          }
        } finally {
          if (timer) clearTimeout(timer);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        if (!ctx.json) {
          if (timedOut) ctx.out('event loop timed out');
          ctx.out(`events received: ${seen}`);
        }
      });
    });
}
