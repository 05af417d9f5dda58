// `npm run bench [-- --quick]`: K API processes on one database, every scenario and baseline under the same load,
// invariants read from the database, cold start and bundle size; prints the table, writes latest.json and latest.svg,
// and exits non-zero when an invariant of the atomic variants broke.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { MongoClient } from 'mongodb';
import { ensureIndexes } from '../src/db/indexes.js';
import { BENCH_INSTANCE_ENV, startCluster } from './cluster.js';
import { measureColdStart } from './cold-start.js';
import { parseOptions } from './options.js';
import { type PeerReport, runPeerBench } from './peers/peers.js';
import { type BenchReport, formatTable, formatTargets, judgeTargets, writeReport } from './report.js';
import type { BenchEnv, VariantResult } from './scenarios/common.js';
import { SCENARIOS } from './scenarios/index.js';
import { warmUp } from './scenarios/posts.js';

const options = parseOptions(process.argv.slice(2));

/** The before/after of each cost change (issue 15), measured with bench/peers/peers.ts --baseline-ref; kept across runs. */
async function readCostSteps(): Promise<unknown[] | undefined> {
  try {
    return JSON.parse(await readFile(new URL('./results/cost-steps.json', import.meta.url), 'utf8')) as unknown[];
  } catch {
    return undefined;
  }
}
const started = performance.now();
const log = (line: string) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}`);
const loadAverageAtStart = loadavg()[0]!;
const jwtSecret = randomBytes(32).toString('hex');
const dbName = `bench_${Date.now().toString(36)}`;

log(`starting ${process.env.MONGODB_URI ? 'on MONGODB_URI' : 'an embedded database'} and ${options.instances} API processes`);
const cluster = await startCluster({ instances: options.instances, dbName, jwtSecret, env: {} });
const client = new MongoClient(cluster.mongoUri);
let report: BenchReport | undefined;
try {
  const db = client.db(dbName);
  await ensureIndexes(db);
  const env: BenchEnv = {
    apiUrls: cluster.apiUrls,
    baselineUrls: cluster.baselineUrls,
    db,
    connections: options.connections,
    jwtSecret,
    counts: options.counts,
    cpu: { instances: cluster.instancePids, db: cluster.dbPid },
    log,
  };
  log(`warming up: ${options.warmUpRequests} views and likes per instance through GraphQL and through the JSON endpoint`);
  await warmUp(env, options.warmUpRequests);

  const results: VariantResult[] = [];
  const scenarios = SCENARIOS.filter((s) => options.only.length === 0 || options.only.some((name) => s.name.includes(name)));
  for (const scenario of scenarios) results.push(...(await scenario.run(env)));

  let peers: PeerReport | undefined;
  let peersError: string | undefined;
  if (options.peers) {
    log(`peers: the project next to plain JSON, bare Yoga, Apollo and Mercurius, ${options.peerRounds} rounds of ${options.peerRequests} requests per operation`);
    try {
      peers = await runPeerBench({
        mongoUri: cluster.mongoUri,
        dbName: `${dbName}_peers`,
        jwtSecret,
        rounds: options.peerRounds,
        requestsPerRound: options.peerRequests,
        connections: 32,
        warmUpRequests: options.quick ? 200 : 1_000,
        profileRequests: options.peerRequests,
        log,
      });
    } catch (error) {
      // Reported, not fatal, like the cold start: the scenario results above still stand.
      peersError = (error as Error).message;
      log(`peers could not be measured: ${peersError}`);
    }
  }

  let deployFigures: Awaited<ReturnType<typeof measureColdStart>> | undefined;
  let coldStartError: string | undefined;
  if (!options.skipColdStart) {
    log(`building the artifact (npm run build) and starting its GraphQL function and a bare yoga one ${options.coldStartRuns} times each`);
    try {
      deployFigures = await measureColdStart({
        runs: options.coldStartRuns,
        env: { ...BENCH_INSTANCE_ENV, NODE_ENV: 'production', MONGODB_URI: cluster.mongoUri, MONGODB_DB: dbName, AUTH_JWT_SECRET: jwtSecret },
      });
    } catch (error) {
      // A failed measurement is reported, not fatal: the scenario results above still stand.
      coldStartError = (error as Error).message;
      log(`cold start could not be measured: ${coldStartError}`);
    }
  }

  const cpuList = cpus();
  report = {
    meta: {
      date: new Date().toISOString(),
      mode: options.quick ? 'quick' : 'full',
      node: process.versions.node,
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? 'unknown',
      loadAverageAtStart: Math.round(loadAverageAtStart * 100) / 100,
      instances: options.instances,
      connections: options.connections,
      database: cluster.embedded ? 'embedded' : 'MONGODB_URI',
      counts: options.counts,
      durationS: Math.round((performance.now() - started) / 100) / 10,
    },
    atomicInvariantsHeld: results.every((r) => !r.atomic || r.violations.length === 0),
    targets: judgeTargets(results, deployFigures?.bundle, deployFigures?.coldStart, coldStartError, peers),
    results,
    peers,
    peersError,
    costSteps: await readCostSteps(),
    bundle: deployFigures?.bundle,
    coldStart: deployFigures?.coldStart,
    coldStartError,
  };
} finally {
  // On a real MongoDB the bench leaves nothing behind; the embedded one goes away with its process.
  if (!cluster.embedded) await client.db(dbName).dropDatabase().catch(() => undefined);
  await client.close();
  await cluster.stop();
}

console.log(`\n${formatTable(report.results)}\n`);
for (const row of report.results.filter((r) => r.violations.length > 0)) {
  console.log(`${row.atomic ? 'BROKEN' : 'baseline'} ${row.scenario}/${row.variant}: ${row.violations.join('; ')}`);
}
console.log(`\n${formatTargets(report.targets)}\n`);
const files = await writeReport(options.outDir, report);
console.log(`wrote ${files.json} and ${files.svg} (${report.meta.durationS} s)`);
if (!report.atomicInvariantsHeld) {
  console.log('FAILED: an invariant of the atomic variants did not hold.');
  process.exitCode = 1;
}
