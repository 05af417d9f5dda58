// The Vercel function's deploy-time figures: the size of api/graphql.ts bundled with esbuild (and which packages
// fill it), and the cold start — a fresh Node process importing that bundle and answering its first request.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from './bundle.js';

export interface BundleReport {
  bytes: number;
  /** Bytes in the bundle per npm package (or "src"), largest first. */
  largest: { name: string; bytes: number }[];
  command: string;
}

export interface ColdStartReport {
  runs: number;
  /** Median ms from spawning `node` to the first successful response, as seen by the parent. */
  medianMs: number;
  allMs: number[];
  /** Medians of the steps inside the process: Node boot until the probe ran, importing the bundle, the first request. */
  medianBootMs: number;
  medianImportMs: number;
  medianFirstRequestMs: number;
}

const ENTRY = 'api/graphql.ts';
export const BUNDLE_COMMAND = `esbuild ${ENTRY} --bundle --platform=node --format=esm --minify`;

/** Bundles the Vercel function as BUNDLE_COMMAND does (nothing external but Node's built-ins, plus a two-statement require shim) into `dir`. */
export async function bundleHandler(dir: string): Promise<{ file: string; report: BundleReport }> {
  const file = join(dir, 'graphql.mjs');
  const metafile = await bundleForNode(ENTRY, file, { minify: true });
  const output = Object.values(metafile.outputs)[0]!;
  const byPackage = new Map<string, number>();
  for (const [path, input] of Object.entries(output.inputs)) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path.split('/')[0]!;
    byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
  }
  const largest = [...byPackage].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 10);
  return { file, report: { bytes: output.bytes, largest, command: BUNDLE_COMMAND } };
}

interface ProbeLine {
  ok: boolean;
  started: number;
  imported: number;
  responded: number;
  reply?: string;
}

function runProbe(bundle: string, postId: string, env: NodeJS.ProcessEnv): Promise<{ wallMs: number; line: ProbeLine }> {
  const probe = fileURLToPath(new URL('./cold-start-probe.mjs', import.meta.url));
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [probe, bundle, postId], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let wallMs: number | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      // The first line is the answer; the wall time stops there, not at process teardown.
      if (wallMs === undefined && out.includes('\n')) wallMs = performance.now() - t0;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        if (!out.trim()) throw new Error(`the probe exited with code ${code} before answering (its stderr is above)`);
        const line = JSON.parse(out.split('\n')[0]!) as ProbeLine;
        if (!line.ok || wallMs === undefined) throw new Error(`cold-start probe got no successful response: ${line.reply}`);
        resolve({ wallMs, line });
      } catch (error) {
        reject(new Error(`cold-start probe failed: ${(error as Error).message}`));
      }
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Bundles the handler, then starts it `runs` times in fresh processes against the running database. */
export async function measureColdStart(options: {
  runs: number;
  postId: string;
  env: NodeJS.ProcessEnv;
}): Promise<{ bundle: BundleReport; coldStart: ColdStartReport }> {
  const dir = await mkdtemp(join(tmpdir(), 'registry-bench-bundle-'));
  try {
    const { file, report } = await bundleHandler(dir);
    const runs: { wallMs: number; line: ProbeLine }[] = [];
    for (let i = 0; i < options.runs; i++) runs.push(await runProbe(file, options.postId, options.env));
    return {
      bundle: report,
      coldStart: {
        runs: runs.length,
        medianMs: round(median(runs.map((r) => r.wallMs))),
        allMs: runs.map((r) => round(r.wallMs)),
        medianBootMs: round(median(runs.map((r) => r.line.started))),
        medianImportMs: round(median(runs.map((r) => r.line.imported - r.line.started))),
        medianFirstRequestMs: round(median(runs.map((r) => r.line.responded - r.line.imported))),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
