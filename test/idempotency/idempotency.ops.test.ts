// The idempotencyKeys ops against the real driver and database. Leases and expiry are judged on the database clock
// ($$NOW), so these tests age records by giving them short leases and TTLs and waiting, never by moving a clock:
// every path of a claim (new record, own retry, live lease, reuse, takeover, expired record), completing, giving back.
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureIndexes } from '../../src/db/indexes.js';
import { claimKey, completeKey, newClaimToken, releaseKey, type ClaimRequest } from '../../src/idempotency/idempotency.ops.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';

let client: MongoClient;
let db: Db;

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  db = client.db(uniqueDbName('idempotency-ops'));
  await ensureIndexes(db);
});
afterAll(() => client.close());

const LEASE = 30_000;
const TTL = 60 * 60_000;
const SHORT = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function request(id: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return { id, fingerprint: 'f1', claim: newClaimToken(), leaseMs: LEASE, ttlMs: TTL, ...overrides };
}

const response = { status: 200, contentType: 'application/json; charset=utf-8', body: '{"data":{}}' };

describe('claimKey', () => {
  it('executes the first request, and its own retry after a lost reply, with one effectKey', async () => {
    const first = request('first');
    const claimed = await claimKey(db, first);
    expect(claimed).toMatchObject({ outcome: 'execute', via: 'new' });
    const again = await claimKey(db, first);
    expect(again).toEqual({ outcome: 'execute', via: 'resumed', effectKey: (claimed as { effectKey: string }).effectKey });
  });

  it('answers IN_PROGRESS during the lease, REUSED for another fingerprint, replay once completed', async () => {
    const holder = request('busy');
    await claimKey(db, holder);
    const busy = await claimKey(db, request('busy'));
    expect(busy).toMatchObject({ outcome: 'in_progress' });
    expect((busy as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThanOrEqual(29);
    expect(await claimKey(db, request('busy', { fingerprint: 'f2' }))).toEqual({ outcome: 'reused' });
    expect(await completeKey(db, { id: 'busy', claim: holder.claim, response })).toBe(true);
    expect(await claimKey(db, request('busy'))).toEqual({ outcome: 'replay', response });
  });

  it('lets a retry take over an ended lease with the same effectKey; the old holder can no longer complete', async () => {
    const crashed = request('crashed', { leaseMs: SHORT });
    const first = (await claimKey(db, crashed)) as { effectKey: string };
    expect(await claimKey(db, request('crashed'))).toMatchObject({ outcome: 'in_progress' });
    await sleep(SHORT + 50);
    const retry = request('crashed');
    expect(await claimKey(db, retry)).toEqual({ outcome: 'execute', via: 'resumed', effectKey: first.effectKey });
    expect(await completeKey(db, { id: 'crashed', claim: crashed.claim, response })).toBe(false);
    expect(await completeKey(db, { id: 'crashed', claim: retry.claim, response })).toBe(true);
  });

  it('gives a key back at once with releaseKey, keeping its effectKey', async () => {
    const failed = request('released');
    const first = (await claimKey(db, failed)) as { effectKey: string };
    await releaseKey(db, { id: 'released', claim: failed.claim });
    expect(await claimKey(db, request('released'))).toEqual({ outcome: 'execute', via: 'resumed', effectKey: first.effectKey });
  });

  it('replaces an expired record the TTL monitor has not removed yet, with a new effectKey', async () => {
    const old = request('expired', { ttlMs: SHORT });
    const first = (await claimKey(db, old)) as { effectKey: string };
    await completeKey(db, { id: 'expired', claim: old.claim, response });
    await sleep(SHORT + 50);
    const later = await claimKey(db, request('expired', { fingerprint: 'f2' }));
    expect(later).toMatchObject({ outcome: 'execute', via: 'new' });
    expect((later as { effectKey: string }).effectKey).not.toBe(first.effectKey);
    const record = await db.collection('idempotencyKeys').findOne({ _id: 'expired' as never });
    expect(record).toMatchObject({ fingerprint: 'f2', state: 'in_progress' });
    expect(record!.response).toBeUndefined();
  });

  it('lets exactly one of 50 concurrent claims of one key execute', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => claimKey(db, request('raced'))));
    expect(results.filter((r) => r.outcome === 'execute')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'in_progress')).toHaveLength(49);
  });
});
