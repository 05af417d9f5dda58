// Every database operation on credits: wallets (`users.credits`), sponsor balances (`packages.sponsorBalance`),
// payment events and transfers. Value moves only through multi-document effects (src/effects/effect.ops.ts): the
// first write records the intent, the debit is one guarded `$inc` that matches only when the balance covers it, the
// credit follows as a keyed step; no locks, no transactions, no read-modify-write (docs/credits.md).
import type { Db, Document } from 'mongodb';
import { isDuplicateKeyError } from '../db/errors.js';
import { completeEffect, effectRecord, type EffectOutcome, type EffectRecord, type EffectStep, newEffectId } from '../effects/effect.ops.js';
import { fail, ForbiddenError, InsufficientFundsError, NotFoundError, ok, type Result } from '../errors.js';

/** The largest amount one sponsorship, withdrawal or payout may move. */
export const MAX_TRANSFER_AMOUNT = 1_000_000;

export type TransferStatus = 'PENDING' | 'COMPLETED' | 'REVERSED';
export type TransferKind = 'SPONSORSHIP' | 'WITHDRAWAL';

export interface TransferDoc {
  /** The effect id: the request's effectKey when it had an Idempotency-Key, so its retry reaches the same transfer. */
  _id: string;
  kind: TransferKind;
  /** The user side: the sponsor (source) of a sponsorship, the maintainer (destination) of a withdrawal. */
  userId: string;
  packageName: string;
  amount: number;
  status: TransferStatus;
  createdAt: Date;
  effects?: EffectRecord[];
}

export interface PaymentEventDoc {
  /** The provider's event id: the insert is the dedupe, forever. */
  _id: string;
  userId: string;
  amount: number;
  created: Date;
  receivedAt: Date;
  effects?: EffectRecord[];
}

export type TransferView = Omit<TransferDoc, 'effects'>;

const TRANSFER_PROJECTION = { kind: 1, userId: 1, packageName: 1, amount: 1, status: 1, createdAt: 1 } as const;

function transfers(db: Db) {
  return db.collection<TransferDoc>('transfers');
}

function paymentEvents(db: Db) {
  return db.collection<PaymentEventDoc>('paymentEvents');
}

/** A wallet's debit: applies only when the balance covers it (a wallet without `credits` has 0 and never matches). */
export function walletDebit(userId: string, amount: number): EffectStep {
  return { name: 'debit', collection: 'users', target: userId, inc: { credits: -amount }, guard: { credits: { $gte: amount } } };
}

/** A wallet's credit: creates the user document when the user never signed in (a top-up before the first visit). */
export function walletCredit(userId: string, amount: number, name = 'credit'): EffectStep {
  return { name, collection: 'users', target: userId, inc: { credits: amount }, upsert: { name: null, createdAt: new Date() } };
}

/**
 * Credits a purchase to the user's wallet exactly once per event id, forever: the insert of the event (its `_id` is
 * the event id) records the credit as an effect whose one step adds the amount to the wallet, carrying the event id
 * in its mark in the same atomic write. A redelivered event hits E11000 and only finishes the first delivery's effect
 * if it was cut short; it changes nothing else.
 */
export async function creditPurchase(db: Db, event: { id: string; userId: string; amount: number; created: Date }): Promise<'credited' | 'duplicate'> {
  const record = effectRecord({ id: event.id, kind: 'creditPurchase', steps: [walletCredit(event.userId, event.amount)], abort: { inc: {} } });
  const doc: PaymentEventDoc = { _id: event.id, userId: event.userId, amount: event.amount, created: event.created, receivedAt: new Date(), effects: [record] };
  try {
    await paymentEvents(db).insertOne(doc);
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    await completeEffect(db, { collection: 'paymentEvents', id: event.id, effectId: event.id });
    return 'duplicate';
  }
  await completeEffect(db, { collection: 'paymentEvents', id: event.id, effectId: event.id }, record);
  return 'credited';
}

/** The user's balance; a user without a wallet (or without a document) has 0. */
export async function findCredits(db: Db, userId: string): Promise<number> {
  const user = await db.collection('users').findOne({ _id: userId as never }, { projection: { credits: { $ifNull: ['$credits', 0] } } });
  return (user?.credits as number | undefined) ?? 0;
}

