// DELIBERATELY WRONG versions of the credit moves, kept only to prove the credits invariant tests can fail: each
// reads the balance, checks it in memory, then writes the debit and the credit as two unguarded $inc.
import type { Db } from 'mongodb';

/** Naive sponsorPackage: every request that read the same balance passes the check; the wallet goes negative. */
export async function naiveSponsor(db: Db, userId: string, packageName: string, amount: number): Promise<boolean> {
  const user = await db.collection('users').findOne({ _id: userId as never });
  if (((user?.credits as number | undefined) ?? 0) < amount) return false;
  await db.collection('users').updateOne({ _id: userId as never }, { $inc: { credits: -amount } });
  await db.collection('packages').updateOne({ _id: packageName as never }, { $inc: { sponsorBalance: amount } });
  return true;
}

/** Naive withdrawSponsorship: the same read-check-then-write on the package's sponsorBalance. */
export async function naiveWithdraw(db: Db, userId: string, packageName: string, amount: number): Promise<boolean> {
  const pkg = await db.collection('packages').findOne({ _id: packageName as never });
  if (!pkg || !(pkg.maintainers as string[]).includes(userId) || ((pkg.sponsorBalance as number | undefined) ?? 0) < amount) return false;
  await db.collection('packages').updateOne({ _id: packageName as never }, { $inc: { sponsorBalance: -amount } });
  await db.collection('users').updateOne({ _id: userId as never }, { $inc: { credits: amount } });
  return true;
}
