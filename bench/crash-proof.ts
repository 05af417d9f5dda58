// `npm run crash-proof [-- --count N --kills K --instances I --concurrency C --naive-count N --out file]`: the crash
// proof at full size (issue 10, point 4). The API in separate processes over one `npm run db` database, the fault
// proxy between them, N keyed and N unkeyed createPost and deletePost (and N/5 of createPackage and publishRelease),
// K kill -9s with restarts; then drift, `npm run repair -- --older-than 0`, verify and exactly-once per key. The naive
// two-write variant runs the same way. Prints a report, writes it as JSON, exits 1 if the real API drifted after repair.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadProblems, runCrashScenario, summarize } from '../test/effects/crash-harness.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    count: { type: 'string', default: '2000' },
    'naive-count': { type: 'string', default: '2000' },
    kills: { type: 'string', default: '8' },
    instances: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '24' },
    out: { type: 'string', default: 'bench/results/crash-proof.json' },
  },
});
const int = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
};
const count = int('count');
const common = { instances: int('instances'), minKills: int('kills'), concurrency: int('concurrency') };
const started = Date.now();
const log = (line: string) => console.error(`[crash-proof ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
const loadAverageAtStart = loadavg()[0]!;

const side = Math.max(1, Math.round(count / 5));
const api = await runCrashScenario({
  ...common,
  kind: 'api',
  counts: {
    'createPost:keyed': count,
    'createPost:unkeyed': count,
    'deletePost:keyed': count,
    'deletePost:unkeyed': count,
    'createPackage:keyed': side,
    'createPackage:unkeyed': side,
    'publishRelease:keyed': side,
    'publishRelease:unkeyed': side,
  },
  log,
});
console.log(summarize(api));
const naive = await runCrashScenario({ ...common, kind: 'naive', counts: { 'createPost:unkeyed': int('naive-count') }, log });
console.log(summarize(naive));

const problems = loadProblems(api, common.minKills);
const exact =
  problems.length === 0 && api.after !== undefined && api.after.recount.drift === 0 && api.after.verify.exitCode === 0 && api.violations.length === 0;
const result = {
  at: new Date().toISOString(),
  machine: { cpus: cpus().length, loadAverageAtStart },
  exactAfterRepair: exact,
  loadProblems: problems,
  naiveDrifted: naive.before.recount.drift > 0,
  api: { ...api, violations: api.violations.slice(0, 50), violationCount: api.violations.length },
  naive,
};
await mkdir(dirname(values.out!), { recursive: true });
await writeFile(values.out!, `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${values.out}; ${exact ? 'exact after repair' : 'NOT exact after repair'}; naive drift ${naive.before.recount.drift}`);
if (!exact) {
  for (const line of [...problems, ...(api.after?.recount.differences ?? []), ...api.violations.slice(0, 20)]) console.log(`  ${line}`);
  process.exitCode = 1;
}
