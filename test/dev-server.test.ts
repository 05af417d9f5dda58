// `npm run dev` is for development only: under NODE_ENV=production it stops at once with a one-line reason, before it
// could start an embedded database, seed demo data into MONGODB_URI or print a token signed with the real secret.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';

it('refuses NODE_ENV=production with one line on stderr and nothing started', async () => {
  const dataDir = join(await mkdtemp(join(tmpdir(), 'dev-prod-')), 'data');
  try {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/dev-server.ts'], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        EMBEDDED_DB_DIR: dataDir,
        AUTH_JWT_SECRET: 'a-production-secret-that-is-long-enough-0123456789',
        // Port 9 (discard) on loopback: were the server to get as far as seeding, it would fail loudly, not silently.
        MONGODB_URI: 'mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/NODE_ENV=production/);
    expect(existsSync(dataDir)).toBe(false);
  } finally {
    await rm(dirname(dataDir), { recursive: true, force: true });
  }
});
