// Damaged data files: a torn journal tail is dropped, while a corrupt journal record or snapshot refuses to start and stays untouched.
import { readdir, readFile, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { readFrames } from '../../src/embedded-db/frames.js';
import { JOURNAL_MAGIC } from '../../src/embedded-db/journal.js';
import { startEmbeddedDb } from '../../src/embedded-db/server.js';
import { failedStart, startDbProcess } from './db-process.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'embedded-db-corrupt-'));
  dirs.push(d);
  return d;
}

/** Leaves a data directory whose journal holds `n` single-document inserts (the process is killed, so no checkpoint). */
async function crashedWithJournal(n: number): Promise<{ dir: string; journal: string }> {
  const dir = await tempDir();
  const db = await startDbProcess(dir);
  const client = new MongoClient(db.uri);
  for (let i = 0; i < n; i++) await client.db('c').collection('docs').insertOne({ _id: i as never, text: `document ${i}` });
  db.child.kill('SIGKILL');
  await db.exited;
  await client.close(true);
  const name = (await readdir(dir)).find((f) => f.startsWith('embedded-db.journal.'))!;
  return { dir, journal: path.join(dir, name) };
}

async function countAfterRestart(dir: string): Promise<number> {
  const db = await startEmbeddedDb({ dataDir: dir });
  const client = new MongoClient(db.uri);
  try {
    return await client.db('c').collection('docs').countDocuments();
  } finally {
    await client.close();
    await db.stop();
  }
}

describe('journal recovery', () => {
  it('replays every record after kill -9, and drops a torn last record', async () => {
    const { dir, journal } = await crashedWithJournal(10);
    const frames = readFrames(await readFile(journal), journal, JOURNAL_MAGIC, false).frames;
    // Cut the last record in half, as a crash during its write would.
    await truncate(journal, frames.at(-1)!.offset + 12);
    expect(await countAfterRestart(dir)).toBe(9);
    // Recovery folded the journal into a snapshot; a second start sees the same data.
    expect(await countAfterRestart(dir)).toBe(9);
  }, 30_000);

  it('refuses to start on a corrupt record in the middle, naming the file and offset, and leaves it intact', async () => {
    const { dir, journal } = await crashedWithJournal(10);
    const original = await readFile(journal);
    const frames = readFrames(original, journal, JOURNAL_MAGIC, false).frames;
    const victim = frames[5];
    const damaged = Buffer.from(original);
    damaged[victim.offset + 20] ^= 0xff;
    await writeFile(journal, damaged);
    const { code, stderr } = await failedStart(dir);
    expect(code).toBe(1);
    expect(stderr).toContain(`${journal} is corrupt at offset ${victim.offset}: record fails its checksum`);
    expect((await readFile(journal)).equals(damaged)).toBe(true);
    expect((await readdir(dir)).filter((f) => f.includes('snapshot'))).toEqual([]);
  }, 30_000);
});

describe('snapshot checks', () => {
  async function cleanlyStopped(): Promise<{ dir: string; file: string }> {
    const dir = await tempDir();
    const db = await startEmbeddedDb({ dataDir: dir });
    const client = new MongoClient(db.uri);
    await client.db('c').collection('docs').insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i as never, text: `document ${i}` })));
    await client.db('c').collection('other').insertOne({ x: 1 });
    await client.close();
    await db.stop();
    return { dir, file: path.join(dir, 'embedded-db.snapshot.bson') };
  }

  it('a clean stop leaves only the snapshot, which loads back', async () => {
    const { dir } = await cleanlyStopped();
    expect((await readdir(dir)).sort()).toEqual(['embedded-db.snapshot.bson']);
    expect(await countAfterRestart(dir)).toBe(50);
  });

  it('a flipped byte fails with the file and offset, and the file is not overwritten', async () => {
    const { dir, file } = await cleanlyStopped();
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await writeFile(file, bytes);
    await expect(startEmbeddedDb({ dataDir: dir })).rejects.toThrow(/embedded-db\.snapshot\.bson is corrupt at offset \d+: record fails its checksum/);
    expect((await readFile(file)).equals(bytes)).toBe(true);
  });

  it('a snapshot cut at a record boundary does not load as a smaller database', async () => {
    const { dir, file } = await cleanlyStopped();
    const bytes = await readFile(file);
    const frames = readFrames(bytes, file, bytes.subarray(0, 8), false).frames;
    const cut = bytes.subarray(0, frames[30].offset);
    await writeFile(file, cut);
    await expect(startEmbeddedDb({ dataDir: dir })).rejects.toThrow(/is corrupt at offset \d+: the end record is missing/);
    expect((await readFile(file)).equals(cut)).toBe(true);
  });

  it('an empty snapshot does not load as an empty database', async () => {
    const { dir, file } = await cleanlyStopped();
    await writeFile(file, '');
    await expect(startEmbeddedDb({ dataDir: dir })).rejects.toThrow(/is corrupt at offset 0: the file is empty/);
    expect((await readFile(file)).length).toBe(0);
  });
});
