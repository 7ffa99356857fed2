/** One stream message as the projections take it: an event, a poison message's error, or nothing (a name claim). */
import { aggregateOf, decodeEvent, type Sequenced, type VirtErrorJSON } from '@virtflow/model';

export function decodeItem(seq: number, subject: string, data: Uint8Array): Sequenced {
  if (aggregateOf(subject)?.kind === 'name') return { seq, event: undefined };
  return { seq, event: decodeEvent(data, subject) };
}

/** A poison message as a worker reports it back. */
export interface WorkerPoison {
  readonly seq: number;
  readonly subject: string;
  readonly error: VirtErrorJSON;
}
