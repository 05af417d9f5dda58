// Transfers at every point a function can stop: sponsorPackage is cut after each of its writes (the database is real,
// only the caller stops), then finished by repair, by the keyed retry, or by both at once; a transfer whose credit
// cannot land is reversed and its source refunded exactly once, wherever that reversal is cut. Each case ends with
// verify's recount (balances, conservation): 0 differences, nothing pending. Beside them, the naive two-write
// transfer cut after its debit loses the amount for good.
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditPurchase, sponsorPackage, walletDebit } from '../../src/credits/credits.ops.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { completeEffect, effectRecord } from '../../src/effects/effect.ops.js';
import { repairRegistry } from '../../src/effects/repair.js';
import { insertPackage } from '../../src/packages/package.ops.js';
import { verifyRegistry } from '../../src/stats/verify.ops.js';
import { naiveSponsor } from '../concurrency/naive-credits-ops.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';
import { Stopped, stoppingAfter } from '../helpers/stopping-db.js';

let client: MongoClient;
let db: Db;
let seq = 0;

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  db = client.db(uniqueDbName('transfer-steps'));
  await ensureIndexes(db);
});
afterAll(() => client.close());

/** A funded wallet and a package of its own, so each case's accounts are its own. */
async function accounts(balance = 100): Promise<{ userId: string; packageName: string }> {
  const n = ++seq;
  const userId = `user-${n}`;
  const packageName = `pkg-${n}`;
  await insertPackage(db, { name: packageName, displayName: packageName, summary: 's', maintainerId: 'maintainer' });
  await creditPurchase(db, { id: `evt_${n}`, userId, amount: balance, created: new Date() });
  return { userId, packageName };
}

async function balances(userId: string, packageName: string): Promise<[number, number]> {
  const user = await db.collection('users').findOne({ _id: userId as never });
  const pkg = await db.collection('packages').findOne({ _id: packageName as never });
  return [user!.credits as number, (pkg!.sponsorBalance as number | undefined) ?? 0];
}

async function expectExact(userId: string, packageName: string, wallet: number, sponsored: number): Promise<void> {
  expect(await balances(userId, packageName)).toEqual([wallet, sponsored]);
  expect(await db.collection('transfers').countDocuments({ userId, 'effects.0': { $exists: true } })).toBe(0);
  const { differences } = await verifyRegistry(db);
  expect(differences).toEqual([]);
}

// sponsorPackage writes: 1 insert the transfer, 2 apply the debit, 3 acknowledge, 4 clean its mark, 5 apply the
// credit, 6 acknowledge, 7 clean its mark, 8 end (COMPLETED).
const SPONSOR_WRITES = 8;

