// Cold start and size of what deploys: `npm run build`'s GraphQL function, started the way Vercel's Node launcher starts
// it (scripts/vercel-launcher.mjs) in a fresh process, from process start to its first answer; against a bare
// graphql-yoga "hello" function bundled and launched the same way in the same run, runs alternating so both see the same
// machine. Also prices each size decision of scripts/build.ts by building without it.
// Alone: `npx tsx bench/cold-start.ts [--runs N]` (embedded database) writes bench/results/cold-start.json.
import { spawn, spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { buildOutput, bundleOptions, FUNCTION_RUNTIME, HANDLER_FILE, SIZE_DECISIONS, type BuiltFunction } from '../scripts/build.js';

export interface BundleReport {
  /** Bytes of the GraphQL function as deployed: every file in its .func directory. */
  bytes: number;
  /** Bytes in the bundle per npm package (or "src"), largest first. */
  largest: { name: string; bytes: number }[];
  command: string;
  /** What the bundle would weigh without each size decision of scripts/build.ts. */
  withoutDecision: { decision: string; bytes: number }[];
  /**
   * What stands in the way of the ratio: the "hello" function plus one dependency of ours, bundled the same way, with
   * the median time a fresh process takes to import it (no request), next to hello alone and the GraphQL function.
   */
  importCost: { variant: string; bytes: number; medianImportMs: number }[];
}

export interface ColdStartReport {
  /** The node binary that ran the functions, e.g. "20.20.2". */
  node: string;
  runs: number;
  /** Median ms from spawning the launcher on the GraphQL function to its first successful answer, seen by the parent. */
  medianMs: number;
  allMs: number[];
  /** Median ms from process start until the function was loaded and listening (inside the process). */
  medianLoadMs: number;
  /** The same for the bare graphql-yoga "hello" function, measured in the same run. */
  baseline: { medianMs: number; allMs: number[]; medianLoadMs: number; bytes: number };
  /** medianMs / baseline.medianMs */
  ratio: number;
  /** Other Node majors asked for in COLD_START_NODES but not found on this machine. */
  unavailable: string[];
}

// Issue 15's target (issue 4 had asked for 1.3x).
export const COLD_START_RATIO_TARGET = 1.1;
export const ARTIFACT_TARGET_BYTES = 1_200_000;

const LAUNCHER = fileURLToPath(new URL('../scripts/vercel-launcher.mjs', import.meta.url));
const QUERY = '{ registryStats { totalPackages } }';

const HELLO_SOURCE = `import { createSchema, createYoga } from 'graphql-yoga';
const yoga = createYoga({ graphqlEndpoint: '/api/hello', schema: createSchema({ typeDefs: 'type Query { hello: String! }', resolvers: { Query: { hello: () => 'world' } } }) });
export function GET(request) { return yoga.fetch(request); }
export { GET as POST };
`;

async function buildHello(dir: string): Promise<BuiltFunction> {
  const funcDir = join(dir, 'hello.func');
  const entry = join(dir, 'hello.mjs');
  await mkdir(funcDir, { recursive: true });
  await writeFile(entry, HELLO_SOURCE);
  const result = await build({ ...bundleOptions(entry, join(funcDir, HANDLER_FILE)), absWorkingDir: fileURLToPath(new URL('..', import.meta.url)), nodePaths: [fileURLToPath(new URL('../node_modules', import.meta.url))] });
  await writeFile(join(funcDir, '.vc-config.json'), JSON.stringify({ runtime: FUNCTION_RUNTIME, handler: HANDLER_FILE, launcherType: 'Nodejs', shouldAddHelpers: false }));
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  return { entry, path: '/api/hello', dir: funcDir, bytes, metafile: result.metafile };
}

function byPackage(fn: BuiltFunction): { name: string; bytes: number }[] {
  const sizes = new Map<string, number>();
  for (const output of Object.values(fn.metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path.split('/')[0]!;
      sizes.set(name, (sizes.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...sizes].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 10);
}

const IMPORT_VARIANTS: Record<string, string> = {
  hello: '',
  'hello + mongodb (a MongoClient)': "import { MongoClient } from 'mongodb'; new MongoClient('mongodb://127.0.0.1:1');",
  'hello + zod/mini (one schema parsed)': "import * as z from 'zod/mini'; z.object({ a: z.string() }).parse({ a: 'x' });",
  'hello + pino (a logger)': "import pino from 'pino'; pino({ level: 'silent' });",
};

async function measureImportCosts(dir: string, graphql: BuiltFunction, runs: number, env: NodeJS.ProcessEnv): Promise<BundleReport['importCost']> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const files: { variant: string; file: string; bytes: number }[] = [];
  for (const [i, [variant, prefix]] of Object.entries(IMPORT_VARIANTS).entries()) {
    const entry = join(dir, `import-${i}.mjs`);
    await writeFile(entry, `${prefix}\n${HELLO_SOURCE}`);
    const file = join(dir, `import-${i}.out.mjs`);
    const result = await build({ ...bundleOptions(entry, file), absWorkingDir: root, nodePaths: [join(root, 'node_modules')] });
    files.push({ variant, file, bytes: Object.values(result.metafile.outputs)[0]!.bytes });
  }
  files.push({ variant: 'the GraphQL function', file: join(graphql.dir, HANDLER_FILE), bytes: graphql.bytes });
  const times = new Map<string, number[]>();
  for (let run = 0; run < runs; run++) {
    for (const { variant, file } of files) {
      const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env });
      if (result.status !== 0) throw new Error(`importing ${variant} failed: ${result.stderr}`);
      times.set(variant, [...(times.get(variant) ?? []), Number(result.stdout.trim())]);
    }
  }
  return files.map(({ variant, bytes }) => ({ variant, bytes, medianImportMs: round(median(times.get(variant)!)) }));
}

