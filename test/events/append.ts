/** Appending a simulated log: many aggregates at once, each one's events in order, in batches. */
import { ConcurrencyError, aggregateOfEvent, type EventStore } from '@virtflow/runtime';
import type { AnyEvent } from '@virtflow/model';
import { byAggregate } from '../support/events.ts';

export async function appendLog(store: EventStore, events: readonly AnyEvent[], opts: { batch?: number; lanes?: number } = {}): Promise<number> {
  const queues = [...byAggregate(events).values()];
  const batch = opts.batch ?? 1;
  let next = 0;
  let appended = 0;
  await Promise.all(Array.from({ length: Math.min(opts.lanes ?? 64, queues.length) }, async () => {
    while (next < queues.length) {
      const list = queues[next++]!;
      for (let i = 0; i < list.length; i += batch) {
        const slice = list.slice(i, i + batch);
        const aggregate = aggregateOfEvent(slice[0]!);
        try {
          await store.append(aggregate, slice, slice[0]!.version - 1);
        } catch (e) {
          // Someone else wrote to the aggregate (a test's raw poison message): reload, then the same events again.
          if (!(e instanceof ConcurrencyError)) throw e;
          await store.load(aggregate);
          await store.append(aggregate, slice, slice[0]!.version - 1);
        }
        appended += slice.length;
      }
    }
  }));
  return appended;
}
