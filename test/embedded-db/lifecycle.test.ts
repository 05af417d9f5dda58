// Embedded-only: TTL expiry, snapshot persistence across restarts and the `npm run db` script, each on private instances.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedDb } from '../../src/embedded-db/server.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'embedded-db-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('TTL indexes', () => {
  it('the monitor removes documents whose date + expireAfterSeconds has passed', async () => {
    const db = await startEmbeddedDb({ ttlMonitorIntervalMs: 50 });
    const client = new MongoClient(db.uri);
    try {
      const c = client.db('ttl').collection('sessions');
      await c.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
      await c.createIndex({ createdAt: 1 }, { expireAfterSeconds: 3600 });
      const now = Date.now();
      await c.insertMany([
        { _id: 'expired' as never, expiresAt: new Date(now - 1000) },
        { _id: 'soon' as never, expiresAt: new Date(now + 400) },
        { _id: 'future' as never, expiresAt: new Date(now + 60_000) },
        { _id: 'old' as never, createdAt: new Date(now - 7200_000) },
        { _id: 'fresh' as never, createdAt: new Date(now) },
        { _id: 'notADate' as never, expiresAt: 'yesterday' },
      ]);
      const remaining = async () => (await c.find({}).sort({ _id: 1 }).toArray()).map((d) => d._id as unknown as string);
      expect(await waitFor(async () => (await remaining()).join() === 'fresh,future,notADate', 3000)).toBe(true);
    } finally {
      await client.close();
      await db.stop();
    }
  });
});

describe('persistence', () => {
  it('writes a snapshot on stop and loads it on start, indexes included', async () => {
    const dataDir = await tempDir();
    const id = new ObjectId();
    const first = await startEmbeddedDb({ dataDir });
    const c1 = new MongoClient(first.uri);
    await c1.db('persist').collection('users').createIndex({ email: 1 }, { unique: true, name: 'email_unique' });
    await c1.db('persist').collection('users').insertMany([{ _id: id, email: 'a@x', at: new Date(1000) }, { email: 'b@x' }]);
    await c1.db('other').collection('things').insertOne({ n: 1 });
    // Stop with the client still connected: shutdown must not wait for clients.
    await first.stop();
    await c1.close();
    expect(existsSync(path.join(dataDir, 'embedded-db.snapshot.bson'))).toBe(true);

    const second = await startEmbeddedDb({ dataDir });
    const c2 = new MongoClient(second.uri);
    try {
      const users = c2.db('persist').collection('users');
      expect(await users.findOne({ _id: id })).toEqual({ _id: id, email: 'a@x', at: new Date(1000) });
      expect(await users.countDocuments()).toBe(2);
      expect((await users.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_', 'email_unique']);
      let code: number | undefined;
      try {
        await users.insertOne({ email: 'b@x' });
      } catch (err) {
        code = Number((err as MongoServerError).code);
      }
      expect(code).toBe(11000);
      expect(await c2.db('other').collection('things').countDocuments()).toBe(1);
    } finally {
      await c2.close();
      await second.stop();
    }
  });

  it('without a dataDir nothing survives a restart', async () => {
    const first = await startEmbeddedDb();
    const c1 = new MongoClient(first.uri);
    await c1.db('mem').collection('x').insertOne({ a: 1 });
    await c1.close();
    await first.stop();
    const second = await startEmbeddedDb();
    const c2 = new MongoClient(second.uri);
    expect(await c2.db('mem').collection('x').countDocuments()).toBe(0);
    await c2.close();
    await second.stop();
  });
});

describe('npm run db (scripts/db.ts)', () => {
  function runScript(dataDir: string): Promise<{ uri: string; stop: () => Promise<number | null> }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/db.ts', '--data-dir', dataDir], {
      env: { ...process.env, DB_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => /^mongodb:\/\/127\.0\.0\.1:\d+/.test(l));
        if (line) {
          resolve({
            uri: line.trim(),
            stop: async () => {
              child.kill('SIGTERM');
              return exited;
            },
          });
        }
      });
      void exited.then((code) => reject(new Error(`scripts/db.ts exited early with ${code}`)));
    });
  }

  it('prints its URI, serves, and persists on SIGTERM', async () => {
    const dataDir = await tempDir();
    const first = await runScript(dataDir);
    const c1 = new MongoClient(first.uri);
    await c1.db('script').collection('x').insertOne({ _id: 'kept' as never });
    await c1.close();
    expect(await first.stop()).toBe(0);
    const second = await runScript(dataDir);
    const c2 = new MongoClient(second.uri);
    expect(await c2.db('script').collection('x').findOne({})).toEqual({ _id: 'kept' });
    await c2.close();
    expect(await second.stop()).toBe(0);
  }, 30_000);
});
