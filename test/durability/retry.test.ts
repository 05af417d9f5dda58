// Retryable writes across kill -9: a write resent with its lsid + txnNumber after a restart gets its first reply and is applied once.
import { mkdtemp, readFile, readdir, rm, truncate } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BSON, Long, MongoClient, UUID, type Document } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { readFrames } from '../../src/embedded-db/frames.js';
import { JOURNAL_MAGIC, journalGeneration } from '../../src/embedded-db/journal.js';
import { encodeOpMsg } from '../../src/embedded-db/wire.js';
import { startDbProcess, type DbProcess } from './db-process.js';

const dirs: string[] = [];
/** Every database process started, so a failing assertion does not leave one running. */
const started: DbProcess[] = [];
afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(started.map((p) => p.exited));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function start(dir: string): Promise<DbProcess> {
  const p = await startDbProcess(dir);
  started.push(p);
  return p;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'embedded-db-retry-'));
  dirs.push(dir);
  return dir;
}

/**
 * One command over a raw OP_MSG connection: the driver always attaches its own session id, and a retry after a
 * restart must resend the very same lsid + txnNumber, as the driver does when a connection drops mid-write.
 */
async function raw(db: DbProcess, body: Document): Promise<Document> {
  const port = Number(/:(\d+)\//.exec(db.uri)![1]);
  const socket = net.connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(encodeOpMsg(0, body));
    let buf = Buffer.alloc(0);
    for await (const chunk of socket) {
      buf = Buffer.concat([buf, chunk as Buffer]);
      if (buf.length >= 4 && buf.length >= buf.readInt32LE(0)) break;
    }
    return BSON.deserialize(buf.subarray(21, buf.readInt32LE(0)));
  } finally {
    socket.destroy();
  }
}

async function kill9(db: DbProcess): Promise<void> {
  db.child.kill('SIGKILL');
  await db.exited;
}

async function stop(db: DbProcess): Promise<void> {
  db.child.kill('SIGTERM');
  expect(await db.exited).toBe(0);
}

async function counter(db: DbProcess): Promise<Document[]> {
  const client = new MongoClient(db.uri);
  try {
    return await client.db('retry').collection('c').find().toArray();
  } finally {
    await client.close();
  }
}

describe('retryable writes survive a crash (scripts/db.ts with --data-dir)', () => {
  it('insert, update and findAndModify resent after kill -9 (and after a clean restart) answer their first reply and apply once', async () => {
    const dir = await tempDir();
    const lsid = { id: new UUID() };
    const cmds: Document[] = [
      { insert: 'c', documents: [{ _id: 'k', n: 0 }], lsid, txnNumber: Long.fromNumber(1), $db: 'retry' },
      { update: 'c', updates: [{ q: { _id: 'k' }, u: { $inc: { n: 1 } } }], lsid, txnNumber: Long.fromNumber(2), $db: 'retry' },
      { findAndModify: 'c', query: { _id: 'k' }, update: { $inc: { n: 10 } }, new: true, lsid, txnNumber: Long.fromNumber(3), $db: 'retry' },
    ];
    let db = await start(dir);
    const first: Document[] = [];
    for (const cmd of cmds) first.push(await raw(db, cmd));
    expect(first.map((r) => r.ok)).toEqual([1, 1, 1]);
    expect(first[1].nModified).toBe(1);
    expect(first[2].value).toEqual({ _id: 'k', n: 11 });
    await kill9(db);

    db = await start(dir);
    for (let i = 0; i < cmds.length; i++) expect(await raw(db, cmds[i])).toEqual(first[i]);
    expect(await counter(db)).toEqual([{ _id: 'k', n: 11 }]);
    // A clean stop folds everything into the snapshot: the replies must be in it too.
    await stop(db);

    db = await start(dir);
    for (let i = 0; i < cmds.length; i++) expect(await raw(db, cmds[i])).toEqual(first[i]);
    expect(await counter(db)).toEqual([{ _id: 'k', n: 11 }]);
    // A new txnNumber is a new write.
    const next = await raw(db, { ...cmds[1], txnNumber: Long.fromNumber(4) });
    expect(next.nModified).toBe(1);
    expect(await counter(db)).toEqual([{ _id: 'k', n: 12 }]);
    await stop(db);
  }, 60_000);

  it('a write whose reply record did not reach the disk is rolled back on recovery, so its retry applies it once', async () => {
    const dir = await tempDir();
    const lsid = { id: new UUID() };
    let db = await start(dir);
    const client = new MongoClient(db.uri);
    await client.db('retry').collection('c').insertOne({ _id: 'k' as never, n: 0 });
    await client.close();
    const cmd = { update: 'c', updates: [{ q: { _id: 'k' }, u: { $inc: { n: 1 } } }], lsid, txnNumber: Long.fromNumber(7), $db: 'retry' };
    expect((await raw(db, cmd)).nModified).toBe(1);
    await kill9(db);

    // Cut the journal just before the update's reply record, as a crash in the middle of that append would.
    const journals = (await readdir(dir)).filter((f) => journalGeneration(f) !== undefined).sort();
    const file = path.join(dir, journals.at(-1)!);
    const { frames } = readFrames(await readFile(file), file, JOURNAL_MAGIC, false);
    const last = frames.at(-1)!;
    expect(last.docs[0]).toMatchObject({ op: 'rt' });
    expect(frames.at(-2)!.docs[0]).toMatchObject({ op: 'u', r: 1 });
    await truncate(file, last.offset);

    db = await start(dir);
    expect(await counter(db)).toEqual([{ _id: 'k', n: 0 }]);
    const retried = await raw(db, cmd);
    expect(retried).toMatchObject({ ok: 1, n: 1, nModified: 1 });
    expect(await raw(db, cmd)).toEqual(retried);
    expect(await counter(db)).toEqual([{ _id: 'k', n: 1 }]);
    await stop(db);
  }, 60_000);
});
