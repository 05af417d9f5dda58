// Credits over real HTTP: the signed payment webhook (each refusal changes nothing, each event id credits once),
// sponsorPackage and withdrawSponsorship with their typed refusals, keyed retries, the ledgers, and the privacy of a
// wallet (only its owner sees it, although User is also an author and a maintainer).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPayment } from '../../src/credits/payment-webhook.js';
import { DEV_PAYMENTS_WEBHOOK_SECRET, type Env, paymentsWebhookSecret } from '../../src/env.js';
import { type GqlResponse, startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE } from '../helpers/documents.js';
import { SPONSOR, VIEWER_CREDITS, WITHDRAW } from './documents.js';

let api: TestApi;
let alice: string;
let bob: string;
let seq = 0;

beforeAll(async () => {
  api = await startApi('credits');
  alice = await api.token('alice', 'Alice');
  bob = await api.token('bob', 'Bob');
  await api.gql(CREATE_PACKAGE, { input: { name: 'left-pad', summary: 'Pads' } }, { token: bob });
});
afterAll(() => api.close());

const webhookUrl = () => api.url.replace('/api/graphql', '/api/webhooks/payments');

async function deliver(event: unknown, options: { secret?: string; timestamp?: number; header?: string | null; raw?: string } = {}) {
  const body = options.raw ?? JSON.stringify(event);
  const t = options.timestamp ?? Math.floor(Date.now() / 1000);
  const header = options.header === undefined ? signPayment(options.secret ?? DEV_PAYMENTS_WEBHOOK_SECRET, body, t) : options.header;
  const response = await fetch(webhookUrl(), { method: 'POST', headers: { 'content-type': 'application/json', ...(header === null ? {} : { 'payments-signature': header }) }, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const purchase = (userId: string, amount: number, id = `evt_${++seq}_${Date.now()}`) => ({ id, type: 'credits.purchased', created: Math.floor(Date.now() / 1000), data: { userId, amount } });

async function credits(token: string): Promise<number> {
  const res = await api.gql(VIEWER_CREDITS, {}, { token });
  return res.data!.viewer.credits as number;
}

describe('payment webhook', () => {
  it('credits an accepted event once, however often it is delivered', async () => {
    const event = purchase('alice', 500);
    expect(await deliver(event)).toEqual({ status: 200, body: { received: true } });
    expect(await credits(alice)).toBe(500);
    const again = await Promise.all(Array.from({ length: 5 }, () => deliver(event)));
    expect(again.every((r) => r.status === 200 && r.body.received === true)).toBe(true);
    expect(await credits(alice)).toBe(500);
    expect(await api.db.collection('paymentEvents').countDocuments({ _id: event.id as never })).toBe(1);
  });

  it('creates the wallet of a user who never signed in', async () => {
    await deliver(purchase('newcomer', 42));
    expect(await api.db.collection('users').findOne({ _id: 'newcomer' as never })).toMatchObject({ credits: 42 });
    expect(await credits(await api.token('newcomer'))).toBe(42);
  });

  it('refuses with 400 and no effect: bad, missing or stale signatures, malformed bodies, unknown types', async () => {
    const before = await api.db.collection('paymentEvents').countDocuments();
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      deliver(purchase('alice', 1), { secret: 'another-secret-of-enough-length' }),
      deliver(purchase('alice', 1), { header: null }),
      deliver(purchase('alice', 1), { header: 't=abc,v1=00' }),
      deliver(purchase('alice', 1), { timestamp: now - 301 }),
      deliver(purchase('alice', 1), { timestamp: now + 400 }),
      deliver(null, { raw: '{"id": "evt_x", "type": ' }),
      deliver({ ...purchase('alice', 1), type: 'credits.refunded' }),
      deliver({ ...purchase('alice', 0) }),
      deliver({ ...purchase('alice', 2.5) }),
      deliver({ ...purchase('alice', 1), id: 'evt/../x' }),
      deliver({ id: 'evt_no_data', type: 'credits.purchased', created: now }),
    ];
    for (const result of await Promise.all(cases)) expect(result.status, JSON.stringify(result.body)).toBe(400);
    expect(await api.db.collection('paymentEvents').countDocuments()).toBe(before);
    const signedByHand = JSON.stringify(purchase('alice', 1));
    // The signature covers the exact bytes: the same JSON re-serialized with a space is refused.
    const header = signPayment(DEV_PAYMENTS_WEBHOOK_SECRET, signedByHand, now);
    expect((await deliver(null, { raw: signedByHand.replace(':', ': '), header })).status).toBe(400);
  });
});

describe('npm run payments:simulate and the secret', () => {
  it('sends a correctly signed event the server credits', async () => {
    const before = await credits(alice);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments-simulate.ts', 'alice', '7', '--url', new URL(api.url).origin], {
      env: Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'PAYMENTS_WEBHOOK_SECRET')),
    });
    expect(stdout).toMatch(/^200 \{"received":true\}/);
    expect(await credits(alice)).toBe(before + 7);
  });

  it('is required in production, and never the development one there', () => {
    expect(() => paymentsWebhookSecret({ NODE_ENV: 'production' } as Env)).toThrow('set PAYMENTS_WEBHOOK_SECRET');
    expect(paymentsWebhookSecret({ NODE_ENV: 'production', PAYMENTS_WEBHOOK_SECRET: 'a-production-secret-value' } as Env)).toBe('a-production-secret-value');
    expect(paymentsWebhookSecret({ NODE_ENV: 'development' } as Env)).toBe(DEV_PAYMENTS_WEBHOOK_SECRET);
  });
});

