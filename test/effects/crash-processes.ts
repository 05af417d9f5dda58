// The crash harness's processes: the embedded database as `npm run db` runs it (scripts/db.ts, its own process), and
// API or naive-server processes started from an esbuild bundle (quick to restart), each of which can be killed with
// SIGKILL at any moment and replaced. Only processes started here are ever signalled, by their own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Db } from 'mongodb';
import { bundleForNode } from '../../bench/bundle.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STARTUP_TIMEOUT_MS = 30_000;

/** A child that prints one line matching `ready` on stdout when it can serve; keeps its last output for diagnostics. */
function startChild(command: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  // stdin is a pipe the child watches: it ends when this process does, however that happens.
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const remember = (chunk: Buffer) => {
    tail.push(chunk.toString('utf8'));
    if (tail.length > 20) tail.shift();
  };
  child.stderr!.on('data', remember);
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not start within ${STARTUP_TIMEOUT_MS} ms: ${tail.join('')}`));
    }, STARTUP_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      remember(chunk);
      stdout += chunk.toString('utf8');
      const match = ready.exec(stdout);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        // Keep draining, so a chatty child never blocks on a full pipe.
        child.stdout!.on('data', remember);
        child.off('exit', onExit);
        resolve({ child, match });
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code ?? signal}) before it was ready: ${tail.join('')}`));
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the child is gone. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

export interface DbProcess {
  uri: string;
  pid: number;
  stop(): Promise<void>;
}

/** scripts/db.ts (what `npm run db` runs) on a free port, in memory: the one database every API process shares. */
export async function startDbProcess(): Promise<DbProcess> {
  const { child, match } = await startChild(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./crash-db-process.ts', import.meta.url))],
    { ...process.env, DB_PORT: '0', EMBEDDED_DB_DIR: '' },
    /^(mongodb:\/\/\S+)$/m,
  );
  return { uri: match[1]!, pid: child.pid!, stop: () => stopChild(child) };
}

export type ServerKind = 'api' | 'naive';

const ENTRIES: Record<ServerKind, string> = {
  api: fileURLToPath(new URL('./crash-api-process.ts', import.meta.url)),
  naive: fileURLToPath(new URL('./naive-api.ts', import.meta.url)),
};

/**
 * A set of server processes of one kind behind no balancer: the client picks one of `urls()` per attempt. kill9()
 * SIGKILLs one live process at random (mid-request: it gets no chance to finish anything) and starts its replacement
 * in the background, so the next kill can come before the replacement is up, as crashes do.
 */
export interface ServerFleet {
  urls(): string[];
  kill9(): Promise<{ pid: number }>;
  /** Waits for every replacement started so far; resolves with how long each took to be ready. */
  settle(): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startFleet(kind: ServerKind, count: number, env: NodeJS.ProcessEnv): Promise<ServerFleet> {
  const dir = await mkdtemp(join(tmpdir(), 'crash-proof-'));
  const bundle = join(dir, `${kind}.mjs`);
  await bundleForNode(ENTRIES[kind], bundle, { minify: false });
  const live: { child: ChildProcess; url: string }[] = [];
  const all: ChildProcess[] = [];
  const restarts: Promise<number>[] = [];
  const startOne = async () => {
    const { child, match } = await startChild(process.execPath, [bundle], env, /^listening (\d+)$/m);
    all.push(child);
    live.push({ child, url: `http://127.0.0.1:${match[1]}/api/graphql` });
  };
  try {
    await Promise.all(Array.from({ length: count }, startOne));
  } catch (error) {
    await Promise.all(all.map(stopChild));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    urls: () => live.map((s) => s.url),
    async kill9() {
      while (live.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const victim = live.splice(Math.floor(Math.random() * live.length), 1)[0]!;
      const gone = exited(victim.child);
      victim.child.kill('SIGKILL');
      await gone;
      const started = Date.now();
      restarts.push(startOne().then(() => Date.now() - started));
      return { pid: victim.child.pid! };
    },
    settle: () => Promise.all(restarts),
    async stop() {
      await Promise.allSettled(restarts);
      await Promise.all(all.map(stopChild));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The whole crash rig: the database process, the fault proxy in front of it, a direct client for seeding and
 * recounting, and a fleet whose processes reach the database only through the proxy. `prepare` runs before the
 * fleet starts. close() stops everything, in reverse order; stopping the fleet earlier is harmless.
 */
export interface CrashRig {
  dbProcess: DbProcess;
  proxy: FaultProxy;
  db: Db;
  dbName: string;
  fleet: ServerFleet;
  close(): Promise<void>;
}

export async function startCrashRig(options: {
  kind: ServerKind;
  instances: number;
  dbName: string;
  jwtSecret: string;
  driverOptions: Record<string, string | number | boolean>;
  prepare?: (db: Db, proxy: FaultProxy) => Promise<void>;
}): Promise<CrashRig> {
  const dbProcess = await startDbProcess();
  const cleanups: (() => Promise<unknown>)[] = [() => dbProcess.stop()];
  const close = async () => {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  };
  try {
    const proxy = await startFaultProxy({ target: dbProcess.uri });
    cleanups.unshift(() => proxy.close());
    const mongo = new MongoClient(dbProcess.uri);
    cleanups.unshift(() => mongo.close());
    const db = mongo.db(options.dbName);
    await options.prepare?.(db, proxy);
    const fleet = await startFleet(options.kind, options.instances, {
      ...process.env,
      MONGODB_URI: proxy.uri(options.driverOptions),
      MONGODB_DB: options.dbName,
      AUTH_JWT_SECRET: options.jwtSecret,
      RATE_LIMITS: 'off',
      LOG_LEVEL: 'fatal',
      DB_TRACE: '0',
      // A key whose holder was killed is retried after its lease ends: short, so the run is not mostly waiting.
      IDEMPOTENCY_LEASE_SECONDS: '2',
    });
    cleanups.unshift(() => fleet.stop());
    return { dbProcess, proxy, db, dbName: options.dbName, fleet, close };
  } catch (error) {
    await close();
    throw error;
  }
}
