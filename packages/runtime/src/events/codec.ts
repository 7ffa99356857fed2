/** What a consumer reports when a message is unreadable, and the text codecs the event modules share. */
import type { VirtError } from '@virtflow/model';

/** A message on the stream that is not an event this build can fold. */
export interface PoisonReport {
  readonly seq: number;
  readonly subject: string;
  /** What is wrong with it: decodeEvent's VirtError, or the consumer's own finding. */
  readonly error: VirtError;
  /** Who skipped it: 'projector', 'subscription <name>', 'load'. */
  readonly where: string;
}

export type PoisonHandler = (report: PoisonReport) => void;

/** The default poison handler: one line on stderr, then carry on. */
export const logPoison: PoisonHandler = (p) => {
  console.warn(`virtflow: ${p.where} skipped message ${p.seq} on ${p.subject}: ${p.error.message}`);
};

export const textEncoder = new TextEncoder();
export const textDecoder = new TextDecoder();
