// Credits under concurrency, over real HTTP: N sponsorships racing on one wallet give exactly min(N, floor(B/a))
// successes; a mixed load of sponsorships and withdrawals (pairs going opposite ways between the same accounts) never
// shows a negative balance to a reader polling throughout, and conserves credits at the end. Beside each, the naive
// read-check-then-write variant under the same race breaks the invariant, so the tests are known to bite.
import type { Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditPurchase } from '../../src/credits/credits.ops.js';
import { verifyRegistry } from '../../src/stats/verify.ops.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE } from '../helpers/documents.js';
import { SPONSOR, WITHDRAW } from '../credits/documents.js';
import { naiveSponsor, naiveWithdraw } from './naive-credits-ops.js';

let api: TestApi;
let seq = 0;

beforeAll(async () => {
  api = await startApi('credits-race');
});
afterAll(() => api.close());

async function fund(userId: string, amount: number): Promise<void> {
  await creditPurchase(api.db, { id: `evt_race_${++seq}`, userId, amount, created: new Date() });
}

async function newPackage(name: string, maintainer: string): Promise<void> {
  const res = await api.gql(CREATE_PACKAGE, { input: { name, summary: 's' } }, { token: await api.token(maintainer) });
  expect(res.data!.createPackage.__typename).toBe('CreatePackageSuccess');
}

/** Reads every balance of the accounts named `<prefix>-…` until stopped; returns the lowest seen and how many reads. */
function pollBalances(db: Db, prefix: string): { stop: () => Promise<{ lowest: number; reads: number }> } {
  const mine = { _id: { $regex: `^${prefix}-` } } as never;
  let running = true;
  let lowest = Infinity;
  let reads = 0;
  const loop = (async () => {
    while (running) {
      const [users, packages] = await Promise.all([
        db.collection('users').find(mine, { projection: { credits: 1 } }).toArray(),
        db.collection('packages').find(mine, { projection: { sponsorBalance: 1 } }).toArray(),
      ]);
      for (const u of users) lowest = Math.min(lowest, (u.credits as number | undefined) ?? 0);
      for (const p of packages) lowest = Math.min(lowest, (p.sponsorBalance as number | undefined) ?? 0);
      reads += 1;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { lowest, reads };
    },
  };
}

describe('N sponsorships racing on one wallet', () => {
  const B = 100;
  const a = 7;
  const N = 40;

  it(`from a balance of ${B}, ${N} sponsorships of ${a} give exactly min(N, floor(B/a)) successes`, async () => {
    await newPackage('race-target', 'race-maintainer');
    await fund('racer', B);
    const token = await api.token('racer');
    const results = await Promise.all(Array.from({ length: N }, () => api.gql(SPONSOR, { input: { packageName: 'race-target', amount: a } }, { token })));
    const kinds = results.map((r) => r.data!.sponsorPackage.__typename as string);
    const expected = Math.min(N, Math.floor(B / a));
    expect(kinds.filter((k) => k === 'SponsorPackageSuccess')).toHaveLength(expected);
    expect(kinds.filter((k) => k === 'InsufficientFundsError')).toHaveLength(N - expected);
    expect((await api.db.collection('users').findOne({ _id: 'racer' as never }))!.credits).toBe(B - expected * a);
    expect((await api.db.collection('packages').findOne({ _id: 'race-target' as never }))!.sponsorBalance).toBe(expected * a);
    expect((await verifyRegistry(api.db)).differences).toEqual([]);
  });

  it('naive read-check-then-write lets more through and drives the wallet negative (the test can fail)', async () => {
    await newPackage('naive-race-target', 'race-maintainer');
    await fund('naive-racer', B);
    const results = await Promise.all(Array.from({ length: N }, () => naiveSponsor(api.db, 'naive-racer', 'naive-race-target', a)));
    expect(results.filter(Boolean).length).toBeGreaterThan(Math.floor(B / a));
    expect((await api.db.collection('users').findOne({ _id: 'naive-racer' as never }))!.credits).toBeLessThan(0);
  });
});

describe('a mixed load of sponsorships and withdrawals', () => {
  const USERS = 8;
  const OPS = 200;

  /** Each user maintains one package; a random op sponsors a random package or withdraws from the user's own. */
  async function runLoad(prefix: string, op: (user: number, pkg: number, amount: number, withdraw: boolean) => Promise<unknown>) {
    for (let i = 0; i < USERS; i++) {
      await newPackage(`${prefix}-pkg-${i}`, `${prefix}-user-${i}`);
      await fund(`${prefix}-user-${i}`, 60);
    }
    const poller = pollBalances(api.db, prefix);
    let next = 0;
    const random = mulberry32(42);
    const plan = Array.from({ length: OPS }, () => {
      const user = Math.floor(random() * USERS);
      const withdraw = random() < 0.4;
      // Opposite ways between the same accounts: user i sponsors package i (its own) as often as it withdraws from it.
      const pkg = withdraw || random() < 0.5 ? user : Math.floor(random() * USERS);
      return { user, pkg, amount: 1 + Math.floor(random() * 25), withdraw };
    });
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < plan.length) {
          const { user, pkg, amount, withdraw } = plan[next++]!;
          await op(user, pkg, amount, withdraw);
        }
      }),
    );
    return poller.stop();
  }

  it('never shows a negative balance to any read during the load, and conserves credits at the end', async () => {
    const tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => api.token(`mix-user-${i}`)));
    const answers: Record<string, number> = {};
    const { lowest, reads } = await runLoad('mix', async (user, pkg, amount, withdraw) => {
      const res = await api.gql(withdraw ? WITHDRAW : SPONSOR, { input: { packageName: `mix-pkg-${pkg}`, amount } }, { token: tokens[user] });
      const kind = res.data![withdraw ? 'withdrawSponsorship' : 'sponsorPackage'].__typename as string;
      answers[kind] = (answers[kind] ?? 0) + 1;
    });
    expect(reads).toBeGreaterThan(10);
    expect(lowest).toBeGreaterThanOrEqual(0);
    // The load really moved value both ways and was really refused for lack of funds.
    expect(answers.SponsorPackageSuccess).toBeGreaterThan(30);
    expect(answers.WithdrawSponsorshipSuccess).toBeGreaterThan(10);
    expect(answers.InsufficientFundsError).toBeGreaterThan(10);
    const verification = await verifyRegistry(api.db);
    // The naive tests' accounts are other ones; none of this load's may differ.
    expect(verification.differences.filter((d) => !d.where.includes('naive'))).toEqual([]);
    expect(verification.pendingEffects).toBe(0);
  });

  it('naive read-check-then-write shows negative balances under the same load (the test can fail)', async () => {
    const { lowest } = await runLoad('naive-mix', (user, pkg, amount, withdraw) =>
      withdraw ? naiveWithdraw(api.db, `naive-mix-user-${user}`, `naive-mix-pkg-${pkg}`, amount) : naiveSponsor(api.db, `naive-mix-user-${user}`, `naive-mix-pkg-${pkg}`, amount),
    );
    expect(lowest).toBeLessThan(0);
  });
});

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
