/**
 * `npm run bench -- <name>`: runs a benchmark, prints a table and writes
 * bench/results/<name>.json with the reference measured in the same run.
 */
import { parseBench } from './parse.ts';
import { postparseBench } from './postparse.ts';
import { eventsBench } from './events.ts';
import { pipelineBench } from './pipeline.ts';
import { agentBench } from './agent.ts';
import { clusterBench } from './cluster.ts';

const benches: Record<string, () => Promise<void>> = { parse: parseBench, postparse: postparseBench, pipeline: pipelineBench, events: eventsBench, agent: agentBench, cluster: clusterBench };
const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const chosen = names.length ? names : Object.keys(benches);
for (const name of chosen) {
  const run = benches[name];
  if (!run) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  await run();
}
