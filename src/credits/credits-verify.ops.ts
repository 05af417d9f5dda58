// The credits part of `npm run verify`: recounts every wallet and sponsor balance from the primary documents (payment
// events, transfers, payouts), checks that none is negative, and checks conservation: what is in the system (wallets,
// sponsor balances) plus what left it (payouts debited and not refunded) equals what the provider credited.
import type { Db } from 'mongodb';
import type { EffectRecord, EffectStep } from '../effects/effect.ops.js';
import type { Difference } from '../stats/verify.ops.js';

export interface CreditsVerification {
  differences: Difference[];
  balancesChecked: number;
  pendingEffects: number;
  marks: number;
}

type Ledger = Map<string, number>;

const account = (collection: string, id: string) => `${collection === 'users' ? 'wallet' : 'sponsorBalance'} ${id}`;

function add(ledger: Ledger, collection: string, id: string, amount: number): void {
  const key = account(collection, id);
  ledger.set(key, (ledger.get(key) ?? 0) + amount);
}

/** The applied part of an effect that is not over: its acknowledged steps. */
function addDone(ledger: Ledger, record: EffectRecord): void {
  for (const step of record.steps as EffectStep[]) {
    if (!record.done.some((d) => d.step === step.name)) continue;
    for (const amount of Object.values(step.inc)) add(ledger, step.collection, step.target, amount);
  }
}

/** Recounts every balance from the primaries and compares it with the kept one; notes effects in flight on it. */
export async function verifyCredits(db: Db): Promise<CreditsVerification> {
  const expected: Ledger = new Map();
  const inFlight = new Map<string, number>();
  const note = (collection: string, id: string) => inFlight.set(account(collection, id), (inFlight.get(account(collection, id)) ?? 0) + 1);
  let pendingEffects = 0;
  let credited = 0;
  // Debited from wallets and not refunded: PENDING (debit over) and SENT payouts.
  let paidOut = 0;
  const noteRecord = (record: EffectRecord) => {
    pendingEffects += 1;
    for (const step of record.steps) note(step.collection, step.target);
    addDone(expected, record);
  };

  for await (const event of db.collection('paymentEvents').find({}, { projection: { userId: 1, amount: 1, effects: 1 } })) {
    const record = (event.effects as EffectRecord[] | undefined)?.[0];
    if (record) noteRecord(record);
    else {
      add(expected, 'users', event.userId as string, event.amount as number);
      credited += event.amount as number;
    }
  }
  for await (const transfer of db.collection('transfers').find({}, { projection: { kind: 1, userId: 1, packageName: 1, amount: 1, status: 1, effects: 1 } })) {
    const record = (transfer.effects as EffectRecord[] | undefined)?.[0];
    if (record) noteRecord(record);
    else if (transfer.status === 'COMPLETED') {
      const [from, to] = transfer.kind === 'SPONSORSHIP' ? (['users', 'packages'] as const) : (['packages', 'users'] as const);
      add(expected, from, from === 'users' ? (transfer.userId as string) : (transfer.packageName as string), -transfer.amount);
      add(expected, to, to === 'users' ? (transfer.userId as string) : (transfer.packageName as string), transfer.amount as number);
    }
  }
  for await (const payout of db.collection('payouts').find({}, { projection: { userId: 1, amount: 1, status: 1, effects: 1 } })) {
    const records = (payout.effects as EffectRecord[] | undefined) ?? [];
    const debit = records.find((r) => r.kind === 'requestPayout');
    const refund = records.find((r) => r.kind === 'refundPayout');
    for (const record of records) noteRecord(record);
    if (!debit) add(expected, 'users', payout.userId as string, -payout.amount);
    if (payout.status === 'FAILED' && !refund) add(expected, 'users', payout.userId as string, payout.amount as number);
    if (!debit && payout.status !== 'FAILED') paidOut += payout.amount as number;
  }

  const differences: Difference[] = [];
  let marks = 0;
  let held = 0;
  let balancesChecked = 0;
  const kept: Ledger = new Map();
  for (const [collection, field] of [
    ['users', 'credits'],
    ['packages', 'sponsorBalance'],
  ] as const) {
    const cursor = db.collection(collection).find(
      {},
      { projection: { value: { $ifNull: [`$${field}`, 0] }, marks: { $size: { $ifNull: ['$effectMarks', []] } }, effectMarks: 1 } },
    );
    for await (const doc of cursor) {
      balancesChecked += 1;
      const id = doc._id as unknown as string;
      const value = doc.value as number;
      kept.set(account(collection, id), value);
      held += value;
      // Marks on packages are counted by the posts recount already (src/stats/verify.ops.ts).
      if (collection === 'users') marks += doc.marks as number;
      for (let i = 0; i < (doc.marks as number); i++) note(collection, id);
      if (value < 0) differences.push({ figure: 'negative balance', where: account(collection, id), kept: value, recounted: 0, inFlight: 0 });
    }
  }
  for (const key of new Set([...expected.keys(), ...kept.keys()])) {
    const keptValue = kept.get(key) ?? 0;
    const recounted = expected.get(key) ?? 0;
    if (keptValue !== recounted) differences.push({ figure: 'balance', where: key, kept: keptValue, recounted, inFlight: inFlight.get(key) ?? 0 });
  }
  // Conservation: held + paid out = credited, exact whenever nothing is in flight.
  if (held + paidOut !== credited) {
    differences.push({ figure: 'credits held + paid out vs credited', where: 'registry', kept: held + paidOut, recounted: credited, inFlight: pendingEffects + marks });
  }
  return { differences, balancesChecked, pendingEffects, marks };
}