describe('sponsorPackage stopped after each write', () => {
  for (let stopAfter = 1; stopAfter < SPONSOR_WRITES; stopAfter++) {
    it(`after write ${stopAfter}: repair completes it; the keyed retry completes it; 6 retries and 2 repairs at once move it once`, async () => {
      const a = await accounts();
      await expect(sponsorPackage(stoppingAfter(db, stopAfter), { ...a, amount: 30 })).rejects.toThrow(Stopped);
      await repairRegistry(db, 0);
      await expectExact(a.userId, a.packageName, 70, 30);
      expect(await db.collection('transfers').findOne({ userId: a.userId })).toMatchObject({ status: 'COMPLETED' });

      const key = `key-${seq}`;
      await expect(sponsorPackage(stoppingAfter(db, stopAfter), { ...a, amount: 20 }, key)).rejects.toThrow(Stopped);
      const retried = await sponsorPackage(db, { ...a, amount: 20 }, key);
      expect(retried).toMatchObject({ ok: true, value: { balance: 50, transfer: { _id: key, status: 'COMPLETED' } } });
      await expectExact(a.userId, a.packageName, 50, 50);

      const raced = `raced-${seq}`;
      await expect(sponsorPackage(stoppingAfter(db, stopAfter), { ...a, amount: 10 }, raced)).rejects.toThrow(Stopped);
      const results = await Promise.all([
        ...Array.from({ length: 6 }, () => sponsorPackage(db, { ...a, amount: 10 }, raced)),
        ...Array.from({ length: 2 }, () => repairRegistry(db, 0)),
      ]);
      expect(results.slice(0, 6).every((r) => 'ok' in r && r.ok)).toBe(true);
      await expectExact(a.userId, a.packageName, 40, 60);
      expect(await db.collection('transfers').countDocuments({ userId: a.userId })).toBe(3);
    });
  }

  it('naive: a two-write transfer stopped after its debit loses the amount for good (the test can fail)', async () => {
    const n = ++seq;
    const userId = `naive-user-${n}`;
    await insertPackage(db, { name: `naive-pkg-${n}`, displayName: 'n', summary: 's', maintainerId: 'maintainer' });
    await creditPurchase(db, { id: `evt_naive_${n}`, userId, amount: 100, created: new Date() });
    await expect(naiveSponsor(stoppingAfter(db, 1), userId, `naive-pkg-${n}`, 30)).rejects.toThrow(Stopped);
    await repairRegistry(db, 0);
    expect(await balances(userId, `naive-pkg-${n}`)).toEqual([70, 0]);
    const { differences } = await verifyRegistry(db);
    expect(differences.find((d) => d.where === `wallet ${userId}`)).toMatchObject({ kept: 70, recounted: 100, inFlight: 0 });
    const lost = differences.find((d) => d.figure === 'credits held + paid out vs credited')!;
    expect(lost.recounted - lost.kept).toBe(30);
    // Put the lost amount back, so the later cases' conservation check is about them alone.
    await db.collection('users').updateOne({ _id: userId as never }, { $inc: { credits: 30 } });
  });
});

describe('a transfer whose credit cannot land', () => {
  /** What sponsorPackage would record for a package that does not exist (it refuses those before writing). */
  async function transferToNowhere(userId: string, id: string) {
    const record = effectRecord({
      id,
      kind: 'SPONSORSHIP',
      steps: [walletDebit(userId, 30), { name: 'credit', collection: 'packages', target: `ghost-${id}`, inc: { sponsorBalance: 30 } }],
      abort: { delete: true },
      doneSet: { status: 'COMPLETED' },
      reverseSet: { status: 'REVERSED' },
    });
    await db.collection('transfers').insertOne({ _id: id as never, kind: 'SPONSORSHIP', userId, packageName: `ghost-${id}`, amount: 30, status: 'PENDING', createdAt: new Date(), effects: [record] });
    return { collection: 'transfers', id, effectId: id };
  }

  it('is reversed: the source refunded once, the transfer REVERSED', async () => {
    const a = await accounts();
    const ref = await transferToNowhere(a.userId, `nowhere-${seq}`);
    expect(await completeEffect(db, ref)).toBe('reversed');
    expect(await db.collection('transfers').findOne({ _id: ref.id as never })).toMatchObject({ status: 'REVERSED' });
    await expectExact(a.userId, a.packageName, 100, 0);
  });

  // 1 apply the debit, 2 acknowledge, 3 clean, 4 the credit's refused apply, 5 turn into the reversal, 6 apply the
  // refund, 7 acknowledge, 8 clean, 9 end (REVERSED).
  for (let stopAfter = 1; stopAfter < 9; stopAfter++) {
    it(`stopped after write ${stopAfter}: repair (twice at once, next to a late party) refunds it exactly once`, async () => {
      const a = await accounts();
      const ref = await transferToNowhere(a.userId, `nowhere-${seq}`);
      await expect(completeEffect(stoppingAfter(db, stopAfter), ref)).rejects.toThrow(Stopped);
      await Promise.all([repairRegistry(db, 0), repairRegistry(db, 0), completeEffect(db, ref)]);
      expect(await db.collection('transfers').findOne({ _id: ref.id as never })).toMatchObject({ status: 'REVERSED' });
      await expectExact(a.userId, a.packageName, 100, 0);
    });
  }
});
