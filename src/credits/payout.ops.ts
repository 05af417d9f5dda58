// Payouts: money leaving the system through the payment provider, exactly once. requestPayout debits the wallet with
// the same guarded step as a sponsorship and records the payout PENDING; a sender (the cron function, or repair)
// calls the provider with the payout id as its Idempotency-Key, then marks it SENT, or FAILED with a keyed refund.
// The provider's dedupe by key is what makes a resend after a lost reply or a killed sender harmless (docs/credits.md).
import type { Db } from 'mongodb';
import { isDuplicateKeyError } from '../db/errors.js';
import { completeEffect, effectRecord, type EffectOutcome, type EffectRecord, newEffectId } from '../effects/effect.ops.js';
import { fail, InsufficientFundsError, ok, type Result } from '../errors.js';
import { findCredits, ledgerPageQuery, type LedgerPage, walletCredit, walletDebit } from './credits.ops.js';

export type PayoutStatus = 'PENDING' | 'SENT' | 'FAILED';

export interface PayoutDoc {
  /** The effect id, and the provider's idempotency key and reference. */
  _id: string;
  userId: string;
  amount: number;
  status: PayoutStatus;
  createdAt: Date;
  /** Calls to the provider so far. */
  attempts: number;
  /** A sender takes the payout only from this time on: a lease while one sends, a backoff after a failed call. */
  nextAttemptAt: Date;
  providerTransferId?: string;
  sentAt?: Date;
  failure?: string;
  /** The debit while it is not over; the refund of a FAILED payout while it is not over. */
  effects?: EffectRecord[];
}

export type PayoutView = Pick<PayoutDoc, '_id' | 'userId' | 'amount' | 'status' | 'createdAt' | 'sentAt'>;

const PAYOUT_PROJECTION = { userId: 1, amount: 1, status: 1, createdAt: 1, sentAt: 1 } as const;

function payouts(db: Db) {
  return db.collection<PayoutDoc>('payouts');
}

/**
 * Debits `amount` from the viewer's wallet and records the payout PENDING, exactly once: the payout's insert records
 * the debit (guarded by `credits >= amount`); a refused debit removes the payout and answers INSUFFICIENT_FUNDS. With
 * an effectKey the payout's id is the key, so a retry finishes the same payout instead of making a second one.
 */
export async function requestPayout(
  db: Db,
  input: { userId: string; amount: number },
  effectKey: string | null = null,
): Promise<Result<{ payout: PayoutView; balance: number }>> {
  const id = effectKey ?? newEffectId();
  const record = effectRecord({ id, kind: 'requestPayout', steps: [walletDebit(input.userId, input.amount)], abort: { delete: true } });
  const now = new Date();
  const doc: PayoutDoc = { _id: id, ...input, status: 'PENDING', createdAt: now, attempts: 0, nextAttemptAt: now, effects: [record] };
  const ref = { collection: 'payouts', id, effectId: id };
  let outcome: EffectOutcome;
  try {
    await payouts(db).insertOne(doc);
    outcome = await completeEffect(db, ref, record);
  } catch (error) {
    if (effectKey === null || !isDuplicateKeyError(error)) throw error;
    outcome = await completeEffect(db, ref);
  }
  // Reads after the writes: the payout as it is now, or the balance that explains the refusal.
  const payout = outcome === 'refused' || outcome === 'aborted' ? null : await payouts(db).findOne({ _id: id }, { projection: PAYOUT_PROJECTION });
  const balance = await findCredits(db, input.userId);
  if (!payout) return fail(new InsufficientFundsError(`Your balance (${balance}) does not cover ${input.amount}.`, balance));
  return ok({ payout, balance });
}

/** One page of the user's payouts, newest first. */
export async function findPayoutPage(db: Db, userId: string, page: LedgerPage): Promise<PayoutView[]> {
  const { bounds, sort } = ledgerPageQuery('createdAt', '_id', page);
  return payouts(db)
    .find({ userId, ...(bounds.length > 0 ? { $and: bounds } : {}) }, { projection: PAYOUT_PROJECTION })
    .sort(sort)
    .limit(page.limit)
    .toArray();
}

/** What the provider said about one transfer call. */
export type ProviderAnswer =
  | { outcome: 'paid'; providerTransferId: string }
  /** A definite refusal (a 4xx other than 408/409/429): the provider did not and will not pay this key. */
  | { outcome: 'refused'; reason: string }
  /** Anything else (timeout, lost connection, 5xx, 408/409/429, an unreadable answer): it may have paid; ask again. */
  | { outcome: 'unknown'; reason: string };

/**
 * Calls `POST {providerUrl}/transfers` for one payout with `Idempotency-Key: <payout id>`. Only a definite 4xx
 * refusal is "refused": a payout whose answer was lost is asked about again with the same key, and the provider
 * answers what it did the first time, so it is never paid twice nor refunded after being paid.
 */
