// The sponsor-transfer scenario: many wallets sponsoring one hot package at once, each wallet asked for more than it
// holds, through the API (guarded debit + keyed credit, docs/credits.md), the same op straight through the driver,
// and two baselines through the driver: read-check-then-write and optimistic locking on a wallet version.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from 'mongodb';
import { creditPurchase, sponsorPackage } from '../../src/credits/credits.ops.js';
import { insertPackage } from '../../src/packages/package.ops.js';
import { naiveSponsor } from '../../test/concurrency/naive-credits-ops.js';
import { SPONSOR } from '../../test/credits/documents.js';
import { Checks, driverLoad, graphqlLoad, type Scenario, signTokens, type Variant, variantResult, wantsVariant } from './common.js';
import type { LoadResult } from '../load.js';

const WALLETS = 20;
const AMOUNT = 7;
const MAX_RETRIES = 10;

/** BASELINE ONLY: optimistic locking on a `walletVersion`: read, check, write back only if unchanged, else retry. */
async function optimisticSponsor(db: Db, userId: string, packageName: string, amount: number): Promise<{ outcome: string; retries: number }> {
  const users = db.collection<{ _id: string; credits?: number; walletVersion?: number }>('users');
  for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
    if (attempt > 0) await sleep(Math.random() * Math.min(50, 2 * 2 ** attempt));
    const user = await users.findOne({ _id: userId });
    const credits = user?.credits ?? 0;
    if (credits < amount) return { outcome: 'INSUFFICIENT_FUNDS', retries: attempt };
    const version = user?.walletVersion ?? 0;
    const { matchedCount } = await users.updateOne(
      { _id: userId, $or: [{ walletVersion: version }, ...(version === 0 ? [{ walletVersion: { $exists: false } }] : [])] },
      { $set: { credits: credits - amount, walletVersion: version + 1 } },
    );
    if (matchedCount === 1) {
      // The credit side is a second write: a crash between the two loses the amount (not measured here).
      await db.collection('packages').updateOne({ _id: packageName as never }, { $inc: { sponsorBalance: amount } });
      return { outcome: 'ok', retries: attempt };
    }
  }
  return { outcome: 'error:GAVE_UP', retries: MAX_RETRIES };
}

export const sponsorTransfer: Scenario = {
  name: 'sponsor-transfer',
  description: `sponsorPackage of ${AMOUNT} from ${WALLETS} wallets, each asked for more than it holds, onto one package: exactly floor(balance/${AMOUNT}) successes per wallet, no negative balance, conserved`,
  async run(env) {
    // Each wallet gets n / WALLETS requests (at least 3), sent back to back so they race, and holds credits for about
    // two thirds of them.
    const n = env.counts.optimisticRequests;
    const perWallet = Math.max(3, Math.floor(n / WALLETS));
    const funds = Math.max(AMOUNT, Math.floor((perWallet * 2) / 3) * AMOUNT + 3);
    const wallet = (i: number) => Math.floor(i / perWallet);
    const results = [];
    const variants: { variant: Variant; run: (prefix: string, pkg: string) => Promise<LoadResult> }[] = [
      {
        variant: 'graphql',
        run: async (prefix, pkg) => {
          const tokens = await signTokens(env, Array.from({ length: WALLETS }, (_, w) => `${prefix}-${w}`));
          return graphqlLoad(env, { document: () => SPONSOR, amount: perWallet * WALLETS, variables: () => ({ input: { packageName: pkg, amount: AMOUNT } }), token: (i) => tokens[wallet(i)]! });
        },
      },
      {
        variant: 'driver',
        run: (prefix, pkg) =>
          driverLoad(env, perWallet * WALLETS, async (i) => {
            const result = await sponsorPackage(env.db, { userId: `${prefix}-${wallet(i)}`, packageName: pkg, amount: AMOUNT });
            return { outcome: result.ok ? 'ok' : result.error.code };
          }),
      },
      {
        variant: 'rmw',
        run: (prefix, pkg) => driverLoad(env, perWallet * WALLETS, async (i) => ({ outcome: (await naiveSponsor(env.db, `${prefix}-${wallet(i)}`, pkg, AMOUNT)) ? 'ok' : 'INSUFFICIENT_FUNDS' })),
      },
      { variant: 'occ', run: (prefix, pkg) => driverLoad(env, perWallet * WALLETS, (i) => optimisticSponsor(env.db, `${prefix}-${wallet(i)}`, pkg, AMOUNT)) },
    ];
    for (const { variant, run } of variants) {
      if (!wantsVariant(env, variant)) continue;
      const prefix = `sponsor-${variant}-${Date.now().toString(36)}`;
      const pkg = `${prefix}-pkg`;
      const now = new Date();
      await insertPackage(env.db, { name: pkg, displayName: pkg, summary: 'bench', maintainerId: 'bench-maintainer' });
      for (let w = 0; w < WALLETS; w++) await creditPurchase(env.db, { id: `evt_${prefix}_${w}`, userId: `${prefix}-${w}`, amount: funds, created: now });
      env.log?.(`${this.name} / ${variant}: ${perWallet * WALLETS} sponsorships from ${WALLETS} wallets of ${funds}`);
      const load = await run(prefix, pkg);
      const wallets = await env.db.collection('users').find({ _id: { $regex: `^${prefix}-` } as never }, { projection: { credits: 1 } }).toArray();
      const sponsored = ((await env.db.collection('packages').findOne({ _id: pkg as never }))?.sponsorBalance as number | undefined) ?? 0;
      const expectedSuccesses = WALLETS * Math.min(perWallet, Math.floor(funds / AMOUNT));
      const successes = load.outcomes.ok ?? 0;
      const negative = wallets.filter((w) => (w.credits as number) < 0).length;
      const held = wallets.reduce((sum, w) => sum + (w.credits as number), 0) + sponsored;
      const checks = new Checks()
        .equal('successes: min(requests, floor(balance/amount)) per wallet', successes, expectedSuccesses)
        .equal('wallets below zero', negative, 0)
        .equal('credits held vs credited (conservation)', held, WALLETS * funds);
      results.push(
        variantResult(this.name, variant, env.connections, load, ['ok', 'INSUFFICIENT_FUNDS'], {
          // Value moved: what the acknowledged successes moved, against what the package holds.
          expected: successes * AMOUNT,
          observed: sponsored,
          // Overdrafts: successes beyond what the wallets could pay.
          duplicates: Math.max(0, successes - expectedSuccesses),
        }, checks),
      );
    }
    return results;
  },
};
