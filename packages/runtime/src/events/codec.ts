/** Events on and off the wire, and what a consumer reports when one is unreadable. */
import { decodeEvent, type AnyEvent, VirtError } from '@virtflow/model';

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

/** Decodes a stored message; a poison message comes back as a VirtError. */
export function readEvent(data: Uint8Array, subject: string): AnyEvent | VirtError {
  return decodeEvent(data, subject);
}

export const textEncoder = new TextEncoder();
export const textDecoder = new TextDecoder();
