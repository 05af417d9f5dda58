// Operator commands: validate, currentOp / $currentOp, killOp and $listLocalSessions answer as mongod does.
import { describe, expect, it } from 'vitest';
import { serverError, useTestDb } from '../helpers/db.js';

const { client, db } = useTestDb('diagnostics');

describe('operator commands', () => {
  it('validate checks a collection and its indexes (multikey keys counted)', async () => {
    const c = db.collection('v');
    await c.insertMany([{ k: 1 }, { k: 2 }, { k: [3, 4] }]);
    await c.createIndex({ k: 1 });
    await c.deleteOne({ k: 2 });
    const r = await db.command({ validate: 'v' });
    expect(r).toMatchObject({ valid: true, nrecords: 2, nIndexes: 2, keysPerIndex: { _id_: 2, k_1: 3 }, errors: [], ok: 1 });
    expect(r.ns).toBe(`${db.databaseName}.v`);
    expect((await serverError(db.command({ validate: 'missing' }))).code).toBe(26);
  });

  it('currentOp and $currentOp list the operation in progress; killOp answers', async () => {
    const admin = client.db('admin');
    const r = await admin.command({ currentOp: 1 });
    expect(r.ok).toBe(1);
    expect(Array.isArray(r.inprog)).toBe(true);
    const ops = await admin.aggregate([{ $currentOp: {} }, { $match: { active: true } }]).toArray();
    expect(ops.length).toBeGreaterThanOrEqual(1);
    expect(ops.every((o) => typeof o.opid !== 'undefined' && o.active === true)).toBe(true);
    expect(await admin.command({ killOp: 1, op: 987654 })).toMatchObject({ info: 'attempting to kill op', ok: 1 });
  });

  it('$listLocalSessions shows a session once a command used it', async () => {
    const session = client.startSession();
    try {
      await db.collection('v').findOne({}, { session });
      const sessions = await client.db('admin').aggregate([{ $listLocalSessions: { allUsers: true } }]).toArray();
      const mine = sessions.find((s) => Buffer.from(s._id.id.buffer).equals(Buffer.from(session.id!.id.buffer)));
      expect(mine).toBeDefined();
      expect(mine!.lastUse).toBeInstanceOf(Date);
    } finally {
      await session.endSession();
    }
  });
});
