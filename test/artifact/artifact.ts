// Helpers for the artifact suites: build .vercel/output once per test file (into a temporary folder) and run one of its
// functions in a fresh Node process exactly as Vercel's Node launcher would (scripts/vercel-launcher.mjs).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOutput, type BuiltFunction } from '../../scripts/build.js';

const LAUNCHER = fileURLToPath(new URL('../../scripts/vercel-launcher.mjs', import.meta.url));

export interface Artifact {
  dir: string;
  functions: BuiltFunction[];
  /** The built function served at `path`, e.g. /api/graphql. */
  fn(path: string): BuiltFunction;
  remove(): Promise<void>;
}

/** Runs the real build (scripts/build.ts) into a fresh temporary output folder. */
export async function buildArtifact(): Promise<Artifact> {
  const dir = await mkdtemp(join(tmpdir(), 'registry-artifact-'));
  const functions = await buildOutput(dir);
  return {
    dir,
    functions,
    fn(path) {
      const found = functions.find((f) => f.path === path);
      if (!found) throw new Error(`no function ${path} in the artifact (built: ${functions.map((f) => f.path).join(', ')})`);
      return found;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface RunningFunction {
  /** http://127.0.0.1:<port> */
  origin: string;
  /** origin + the function's path */
  url: string;
  child: ChildProcess;
  /** Stderr so far (the function logs there). */
  stderr(): string;
  /** SIGKILL: an instance that dies mid-request, as a crashed or frozen function does. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `funcDir` in a new process with only `env` (plus PATH) as its environment, as a function instance gets. */
export async function startFunction(fn: BuiltFunction, env: Record<string, string>): Promise<RunningFunction> {
  const child = spawn(process.execPath, [LAUNCHER, fn.dir], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`the function exited with code ${code} before listening:\n${err}`)));
  });
  const origin = `http://127.0.0.1:${port}`;
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return {
    origin,
    url: origin + fn.path,
    child,
    stderr: () => err,
    kill,
    stop: kill,
  };
}
