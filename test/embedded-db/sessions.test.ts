// Sessions and retryable writes: the driver attaches lsid + txnNumber, and a retried write is applied once.
import { Long, type CommandStartedEvent } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { useTestDb, usingEmbeddedDb } from '../helpers/db.js';

const { client, db } = useTestDb('sessions', { monitorCommands: true });
const started: CommandStartedEvent[] = [];

client.on('commandStarted', (e) => started.push(e));

describe('sessions and retryable writes', () => {
  it('the driver sends lsid and txnNumber on retryable writes', async () => {
    started.length = 0;
    await db.collection('w').insertOne({ a: 1 });
    await db.collection('w').updateOne({ a: 1 }, { $set: { b: 2 } });
    await db.collection('w').findOneAndUpdate({ a: 1 }, { $set: { c: 3 } });
    const writes = started.filter((e) => ['insert', 'update', 'findAndModify'].includes(e.commandName));
    expect(writes).toHaveLength(3);
    for (const w of writes) {
      expect(w.command.lsid).toBeDefined();
      expect(w.command.txnNumber).toBeDefined();
    }
  });

  it('a write resent with the same lsid + txnNumber is applied once and answered the same', async () => {
    const session = client.startSession();
    try {
      const cmd = { insert: 'dedupe', documents: [{ _id: 'once', v: 1 }], txnNumber: Long.fromNumber(41) };
      const first = await db.command(cmd, { session });
      const second = await db.command(cmd, { session });
      expect(first.n).toBe(1);
      expect(second.n).toBe(1);
      expect(second.writeErrors).toBeUndefined();
      expect(await db.collection('dedupe').countDocuments()).toBe(1);
      const update = { update: 'dedupe', updates: [{ q: { _id: 'once' }, u: { $inc: { v: 1 } } }], txnNumber: Long.fromNumber(42) };
      await db.command(update, { session });
      const again = await db.command(update, { session });
      expect(again.nModified).toBe(1);
      expect((await db.collection('dedupe').findOne({ _id: 'once' as never }))?.v).toBe(2);
    } finally {
      await session.endSession();
    }
  });

  it.skipIf(!usingEmbeddedDb())('refuses transactions and applies nothing of them', async () => {
    const session = client.startSession();
    const c = db.collection('tx');
    try {
      let error: unknown;
      try {
        await session.withTransaction(async () => {
          await c.insertOne({ inTx: true }, { session });
          await c.insertOne({ inTx: 2 }, { session });
        });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(Error);
      expect((error as { code?: number }).code).toBe(263);
      expect((error as Error).message).toMatch(/real MongoDB replica set/);
      expect(await c.countDocuments()).toBe(0);
    } finally {
      await session.endSession();
    }
  });
});