/** A package's sponsor balances, by name (0 for a package without one). */
export async function findSponsorBalances(db: Db, names: readonly string[]): Promise<Map<string, number>> {
  const docs = await db
    .collection('packages')
    .find({ _id: { $in: [...names] as never[] } }, { projection: { sponsorBalance: { $ifNull: ['$sponsorBalance', 0] } } })
    .toArray();
  return new Map(docs.map((doc) => [doc._id as unknown as string, doc.sponsorBalance as number]));
}

export interface TransferResult {
  transfer: TransferView;
  /** The viewer's balance read right after the transfer ended. */
  balance: number;
}

/**
 * Moves `amount` from the viewer's wallet to the package's sponsorBalance, exactly once: the transfer's insert records
 * the effect (debit the wallet, guarded by `credits >= amount`; then credit the package, keyed), whose steps follow.
 * INSUFFICIENT_FUNDS, and no transfer, when the balance does not cover it. NOT_FOUND for an unknown package: packages
 * are never deleted, so a package that exists at the read before the insert exists when the credit step runs, and
 * the read can only refuse earlier what the effect would refund (were one missing anyway, the effect is reversed).
 */
export async function sponsorPackage(
  db: Db,
  input: { userId: string; packageName: string; amount: number },
  effectKey: string | null = null,
): Promise<Result<TransferResult>> {
  if (!(await db.collection('packages').countDocuments({ _id: input.packageName as never }, { limit: 1 }))) {
    return fail(new NotFoundError(`No package named "${input.packageName}".`));
  }
  const steps = [
    walletDebit(input.userId, input.amount),
    { name: 'credit', collection: 'packages', target: input.packageName, inc: { sponsorBalance: input.amount } },
  ];
  return runTransfer(db, { kind: 'SPONSORSHIP', ...input }, steps, effectKey);
}

/**
 * Moves `amount` from the package's sponsorBalance to the maintainer's wallet, exactly once: the debit is guarded by
 * `maintainers: viewer` and `sponsorBalance >= amount` in the same filter; the read after a refused debit tells
 * NOT_FOUND from FORBIDDEN from INSUFFICIENT_FUNDS.
 */
export async function withdrawSponsorship(
  db: Db,
  input: { userId: string; packageName: string; amount: number },
  effectKey: string | null = null,
): Promise<Result<TransferResult>> {
  const steps: EffectStep[] = [
    {
      name: 'debit',
      collection: 'packages',
      target: input.packageName,
      inc: { sponsorBalance: -input.amount },
      guard: { maintainers: input.userId, sponsorBalance: { $gte: input.amount } },
    },
    walletCredit(input.userId, input.amount),
  ];
  return runTransfer(db, { kind: 'WITHDRAWAL', ...input }, steps, effectKey);
}

async function runTransfer(
  db: Db,
  input: { kind: TransferKind; userId: string; packageName: string; amount: number },
  steps: EffectStep[],
  effectKey: string | null,
): Promise<Result<TransferResult>> {
  const id = effectKey ?? newEffectId();
  const record = effectRecord({
    id,
    kind: input.kind,
    steps,
    // Refused debit: the transfer never happened, and is not kept.
    abort: { delete: true },
    doneSet: { status: 'COMPLETED' },
    reverseSet: { status: 'REVERSED' },
  });
  const doc: TransferDoc = { _id: id, ...input, status: 'PENDING', createdAt: new Date(), effects: [record] };
  const ref = { collection: 'transfers', id, effectId: id };
  let outcome: EffectOutcome;
  try {
    await transfers(db).insertOne(doc);
    outcome = await completeEffect(db, ref, record);
  } catch (error) {
    if (effectKey === null || !isDuplicateKeyError(error)) throw error;
    // This same request ran before (a keyed retry after a crash or a lost answer): finish what it started.
    outcome = await completeEffect(db, ref);
  }
  // Reads after the writes: the transfer's final state, and the balance that explains a refusal or is shown.
  const transfer = outcome === 'refused' || outcome === 'aborted' ? null : await transfers(db).findOne({ _id: id }, { projection: TRANSFER_PROJECTION });
  if (!transfer) return explainRefusedDebit(db, input);
  if (transfer.status === 'REVERSED') return fail(new NotFoundError(`No package named "${input.packageName}"; the amount was refunded.`));
  return ok({ transfer, balance: await findCredits(db, input.userId) });
}

