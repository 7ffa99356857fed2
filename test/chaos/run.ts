/**
 * The long form of the chaos suite: `npm run test:chaos [-- --minutes 10 --faults 25 --workers 6 --kinds redis,nats --out report.json]`.
 * Prints the table; exits 1 when anything was lost, duplicated or oversubscribed.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatTable, killAll, runChaos, type Fault } from './chaos.ts';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, faults: { type: 'string', default: '15' }, workers: { type: 'string', default: '6' }, kinds: { type: 'string' }, out: { type: 'string' } } });
try {
  const r = await runChaos({ durationMs: Number(values.minutes) * 60_000, faults: Number(values.faults), workers: Number(values.workers), log: (l) => console.log(l), ...(values.kinds ? { kinds: values.kinds.split(',') as Fault[] } : {}) });
  console.log(formatTable(r));
  // --out FILE: the faults, the problems and every job that did not complete, as JSON (the evidence).
  if (values.out) writeFileSync(values.out, JSON.stringify({ faults: r.faults, problems: r.problems, jobs: r.records.filter((j) => j.state !== 'completed') }, null, 2));
  const bad = r.lost > 0 || r.duplicated > 0 || r.oversubscribed > 0 || !r.projectionsEqual || r.problems.length > 0;
  process.exitCode = bad ? 1 : 0;
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await killAll();
}
