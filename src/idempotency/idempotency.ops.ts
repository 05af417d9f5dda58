// Every database operation on idempotency keys (collection idempotencyKeys): claim, complete, release. Each state
// change is one conditional write; a read only ever explains, after it, why a write matched nothing.
import { randomBytes } from 'node:crypto';
import { MongoError, MongoNetworkError, MongoServerSelectionError, type Db } from 'mongodb';
import { isDuplicateKeyError } from '../db/errors.js';

/** The answer the client received, exactly: replays send these bytes and this status again. */
export interface StoredResponse {
  status: number;
  contentType: string;
  body: string;
}

export interface IdempotencyKeyDoc {
  /** keyRecordId(scope, key): a hash, never the raw key. */
  _id: string;
  /** requestFingerprint(...) of the request that first used the key. */
  fingerprint: string;
  state: 'in_progress' | 'completed';
  /** Token of the execution that holds the key now; only its holder may complete or release it. */
  claim: string;
  /**
   * Recorded by the mutations together with their effect (docs/idempotency.md). Fixed for the life of this record,
   * so an execution that takes over after a crash finds the first one's effect; new when an expired key is reused.
   */
  effectKey: string;
  /** An execution in progress is presumed alive until then; after it a retry may take the key over. */
  leaseUntil: Date;
  /** The TTL index removes the record after this (MongoDB sweeps about once a minute; reads check it themselves). */
  expiresAt: Date;
  createdAt: Date;
  response?: StoredResponse;
}

export type ClaimResult =
  /** This request holds the key now and must execute; `via` says how it got it. */
  | { outcome: 'execute'; effectKey: string; via: 'insert' | 'takeover' | 'replace' | 'own' }
  | { outcome: 'replay'; response: StoredResponse }
  | { outcome: 'in_progress'; retryAfterSeconds: number }
  | { outcome: 'reused' };

export interface ClaimRequest {
  id: string;
  fingerprint: string;
  /** A fresh random token for this execution attempt. */
  claim: string;
  /** The caller's clock; passed in so tests can step past leases and expiry without waiting. */
  now: Date;
  leaseMs: number;
  ttlMs: number;
}

// A claim races at most a few other requests with the same key; after this many rounds of "the record changed
// between my write and my read" the request answers IN_PROGRESS and the client retries.
const MAX_CLAIM_ROUNDS = 5;
// Attempts per database call on a transient error (on top of the driver's own single retry). Every call here is
// safe to repeat: each is conditional on this request's claim token, or, for the insert, is explained by a read.
const ATTEMPTS = 3;

function keys(db: Db) {
  return db.collection<IdempotencyKeyDoc>('idempotencyKeys');
}

export function newClaimToken(): string {
  return randomBytes(16).toString('base64url');
}

function freshRecord(request: ClaimRequest): IdempotencyKeyDoc {
  return {
    _id: request.id,
    fingerprint: request.fingerprint,
    state: 'in_progress',
    claim: request.claim,
    effectKey: randomBytes(16).toString('base64url'),
    leaseUntil: new Date(request.now.getTime() + request.leaseMs),
    expiresAt: new Date(request.now.getTime() + request.ttlMs),
    createdAt: request.now,
  };
}

/**
 * atomic: claims the key with one insert; when it exists, one read after the failed insert decides: REUSED (other
 * fingerprint), replay (completed), IN_PROGRESS (live lease), or one conditional write that takes over an expired
 * lease or replaces an expired record. Of any number of concurrent requests with one key, one executes at a time.
 */
export async function claimKey(db: Db, request: ClaimRequest): Promise<ClaimResult> {
  const now = request.now;
  for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
    const fresh = freshRecord(request);
    try {
      await retrying(() => keys(db).insertOne(fresh));
      return { outcome: 'execute', effectKey: fresh.effectKey, via: 'insert' };
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    const current = await retrying(() => keys(db).findOne({ _id: request.id }));
    // Removed by the TTL monitor between the insert and the read: insert again.
    if (current === null) continue;
    // This request's own earlier attempt got through but its reply was lost.
    if (current.claim === request.claim) return { outcome: 'execute', effectKey: current.effectKey, via: 'own' };
    if (current.expiresAt <= now) {
      // Expired but not swept yet (MongoDB's TTL monitor lags up to a minute): the key is free, a new record replaces it.
      const { matchedCount } = await retrying(() => keys(db).replaceOne({ _id: request.id, expiresAt: { $lte: now } }, fresh));
      if (matchedCount === 1) return { outcome: 'execute', effectKey: fresh.effectKey, via: 'replace' };
      continue;
    }
    if (current.fingerprint !== request.fingerprint) return { outcome: 'reused' };
    if (current.state === 'completed' && current.response) return { outcome: 'replay', response: current.response };
    if (current.leaseUntil > now) {
      return { outcome: 'in_progress', retryAfterSeconds: Math.max(1, Math.ceil((current.leaseUntil.getTime() - now.getTime()) / 1000)) };
    }
    // The holder crashed or gave the key back (releaseKey): take it over, keeping its effectKey so that the
    // mutation recognizes an effect the first execution already applied.
    const taken = await retrying(() =>
      keys(db).findOneAndUpdate(
        { _id: request.id, fingerprint: request.fingerprint, state: 'in_progress', leaseUntil: { $lte: now } },
        { $set: { claim: request.claim, leaseUntil: new Date(now.getTime() + request.leaseMs) } },
        { returnDocument: 'after', projection: { effectKey: 1 } },
      ),
    );
    if (taken) return { outcome: 'execute', effectKey: taken.effectKey, via: 'takeover' };
  }
  return { outcome: 'in_progress', retryAfterSeconds: 1 };
}

/** atomic: stores the answer and marks the key completed, only while this execution still holds it; false if not. */
export async function completeKey(db: Db, input: { id: string; claim: string; response: StoredResponse }): Promise<boolean> {
  const { matchedCount } = await retrying(() =>
    keys(db).updateOne({ _id: input.id, claim: input.claim }, { $set: { state: 'completed', response: input.response } }),
  );
  return matchedCount === 1;
}

/**
 * atomic: gives the key back without an answer (the execution failed for a reason that may pass, or was rate
 * limited) by ending its lease, so the client's retry takes it over at once with the same effectKey.
 */
export async function releaseKey(db: Db, input: { id: string; claim: string }): Promise<void> {
  await retrying(() => keys(db).updateOne({ _id: input.id, claim: input.claim, state: 'in_progress' }, { $set: { leaseUntil: new Date(0) } }));
}

/** Network trouble or a failover: the same call may succeed a moment later. */
export function isTransientDbError(error: unknown): boolean {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  return error instanceof MongoError && error.hasErrorLabel('RetryableWriteError');
}

async function retrying<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= ATTEMPTS || !isTransientDbError(error)) throw error;
    }
  }
}