/** After a refused debit: NOT_FOUND (no package), FORBIDDEN (not a maintainer) or INSUFFICIENT_FUNDS with the balance. */
async function explainRefusedDebit(db: Db, input: { kind: TransferKind; userId: string; packageName: string; amount: number }): Promise<Result<never>> {
  if (input.kind === 'SPONSORSHIP') {
    const available = await findCredits(db, input.userId);
    return fail(new InsufficientFundsError(`Your balance (${available}) does not cover ${input.amount}.`, available));
  }
  const pkg = await db
    .collection('packages')
    .findOne({ _id: input.packageName as never }, { projection: { maintainers: 1, sponsorBalance: { $ifNull: ['$sponsorBalance', 0] } } });
  if (!pkg) return fail(new NotFoundError(`No package named "${input.packageName}".`));
  if (!(pkg.maintainers as string[]).includes(input.userId)) return fail(new ForbiddenError('Only a maintainer of the package can withdraw its sponsorships.'));
  const available = pkg.sponsorBalance as number;
  return fail(new InsufficientFundsError(`The package's sponsor balance (${available}) does not cover ${input.amount}.`, available));
}

/** A position in a newest-first listing: the time and the id that breaks ties. */
export interface LedgerCursor {
  at: Date;
  id: string;
}

export interface LedgerPage {
  after?: LedgerCursor;
  before?: LedgerCursor;
  limit: number;
  inverted: boolean;
}

/** Filter and sort for a newest-first page over (`timeField`, `_id`), strictly after or before the cursors. */
export function ledgerPageQuery(timeField: string, idField: string, page: LedgerPage): { bounds: Document[]; sort: Record<string, 1 | -1> } {
  const older = (c: LedgerCursor) => ({ $or: [{ [timeField]: { $lt: c.at } }, { [timeField]: c.at, [idField]: { $lt: c.id } }] });
  const newer = (c: LedgerCursor) => ({ $or: [{ [timeField]: { $gt: c.at } }, { [timeField]: c.at, [idField]: { $gt: c.id } }] });
  const bounds = [...(page.after ? [older(page.after)] : []), ...(page.before ? [newer(page.before)] : [])];
  const direction = page.inverted ? 1 : -1;
  return { bounds, sort: { [timeField]: direction, [idField]: direction } };
}

/** One page of the user's transfers (sponsorships made, withdrawals received), newest first. */
export async function findTransferPage(db: Db, userId: string, page: LedgerPage): Promise<TransferView[]> {
  const { bounds, sort } = ledgerPageQuery('createdAt', '_id', page);
  return transfers(db)
    .find({ userId, ...(bounds.length > 0 ? { $and: bounds } : {}) }, { projection: TRANSFER_PROJECTION })
    .sort(sort)
    .limit(page.limit)
    .toArray();
}

export interface SponsorView {
  userId: string;
  /** Sum of the user's completed sponsorships of the package. */
  amount: number;
  lastSponsoredAt: Date;
}

/**
 * One page of a package's sponsors, most recent sponsorship first: each sponsor's amount is summed by the aggregation
 * from the completed sponsorships, never kept by read-modify-write.
 */
export async function findSponsorPage(db: Db, packageName: string, page: LedgerPage): Promise<SponsorView[]> {
  const { bounds, sort } = ledgerPageQuery('lastSponsoredAt', '_id', page);
  const rows = await transfers(db)
    .aggregate<{ _id: string; amount: number; lastSponsoredAt: Date }>([
      { $match: { packageName, kind: 'SPONSORSHIP', status: 'COMPLETED' } },
      { $group: { _id: '$userId', amount: { $sum: '$amount' }, lastSponsoredAt: { $max: '$createdAt' } } },
      ...(bounds.length > 0 ? [{ $match: { $and: bounds } }] : []),
      { $sort: sort },
      { $limit: page.limit },
    ])
    .toArray();
  return rows.map((row) => ({ userId: row._id, amount: row.amount, lastSponsoredAt: row.lastSponsoredAt }));
}
