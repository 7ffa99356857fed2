/**
 * Which host may report a domain's lifecycle. NATS permissions can hold an
 * agent to its own host's subjects (`virt.evt.host.<hostId>.*`) but not to its
 * own domains' subjects: those carry the domain's uuid, not its host. So the
 * rule is checked where domain events are folded: a lifecycle event (started,
 * suspended, resumed, shutdown, stopped) must name a host the domain lives on
 * — its placement, or either end of its migration. A DomainPlaced names where
 * it will live and is the scheduler's (or a direct start's) to write.
 *
 * What this catches: an agent, or anyone holding domain-event publish rights,
 * reporting on a domain it does not run. What it cannot: the host named in the
 * body is the publisher's claim; a dishonest agent can name the right host.
 * When the publisher's host is known out of band (`publisherHost`: the
 * connection's user, a signed header), it must also match.
 */
import { VirtError } from '../errors.ts';
import type { DomainRow } from '../events/domain.ts';
import type { AnyEvent } from '../events/types.ts';

const LIFECYCLE: ReadonlySet<string> = new Set(['DomainStarted', 'DomainSuspended', 'DomainResumed', 'DomainShutdown', 'DomainStopped']);

/** The hosts that may report the lifecycle of a domain in `state`. */
export function reportingHosts(state: DomainRow | undefined): ReadonlySet<string> {
  const out = new Set<string>();
  if (state?.hostId) out.add(state.hostId);
  if (state?.migration) (out.add(state.migration.fromHost), out.add(state.migration.toHost));
  return out;
}

/**
 * OPERATION_DENIED (path `/data/hostId`) when `event` is a lifecycle event of
 * a domain from a host the domain does not live on; undefined otherwise.
 * `state` is the domain before the event.
 */
export function lifecycleHostError(state: DomainRow | undefined, event: AnyEvent, opts: { readonly publisherHost?: string } = {}): VirtError | undefined {
  if (!LIFECYCLE.has(event.type)) return undefined;
  const host = (event.data as { hostId?: unknown }).hostId;
  if (typeof host !== 'string') return new VirtError('OPERATION_DENIED', `${event.type} names no host`, '/data/hostId');
  if (opts.publisherHost !== undefined && opts.publisherHost !== host) {
    return new VirtError('OPERATION_DENIED', `${event.type} of domain ${state?.uuid ?? '?'} names host '${host}' but was published by host '${opts.publisherHost}'`, '/data/hostId');
  }
  const hosts = reportingHosts(state);
  if (hosts.has(host)) return undefined;
  const where = hosts.size ? `it lives on ${[...hosts].map((h) => `'${h}'`).join(' and ')}` : 'it is placed on no host';
  return new VirtError('OPERATION_DENIED', `${event.type} of domain '${state?.name ?? (event.data as { uuid?: string }).uuid ?? '?'}' reported by host '${host}': ${where}`, '/data/hostId');
}