async function bytesWithout(decision: string, dir: string): Promise<number> {
  const result = await build({ ...bundleOptions(fileURLToPath(new URL('../api/graphql.ts', import.meta.url)), join(dir, `without-${decision}.mjs`), { without: [decision] }), write: false });
  return Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
}

/** One cold start: spawn the launcher, wait until it listens, send the query, stop the clock at the answer. */
function startOnce(node: string, fn: BuiltFunction, body: string, env: NodeJS.ProcessEnv): Promise<{ wallMs: number; loadMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(node, [LAUNCHER, fn.dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const fail = (message: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${fn.path}: ${message}\n${err}`));
    };
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('exit', (code) => code !== null && code !== 0 && fail(`exited with ${code}`));
    child.stdout.setEncoding('utf8').on('data', async (chunk: string) => {
      const wasWaiting = !out.includes('\n');
      out += chunk;
      if (!wasWaiting || !out.includes('\n')) return;
      const { port, loadedMs } = JSON.parse(out.split('\n')[0]!) as { port: number; loadedMs: number };
      try {
        const response = await fetch(`http://127.0.0.1:${port}${fn.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const json = (await response.json()) as { data?: unknown };
        const wallMs = performance.now() - t0;
        if (response.status !== 200 || !json.data) return fail(`answered ${response.status} ${JSON.stringify(json).slice(0, 300)}`);
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve({ wallMs, loadMs: loadedMs });
      } catch (error) {
        fail((error as Error).message);
      }
    });
  });
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round = (ms: number) => Math.round(ms * 10) / 10;

/** Other node binaries to measure with, e.g. COLD_START_NODES=/opt/node24/bin/node. */
function extraNodes(): { found: string[]; unavailable: string[] } {
  const found: string[] = [];
  const unavailable: string[] = [];
  for (const path of (process.env.COLD_START_NODES ?? '').split(',').filter(Boolean)) {
    const result = spawnSync(path, ['--version'], { encoding: 'utf8' });
    if (result.status === 0) found.push(path);
    else unavailable.push(path);
  }
  return { found, unavailable };
}

