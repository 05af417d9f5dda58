// Starts the bench's processes: the embedded database (unless MONGODB_URI is set) and K API instances, each a forked
// Node process running an esbuild bundle (as a deployment would, and quicker to start than tsx); stops exactly the
// processes it started.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from './bundle.js';
import type { DbReady } from './db-process.js';
import type { InstanceReady } from './api-instance.js';

const STARTUP_TIMEOUT_MS = 30_000;

/** Forks one child (recorded in `started` at once, so a failed start can still be cleaned up) and waits for its ready message. */
function startChild<T extends { type: 'ready' }>(file: string, env: NodeJS.ProcessEnv, started: ChildProcess[]): Promise<T> {
  const child = fork(file, [], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  started.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not start within ${STARTUP_TIMEOUT_MS} ms`));
    }, STARTUP_TIMEOUT_MS);
    child.once('message', (message: T) => {
      clearTimeout(timer);
      resolve(message);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with code ${code} before it was ready`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * How the bench runs the API: as deployed (production masking, no GraphiQL), with logs quiet and rate limits off —
 * the bench measures the mutations, and one post gets far more than the 600 views a minute one caller is allowed.
 */
export const BENCH_INSTANCE_ENV = { NODE_ENV: 'production', LOG_LEVEL: 'warn', RATE_LIMITS: 'off' } as const;

export interface Cluster {
  mongoUri: string;
  embedded: boolean;
  apiUrls: string[];
  baselineUrls: string[];
  instancePids: number[];
  /** The embedded database's process; undefined with MONGODB_URI. */
  dbPid?: number;
  stop(): Promise<void>;
}

/** The database first (or MONGODB_URI), then `instances` API processes on it, all started before any load. */
export async function startCluster(options: { instances: number; dbName: string; jwtSecret: string; env: NodeJS.ProcessEnv }): Promise<Cluster> {
  const children: ChildProcess[] = [];
  const bundleDir = await mkdtemp(join(tmpdir(), 'registry-bench-'));
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    await rm(bundleDir, { recursive: true, force: true });
  };
  try {
    const bundled = async (name: string) => {
      const outfile = join(bundleDir, name.replace(/\.ts$/, '.mjs'));
      await bundleForNode(fileURLToPath(new URL(name, import.meta.url)), outfile, { minify: false });
      return outfile;
    };
    const [dbFile, instanceFile] = await Promise.all([bundled('./db-process.ts'), bundled('./api-instance.ts')]);
    let mongoUri = process.env.MONGODB_URI;
    const embedded = !mongoUri;
    let dbPid: number | undefined;
    if (!mongoUri) {
      mongoUri = (await startChild<DbReady>(dbFile, { ...process.env, ...options.env }, children)).uri;
      dbPid = children[0]!.pid;
    }
    const instanceEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...BENCH_INSTANCE_ENV,
      ...options.env,
      MONGODB_URI: mongoUri,
      MONGODB_DB: options.dbName,
      AUTH_JWT_SECRET: options.jwtSecret,
      DB_TRACE: '0',
    };
    const instances = await Promise.all(
      Array.from({ length: options.instances }, () => startChild<InstanceReady>(instanceFile, instanceEnv, children)),
    );
    return {
      mongoUri,
      embedded,
      apiUrls: instances.map((i) => i.apiUrl),
      baselineUrls: instances.map((i) => i.baselineUrl),
      instancePids: children.slice(embedded ? 1 : 0).map((child) => child.pid!),
      dbPid,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
