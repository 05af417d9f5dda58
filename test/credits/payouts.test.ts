// Payouts through a fake provider that loses 20% of its replies after paying, with sender processes killed by
// SIGKILL mid-run and restarted, then repair: every payout paid exactly once at the provider (its dedupe by payout id
// is what makes every resend harmless), nothing PENDING, every wallet equal to its credits minus its SENT payouts, and
// a refused destination FAILED and refunded once. Beside it, a naive sender that retries without the idempotency key
// pays some payouts twice. PAYOUT_TEST_COUNT sets the size (200 in the suite; `npm run payouts-proof` runs the 1,000).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { creditPurchase } from '../../src/credits/credits.ops.js';
import { callPayoutProvider, requestPayout } from '../../src/credits/payout.ops.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { repairRegistry } from '../../src/effects/repair.js';
import { resetEnv } from '../../src/env.js';
import { verifyRegistry } from '../../src/stats/verify.ops.js';
import { startFakePayoutProvider, type FakeProvider } from '../../scripts/fake-payout-provider.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';

const COUNT = Number(process.env.PAYOUT_TEST_COUNT ?? 200);
const USERS = 50;
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let client: MongoClient;
let db: Db;
let dbName: string;
let provider: FakeProvider;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  dbName = uniqueDbName('payouts');
  db = client.db(dbName);
  await ensureIndexes(db);
  provider = await startFakePayoutProvider({ loseReplyRate: 0.2, refuse: (destination) => destination === 'refused-user' });
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await provider.close();
  await client.close();
});

/** A sender process (`npm run payouts:send -- --loop`) on this test's database; short backoff and lease for the test. */
function startSender(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/payouts-send.ts', '--loop', '--backoff-ms', '200', '--lease-ms', '1500'], {
    cwd: REPO_ROOT,
    env: { ...process.env, MONGODB_URI: getTestMongoUri(), MONGODB_DB: dbName, PAYOUT_PROVIDER_URL: provider.url, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const until = async (condition: () => boolean, timeoutMs: number) => {
  const end = Date.now() + timeoutMs;
  while (!condition() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50));
};

it(`${COUNT} payouts through a provider losing 20% of replies, senders killed with SIGKILL: each paid once, nothing pending`, async () => {
  for (let u = 0; u < USERS; u++) await creditPurchase(db, { id: `evt_payout_${u}`, userId: `payee-${u}`, amount: 100_000, created: new Date() });
  await creditPurchase(db, { id: 'evt_refused', userId: 'refused-user', amount: 100, created: new Date() });
  const requested = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < COUNT) {
        const i = next++;
        const userId = `payee-${i % USERS}`;
        const result = await requestPayout(db, { userId, amount: 1 + (i % 97) });
        expect(result.ok).toBe(true);
        requested.set(userId, (requested.get(userId) ?? 0) + 1 + (i % 97));
      }
    }),
  );
  expect((await requestPayout(db, { userId: 'refused-user', amount: 60 })).ok).toBe(true);
  expect(await requestPayout(db, { userId: 'refused-user', amount: 41 })).toMatchObject({ ok: false, error: { code: 'INSUFFICIENT_FUNDS', available: 40 } });

  // Two senders; each is killed with SIGKILL once the provider has seen some more requests, and replaced.
  const senders = [startSender(), startSender()];
  let kills = 0;
  for (const fraction of [0.15, 0.35, 0.55]) {
    await until(() => provider.stats.requests >= COUNT * fraction, 60_000);
    const victim = senders[kills % 2]!;
    victim.kill('SIGKILL');
    kills += 1;
    senders[(kills - 1) % 2] = startSender();
  }
  await until(() => provider.paid.size >= COUNT, 60_000);
  for (const sender of senders) sender.kill('SIGKILL');
  expect(kills).toBe(3);

  // Repair asks the provider about every payout still PENDING, whatever its lease or backoff, until none is left.
  process.env.PAYOUT_PROVIDER_URL = provider.url;
  resetEnv();
  for (let round = 0; round < 30 && (await db.collection('payouts').countDocuments({ status: 'PENDING' })) > 0; round++) await repairRegistry(db, 0);
  expect(await db.collection('payouts').countDocuments({ status: 'PENDING' })).toBe(0);

  expect(provider.stats.lostReplies).toBeGreaterThan(COUNT * 0.1);
  const sent = await db.collection('payouts').find({ status: 'SENT' }).toArray();
  expect(sent).toHaveLength(COUNT);
  // The provider paid exactly the SENT payouts, each once, for its amount and destination.
  const paidToUsers = [...provider.paid.values()].filter((t) => t.destination !== 'refused-user');
  expect(paidToUsers).toHaveLength(COUNT);
  expect(paidToUsers.every((t) => t.payments === 1)).toBe(true);
  const byId = new Map(sent.map((p) => [p._id as unknown as string, p]));
  for (const t of paidToUsers) expect(byId.get(t.reference)).toMatchObject({ amount: t.amount, userId: t.destination, providerTransferId: t.id });
  // Every wallet equals its credits minus its SENT payouts; the refused payout FAILED and was refunded once.
  for (const [userId, total] of requested) expect((await db.collection('users').findOne({ _id: userId as never }))!.credits).toBe(100_000 - total);
  expect(await db.collection('payouts').findOne({ userId: 'refused-user' })).toMatchObject({ status: 'FAILED' });
  expect((await db.collection('users').findOne({ _id: 'refused-user' as never }))!.credits).toBe(100);
  const verification = await verifyRegistry(db);
  expect(verification.differences).toEqual([]);
  expect(verification.pendingEffects).toBe(0);
}, 240_000);

it('naive: a sender that retries a lost reply without the idempotency key pays twice (the test can fail)', async () => {
  const before = provider.paid.size;
  for (let i = 0; i < 50; i++) {
    // Each attempt looks like a new transfer to the provider: a fresh key per attempt instead of the payout id.
    for (;;) {
      const answer = await callPayoutProvider(provider.url, { _id: `naive-${i}-${Math.random()}`, userId: 'naive-payee', amount: 5 });
      if (answer.outcome === 'paid') break;
    }
  }
  expect(provider.paid.size - before).toBeGreaterThan(50);
});
