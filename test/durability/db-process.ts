// Starts `npm run db` (scripts/db.ts) as a child process on a data directory, for tests that kill it.
import { spawn, type ChildProcess } from 'node:child_process';

export interface DbProcess {
  uri: string;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stderr: () => string;
}

/** Spawns the script; resolves once it prints its URI, rejects with its stderr if it exits first. */
export function startDbProcess(dataDir: string, extraArgs: string[] = []): Promise<DbProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/db.ts', '--data-dir', dataDir, ...extraArgs], {
    env: { ...process.env, DB_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => /^mongodb:\/\/127\.0\.0\.1:\d+/.test(l));
      if (line) resolve({ uri: line.trim(), child, exited, stderr: () => err });
    });
    void exited.then((code) => reject(Object.assign(new Error(`scripts/db.ts exited with ${code}: ${err}`), { code, stderr: err })));
  });
}

/** Runs the script expecting it to refuse to start; resolves with its exit code and stderr. */
export async function failedStart(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  try {
    const p = await startDbProcess(dataDir);
    p.child.kill('SIGKILL');
    throw new Error('the database started');
  } catch (err) {
    const e = err as { code?: number | null; stderr?: string };
    if (e.stderr === undefined) throw err;
    return { code: e.code ?? null, stderr: e.stderr };
  }
}