export async function callPayoutProvider(providerUrl: string, payout: Pick<PayoutDoc, '_id' | 'userId' | 'amount'>, timeoutMs = 10_000): Promise<ProviderAnswer> {
  let response: Response;
  try {
    response = await fetch(new URL('transfers', providerUrl.endsWith('/') ? providerUrl : `${providerUrl}/`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': payout._id },
      body: JSON.stringify({ amount: payout.amount, destination: payout.userId, reference: payout._id }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { outcome: 'unknown', reason: (error as Error).name === 'TimeoutError' ? 'timeout' : `connection: ${(error as Error).message}` };
  }
  const text = await response.text().catch(() => '');
  if (response.status === 200) {
    try {
      const body = JSON.parse(text) as { id?: unknown; status?: unknown };
      if (body.status === 'paid' && typeof body.id === 'string') return { outcome: 'paid', providerTransferId: body.id };
    } catch {
      // an unreadable 200 is not an answer: ask again
    }
    return { outcome: 'unknown', reason: `unexpected answer: ${text.slice(0, 100)}` };
  }
  if (response.status >= 400 && response.status < 500 && ![408, 409, 429].includes(response.status)) {
    return { outcome: 'refused', reason: `${response.status}: ${text.slice(0, 200)}` };
  }
  return { outcome: 'unknown', reason: `status ${response.status}` };
}

export interface SendReport {
  sent: number;
  failed: number;
  /** Payouts whose call ended without an answer; they are asked about again after their backoff. */
  retryLater: number;
}

export interface SendOptions {
  providerUrl: string;
  /** The database's clock now (src/effects/repair.ts databaseNow). */
  now: Date;
  /** Payouts whose nextAttemptAt is at most this are taken: `now` for the sender, later to ignore leases and backoffs (repair). */
  dueBy: Date;
  /** How long a sender holds a payout it calls the provider about; another sender may take it after. */
  leaseMs?: number;
  /** Backoff after an unanswered call: base * 2^(attempts - 1), at most an hour. */
  backoffMs?: number;
  concurrency?: number;
  limit?: number;
}

/**
 * Sends every due PENDING payout whose debit is over, each at most once per run: a claim (one guarded write that
 * moves nextAttemptAt past the lease) keeps concurrent senders from calling about the same payout at once, and the
 * provider's dedupe by payout id makes it harmless when they do anyway (a sender killed after its call, a repair run
 * next to a sender). Then one guarded write: SENT, or FAILED together with the refund effect, exactly once.
 */
export async function sendDuePayouts(db: Db, options: SendOptions): Promise<SendReport> {
  const leaseMs = options.leaseMs ?? 60_000;
  const backoffMs = options.backoffMs ?? 30_000;
  const report: SendReport = { sent: 0, failed: 0, retryLater: 0 };
  const due = await payouts(db)
    .find({ status: 'PENDING', 'effects.0': { $exists: false }, nextAttemptAt: { $lte: options.dueBy } }, { projection: { _id: 1 } })
    .sort({ nextAttemptAt: 1 })
    .limit(options.limit ?? 10_000)
    .toArray();
  let next = 0;
  const worker = async () => {
    while (next < due.length) {
      const id = due[next++]!._id;
      const claimed = await claimPayout(db, id, options.dueBy, new Date(options.now.getTime() + leaseMs));
      if (!claimed) continue;
      const answer = await callPayoutProvider(options.providerUrl, claimed);
      if (answer.outcome === 'paid') {
        await markPayoutSent(db, id, answer.providerTransferId);
        report.sent += 1;
      } else if (answer.outcome === 'refused') {
        if ((await failPayout(db, claimed, answer.reason)) !== 'not pending') report.failed += 1;
      } else {
        await payouts(db).updateOne(
          { _id: id, status: 'PENDING' },
          { $set: { nextAttemptAt: new Date(options.now.getTime() + Math.min(backoffMs * 2 ** Math.max(0, claimed.attempts - 1), 3_600_000)), failure: answer.reason } },
        );
        report.retryLater += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return report;
}

/** atomic: takes a due PENDING payout for one call (moves nextAttemptAt to the lease's end, counts the attempt). */
async function claimPayout(db: Db, id: string, dueBy: Date, leaseUntil: Date): Promise<PayoutDoc | null> {
  return payouts(db).findOneAndUpdate(
    { _id: id, status: 'PENDING', 'effects.0': { $exists: false }, nextAttemptAt: { $lte: dueBy } },
    { $set: { nextAttemptAt: leaseUntil }, $inc: { attempts: 1 } },
    { returnDocument: 'after', projection: { userId: 1, amount: 1, attempts: 1 } },
  );
}

/** atomic: PENDING -> SENT once; a second sender's answer for the same key changes nothing. */
async function markPayoutSent(db: Db, id: string, providerTransferId: string): Promise<void> {
  await payouts(db).updateOne({ _id: id, status: 'PENDING' }, { $set: { status: 'SENT', sentAt: new Date(), providerTransferId }, $unset: { failure: '' } });
}

/**
 * PENDING -> FAILED once, in the same write as the refund's effect record (its step credits the wallet back, keyed),
 * so the refund happens exactly once whoever finishes it: this sender, or repair after a crash.
 */
async function failPayout(db: Db, payout: Pick<PayoutDoc, '_id' | 'userId' | 'amount'>, reason: string): Promise<EffectOutcome | 'not pending'> {
  const effectId = `${payout._id}:refund`;
  const record = effectRecord({ id: effectId, kind: 'refundPayout', steps: [walletCredit(payout.userId, payout.amount, 'refund')], abort: { inc: {} } });
  const { modifiedCount } = await payouts(db).updateOne(
    { _id: payout._id, status: 'PENDING', 'effects.0': { $exists: false } },
    { $set: { status: 'FAILED', failure: reason }, $push: { effects: record } },
  );
  if (modifiedCount === 0) return 'not pending';
  return completeEffect(db, { collection: 'payouts', id: payout._id, effectId }, record);
}
