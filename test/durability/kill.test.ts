// kill -9 of the embedded database while 16 writers run: every acknowledged write must be there after a restart.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { startDbProcess } from './db-process.js';

const WRITERS = 16;
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Acked {
  ids: string[];
  /** Acknowledged $inc per writer's counter document. */
  incs: number[];
}

/** One round: start, write with 16 writers, kill -9 after a random delay; returns what was acknowledged. */
async function writeAndKill(dataDir: string, round: number, acked: Acked, extraArgs: string[] = []): Promise<void> {
  const db = await startDbProcess(dataDir, extraArgs);
  const client = new MongoClient(db.uri, { maxPoolSize: WRITERS, serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
  await client.connect();
  const coll = client.db('durability').collection<{ _id: string; w?: number; n?: number }>('writes');
  let stop = false;
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      try {
        if (i % 2 === 0) {
          const _id = `r${round}-w${w}-${i}`;
          await coll.insertOne({ _id, w });
          acked.ids.push(_id);
        } else {
          await coll.updateOne({ _id: `counter-${w}` }, { $inc: { n: 1 } }, { upsert: true });
          acked.incs[w]++;
        }
      } catch {
        return; // the server is gone: this write was not acknowledged
      }
    }
  };
  const before = acked.ids.length;
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  // Let the writers get going (a loaded machine can be slow to), then kill at a random moment.
  for (let waited = 0; acked.ids.length - before < 20 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, Math.random() * 500));
  db.child.kill('SIGKILL');
  await db.exited;
  stop = true;
  await Promise.all(writers);
  await client.close(true);
}

/** Restarts on the directory and counts acknowledged writes that are missing. */
async function lostWrites(dataDir: string, acked: Acked, rounds: number): Promise<{ lostInserts: number; lostIncs: number; overIncs: number }> {
  const db = await startDbProcess(dataDir);
  const client = new MongoClient(db.uri);
  try {
    const coll = client.db('durability').collection<{ _id: string; n?: number }>('writes');
    const present = await coll.countDocuments({ _id: { $in: acked.ids } });
    let lostIncs = 0;
    let overIncs = 0;
    for (let w = 0; w < WRITERS; w++) {
      const n = (await coll.findOne({ _id: `counter-${w}` }))?.n ?? 0;
      lostIncs += Math.max(0, acked.incs[w] - n);
      // At most one unacknowledged $inc per writer and round can have been applied before the kill.
      overIncs += Math.max(0, n - acked.incs[w] - rounds);
    }
    return { lostInserts: acked.ids.length - present, lostIncs, overIncs };
  } finally {
    await client.close();
    db.child.kill('SIGTERM');
    await db.exited;
  }
}

describe('kill -9 durability (scripts/db.ts with --data-dir)', () => {
  it('loses no acknowledged write over 5 rounds of 16 writers killed at random moments', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'embedded-db-kill-'));
    dirs.push(dataDir);
    const acked: Acked = { ids: [], incs: new Array<number>(WRITERS).fill(0) };
    const ROUNDS = 5;
    for (let round = 0; round < ROUNDS; round++) await writeAndKill(dataDir, round, acked);
    const result = await lostWrites(dataDir, acked, ROUNDS);
    expect(acked.ids.length).toBeGreaterThanOrEqual(100);
    expect(result).toEqual({ lostInserts: 0, lostIncs: 0, overIncs: 0 });
  }, 60_000);

  it('naive variant: without the journal the same kill loses acknowledged writes (so the test above can fail)', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'embedded-db-kill-naive-'));
    dirs.push(dataDir);
    const acked: Acked = { ids: [], incs: new Array<number>(WRITERS).fill(0) };
    await writeAndKill(dataDir, 0, acked, ['--no-journal']);
    const result = await lostWrites(dataDir, acked, 1);
    expect(acked.ids.length).toBeGreaterThan(0);
    expect(result.lostInserts).toBe(acked.ids.length);
  }, 30_000);

  it('SIGHUP (a closed terminal) stops cleanly with the data kept', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'embedded-db-hup-'));
    dirs.push(dataDir);
    const db = await startDbProcess(dataDir);
    const client = new MongoClient(db.uri);
    await client.db('durability').collection('hup').insertOne({ _id: 'kept' as never });
    await client.close();
    db.child.kill('SIGHUP');
    expect(await db.exited).toBe(0);
    const again = await startDbProcess(dataDir);
    const c2 = new MongoClient(again.uri);
    expect(await c2.db('durability').collection('hup').countDocuments()).toBe(1);
    await c2.close();
    again.child.kill('SIGTERM');
    await again.exited;
  }, 30_000);
});
