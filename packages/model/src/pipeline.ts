/**
 * The operator's policy stages run on their own, after a driver's post-parse
 * ran elsewhere (the parser service runs each on its own queue). Same
 * semantics as the runner's last step: each stage's domain callback, then its
 * device callback on every device, in registration order; an error fails.
 */
import { freeze } from 'immer';
import type { Capabilities } from './caps/types.ts';
import type { DomainDef } from './domain/types.ts';
import { runStage } from './postparse/runner.ts';
import type { Ctx, DriverConf, ParseFlags, PolicyStage, Provenance } from './postparse/types.ts';

export interface PolicyRun {
  readonly def: DomainDef;
  readonly provenance: readonly Provenance[];
}

export function runPolicyStages(def: DomainDef, stages: readonly PolicyStage[], opts: {
  readonly caps: Capabilities;
  readonly driver: DriverConf<any>;
  readonly random?: (bytes: Uint8Array) => Uint8Array;
  readonly flags?: Partial<ParseFlags>;
}): PolicyRun {
  const provenance: Provenance[] = [];
  let actor = '';
  const ctx: Ctx<unknown> & { devicePath?: string } = {
    caps: opts.caps,
    data: undefined,
    flags: { inactive: true, abiUpdate: true, skipValidate: false, ...opts.flags },
    driver: opts.driver,
    random: opts.random ?? ((b) => globalThis.crypto.getRandomValues(b)),
    filled(path, value, why, rule = 'manual') {
      provenance.push({ path, value, driver: actor, rule, why });
    },
  };
  for (const stage of stages) {
    actor = stage.name;
    def = runStage(stage, def, ctx);
  }
  return { def: freeze(def, true), provenance };
}