/** Builds the artifact and the baseline, then starts each `runs` times, alternating, with `env` (MONGODB_URI, ...). */
export async function measureColdStart(options: { runs: number; env: NodeJS.ProcessEnv }): Promise<{ bundle: BundleReport; coldStart: ColdStartReport; otherNodes: ColdStartReport[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'registry-cold-start-'));
  try {
    const functions = await buildOutput(join(dir, 'output'));
    const graphql = functions.find((f) => f.path === '/api/graphql')!;
    const hello = await buildHello(dir);
    const withoutDecision = [];
    for (const decision of SIZE_DECISIONS) withoutDecision.push({ decision, bytes: await bytesWithout(decision, dir) });
    const env = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...options.env };
    const importCost = await measureImportCosts(dir, graphql, options.runs, env);
    const measure = async (node: string, version: string, unavailable: string[]): Promise<ColdStartReport> => {
      const ours: { wallMs: number; loadMs: number }[] = [];
      const base: { wallMs: number; loadMs: number }[] = [];
      // One unmeasured start of each first: the OS file cache, not the function, would otherwise pay the first run.
      await startOnce(node, graphql, JSON.stringify({ query: QUERY }), env);
      await startOnce(node, hello, JSON.stringify({ query: '{ hello }' }), env);
      for (let i = 0; i < options.runs; i++) {
        ours.push(await startOnce(node, graphql, JSON.stringify({ query: QUERY }), env));
        base.push(await startOnce(node, hello, JSON.stringify({ query: '{ hello }' }), env));
      }
      const medianMs = round(median(ours.map((r) => r.wallMs)));
      const baselineMs = round(median(base.map((r) => r.wallMs)));
      return {
        node: version,
        runs: options.runs,
        medianMs,
        allMs: ours.map((r) => round(r.wallMs)),
        medianLoadMs: round(median(ours.map((r) => r.loadMs))),
        baseline: { medianMs: baselineMs, allMs: base.map((r) => round(r.wallMs)), medianLoadMs: round(median(base.map((r) => r.loadMs))), bytes: hello.bytes },
        ratio: Math.round((medianMs / baselineMs) * 100) / 100,
        unavailable,
      };
    };
    const nodes = extraNodes();
    const coldStart = await measure(process.execPath, process.versions.node, nodes.unavailable);
    const otherNodes = [];
    for (const node of nodes.found) otherNodes.push(await measure(node, spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, ''), []));
    return {
      bundle: { bytes: await directoryBytes(graphql.dir), largest: byPackage(graphql), command: 'npm run build (scripts/build.ts)', withoutDecision, importCost },
      coldStart,
      otherNodes,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '9' } } });
  const { startEmbeddedDb } = await import('../src/embedded-db/server.js');
  const db = await startEmbeddedDb({ port: 0 });
  const load = loadavg()[0]!;
  try {
    const result = await measureColdStart({
      runs: Number(values.runs),
      env: { NODE_ENV: 'production', MONGODB_URI: db.uri, MONGODB_DB: 'cold_start', AUTH_JWT_SECRET: 'cold-start-secret-that-is-long-enough-0123456789' },
    });
    const report = { meta: { date: new Date().toISOString(), node: process.versions.node, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAverageAtStart: load, database: 'embedded' }, ...result };
    const file = fileURLToPath(new URL('./results/cold-start.json', import.meta.url));
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    const c = result.coldStart;
    console.log(`GraphQL function: ${(result.bundle.bytes / 1e6).toFixed(3)} MB (target ${ARTIFACT_TARGET_BYTES / 1e6} MB: ${result.bundle.bytes <= ARTIFACT_TARGET_BYTES ? 'met' : 'MISSED'})`);
    console.log(`cold start (Node ${c.node}): ${c.medianMs} ms median vs ${c.baseline.medianMs} ms for yoga "hello" = ${c.ratio}x (target ${COLD_START_RATIO_TARGET}x: ${c.ratio <= COLD_START_RATIO_TARGET ? 'met' : 'MISSED'})`);
    for (const w of result.bundle.withoutDecision) console.log(`  without ${w.decision}: ${(w.bytes / 1e6).toFixed(3)} MB`);
    for (const c of result.bundle.importCost) console.log(`  import ${c.variant}: ${(c.bytes / 1e3).toFixed(0)} kB, ${c.medianImportMs} ms`);
    console.log(`wrote ${file}`);
  } finally {
    await db.stop();
  }
}