describe('sponsorPackage and withdrawSponsorship', () => {
  it('moves credits once, refuses what the balance does not cover, and shows the ledgers', async () => {
    const carol = await api.token('carol');
    await deliver(purchase('carol', 100));
    const ok = await api.gql(SPONSOR, { input: { packageName: 'Left_Pad', amount: 30 } }, { token: carol });
    expect(ok.data!.sponsorPackage).toMatchObject({ __typename: 'SponsorPackageSuccess', balance: 70, transfer: { amount: 30, status: 'COMPLETED' } });
    const refused = await api.gql(SPONSOR, { input: { packageName: 'left-pad', amount: 71 } }, { token: carol });
    expect(refused.data!.sponsorPackage).toMatchObject({ __typename: 'InsufficientFundsError', code: 'INSUFFICIENT_FUNDS', available: 70 });
    for (const amount of [0, -5, 1_000_001]) {
      const invalid = await api.gql(SPONSOR, { input: { packageName: 'left-pad', amount } }, { token: carol });
      expect(invalid.data!.sponsorPackage.__typename).toBe('ValidationError');
    }
    const missing = await api.gql(SPONSOR, { input: { packageName: 'no-such-pkg', amount: 1 } }, { token: carol });
    expect(missing.data!.sponsorPackage.__typename).toBe('NotFoundError');
    expect(await credits(carol)).toBe(70);
    expect(await api.db.collection('transfers').countDocuments({ userId: 'carol' })).toBe(1);

    const notMaintainer = await api.gql(WITHDRAW, { input: { packageName: 'left-pad', amount: 1 } }, { token: carol });
    expect(notMaintainer.data!.withdrawSponsorship.__typename).toBe('ForbiddenError');
    const tooMuch = await api.gql(WITHDRAW, { input: { packageName: 'left-pad', amount: 31 } }, { token: bob });
    expect(tooMuch.data!.withdrawSponsorship).toMatchObject({ code: 'INSUFFICIENT_FUNDS', available: 30 });
    const unknown = await api.gql(WITHDRAW, { input: { packageName: 'no-such-pkg', amount: 1 } }, { token: bob });
    expect(unknown.data!.withdrawSponsorship.__typename).toBe('NotFoundError');
    const withdrawn = await api.gql(WITHDRAW, { input: { packageName: 'left-pad', amount: 20 } }, { token: bob });
    expect(withdrawn.data!.withdrawSponsorship).toMatchObject({ __typename: 'WithdrawSponsorshipSuccess', balance: 20, transfer: { kind: 'WITHDRAWAL', amount: 20 } });

    const pkg = await api.gql(`{ package(name: "left-pad") { sponsorBalance sponsors(first: 10) { edges { node { user { id } amount } } } } }`);
    expect(pkg.data!.package).toEqual({ sponsorBalance: 10, sponsors: { edges: [{ node: { user: { id: 'carol' }, amount: 30 } }] } });
  });

  it('replays a keyed retry and applies it once', async () => {
    const dave = await api.token('dave');
    await deliver(purchase('dave', 50));
    const headers = { 'idempotency-key': `key-${++seq}` };
    const first = await api.gql(SPONSOR, { input: { packageName: 'left-pad', amount: 10 } }, { token: dave, headers });
    const again = await api.gql(SPONSOR, { input: { packageName: 'left-pad', amount: 10 } }, { token: dave, headers });
    expect(again.data).toEqual(first.data);
    expect(await credits(dave)).toBe(40);
  });

  it('pages the ledgers newest first, and sums each sponsor by aggregation', async () => {
    const erin = await api.token('erin');
    await deliver(purchase('erin', 1000));
    await api.gql(CREATE_PACKAGE, { input: { name: 'ledger-pkg', summary: 'L' } }, { token: bob });
    for (let i = 1; i <= 5; i++) await api.gql(SPONSOR, { input: { packageName: 'ledger-pkg', amount: i } }, { token: erin });
    const page = `query ($after: String) { viewer { transfers(first: 2, after: $after) { edges { node { amount status } } pageInfo { hasNextPage endCursor } } } }`;
    const seen: number[] = [];
    let after: string | null = null;
    for (;;) {
      const res: GqlResponse = await api.gql(page, { after }, { token: erin });
      const connection: { edges: { node: { amount: number } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } = res.data!.viewer.transfers;
      seen.push(...connection.edges.map((e) => e.node.amount));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual([5, 4, 3, 2, 1]);
    const sponsors = await api.gql(`{ package(name: "ledger-pkg") { sponsors(first: 5) { edges { node { user { id } amount } } } } }`);
    expect(sponsors.data!.package.sponsors.edges).toEqual([{ node: { user: { id: 'erin' }, amount: 15 } }]);
  });

  it('shows a wallet and its ledgers only to its owner', async () => {
    const res = await api.gql(`{ package(name: "left-pad") { maintainers { id credits transfers(first: 1) { edges { cursor } } payouts(first: 1) { edges { cursor } } } } }`, {}, { token: alice });
    expect(res.data!.package.maintainers).toEqual([{ id: 'bob', credits: null, transfers: null, payouts: null }]);
    const own = await api.gql(`{ package(name: "left-pad") { maintainers { id credits } } }`, {}, { token: bob });
    expect(own.data!.package.maintainers).toEqual([{ id: 'bob', credits: 20 }]);
    expect((await api.gql(`{ viewer { id } }`)).data!.viewer).toBeNull();
  });
});
