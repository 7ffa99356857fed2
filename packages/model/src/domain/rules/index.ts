/**
 * libvirt's parse-time defaults and checks, run on the decoded draft in the
 * order domain_conf.c applies them. Each rule names the path it is about.
 */
import type { Warning } from '../../codec/codec.ts';
import type { DomainDraft } from '../types.ts';

export interface ParseContext {
  readonly random: (bytes: Uint8Array) => Uint8Array;
  readonly inactive: boolean;
  readonly warnings: Warning[];
  /** A single device parsed alone (attach-device): domain-level rules are skipped. */
  readonly deviceOnly?: boolean;
}

export type ParseRule = (def: DomainDraft, ctx: ParseContext) => void;

const rules: ParseRule[] = [];

export function applyParseRules(def: DomainDraft, ctx: ParseContext): void {
  for (const rule of rules) rule(def, ctx);
}
