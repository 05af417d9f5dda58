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
  /** This request holds the key now and must execute: `new` for a fresh record, `resumed` when it took over (or
   * re-took, after a lost reply) a record whose effectKey an earlier execution may already have used. */
  | { outcome: 'execute'; effectKey: string; via: 'new' | 'resumed' }
  | { outcome: 'replay'; response: StoredResponse }
  | { outcome: 'in_progress'; retryAfterSeconds: number }
  | { outcome: 'reused' };

export interface ClaimRequest {
  id: string;
  fingerprint: string;
  /** A fresh random token for this execution attempt. */
  claim: string;
  leaseMs: number;
  ttlMs: number;
}

// Attempts per database call on a transient error (on top of the driver's own single retry). Every call here is
// safe to repeat: each is conditional on this request's claim token, or decides from the document it returns.
const ATTEMPTS = 3;

function keys(db: Db) {
  return db.collection<IdempotencyKeyDoc>('idempotencyKeys');
}

export function newClaimToken(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * atomic: one upsert with a pipeline decides the claim on the database clock ($$NOW), so an instance whose clock is
 * off can neither steal a live lease nor keep an expired record: a missing or expired record is replaced by a fresh
 * one held by this request; a record of the same request whose lease ended is taken over (keeping its effectKey);
 * anything else is left as it is, and the document returned says why (REUSED, replay or IN_PROGRESS). Of any number
 * of concurrent requests with one key, one executes at a time.
 */
export async function claimKey(db: Db, request: ClaimRequest): Promise<ClaimResult> {
  const effectKey = randomBytes(16).toString('base64url');
  const fresh = { $or: [{ $eq: [{ $type: '$state' }, 'missing'] }, { $lte: ['$expiresAt', '$$NOW'] }] };
  const takeover = {
    $and: [{ $eq: ['$fingerprint', { $literal: request.fingerprint }] }, { $eq: ['$state', 'in_progress'] }, { $lte: ['$leaseUntil', '$$NOW'] }],
  };
  const claimed = { $or: [fresh, takeover] };
  const pipeline = [
    {
      $set: {
        fingerprint: { $cond: [fresh, { $literal: request.fingerprint }, '$fingerprint'] },
        state: { $cond: [fresh, 'in_progress', '$state'] },
        claim: { $cond: [claimed, { $literal: request.claim }, '$claim'] },
        effectKey: { $cond: [fresh, { $literal: effectKey }, '$effectKey'] },
        leaseUntil: { $cond: [claimed, { $add: ['$$NOW', request.leaseMs] }, '$leaseUntil'] },
        expiresAt: { $cond: [fresh, { $add: ['$$NOW', request.ttlMs] }, '$expiresAt'] },
        createdAt: { $cond: [fresh, '$$NOW', '$createdAt'] },
        response: { $cond: [fresh, '$$REMOVE', '$response'] },
      },
    },
  ];
  const upsert = () => keys(db).findOneAndUpdate({ _id: request.id }, pipeline, { upsert: true, returnDocument: 'after' });
  let current: IdempotencyKeyDoc | null;
  try {
    current = await retrying(upsert);
  } catch (error) {
    // Two first requests upserted at once and the other inserted: the record exists now, so this one matches it.
    if (!isDuplicateKeyError(error)) throw error;
    current = await retrying(upsert);
  }
  if (!current) throw new Error('idempotency claim upsert returned no document');
  if (current.claim === request.claim) {
    return { outcome: 'execute', effectKey: current.effectKey, via: current.effectKey === effectKey ? 'new' : 'resumed' };
  }
  if (current.fingerprint !== request.fingerprint) return { outcome: 'reused' };
  if (current.state === 'completed' && current.response) return { outcome: 'replay', response: current.response };
  // Only a hint for Retry-After: the lease itself was judged on the database clock above.
  const leaseLeftMs = Math.min(current.leaseUntil.getTime() - Date.now(), request.leaseMs);
  return { outcome: 'in_progress', retryAfterSeconds: Math.max(1, Math.ceil(leaseLeftMs / 1000)) };
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
