// The repair run shared by `npm run repair` and the cron function: every effect of the registry left pending longer
// than the grace period is finished (or aborted), every step mark left behind is resolved (docs/effects.md), download
// buckets behind their day counter are raised, and package rankings are checked against a recount (docs/registry.md).
import type { Db } from 'mongodb';
import { sendDuePayouts, type SendReport } from '../credits/payout.ops.js';
import { syncDownloadBuckets, utcDay } from '../downloads/download.ops.js';
import { readEnv } from '../env.js';
import { repairTopLikedPosts } from '../posts/top-liked-posts.ops.js';
import { repairEffects, type RepairSummary } from './effect.ops.js';

/** Documents that record effects, and documents their steps write to (wallets are users, sponsor balances packages). */
export const EFFECT_COLLECTIONS = { primaries: ['posts', 'transfers', 'paymentEvents', 'payouts'], targets: ['packages', 'users'] } as const;

/** Default grace period: effects younger than this are most likely still being finished by their own request. */
export const DEFAULT_REPAIR_AGE_SECONDS = 60;

/** Download buckets are re-copied this many UTC days back: trendingPackages' longest window (30 days) and the day before. */
const BUCKET_REPAIR_DAYS = 31;

export interface RepairReport extends RepairSummary {
  olderThanSeconds: number;
  durationMs: number;
  /** Payouts sent, failed (and refunded) or left for a later attempt; null without PAYOUT_PROVIDER_URL. */
  payouts: SendReport | null;
  /** Download buckets raised to their package's day counter (a recordDownload cut short between its two writes). */
  bucketsSynced: number;
  /** Package rankings (topLikedPosts) checked, and rewritten from the recount because they differed. */
  rankingsChecked: number;
  rankingsCorrected: number;
}

/**
 * Repairs every effect older than `olderThanSeconds` on the database's clock, raises download buckets behind their day
 * counter, corrects package rankings that differ from their recount, then (with PAYOUT_PROVIDER_URL) asks the provider
 * about every PENDING payout whose debit is over, whatever its lease or backoff; safe to run concurrently with anything.
 */
export async function repairRegistry(db: Db, olderThanSeconds: number = DEFAULT_REPAIR_AGE_SECONDS): Promise<RepairReport> {
  const started = performance.now();
  const now = await databaseNow(db);
  const before = new Date(now.getTime() - olderThanSeconds * 1000);
  const summary = await repairEffects(db, EFFECT_COLLECTIONS, before);
  // Neither needs the grace period: each write is idempotent and never undoes a concurrent request's.
  const bucketsSynced = await syncDownloadBuckets(db, utcDay(now.getTime() - BUCKET_REPAIR_DAYS * 86_400_000));
  const rankings = await repairTopLikedPosts(db);
  const providerUrl = readEnv().PAYOUT_PROVIDER_URL;
  const payouts = providerUrl ? await sendDuePayouts(db, { providerUrl, now, dueBy: new Date(8.64e15) }) : null;
  return { ...summary, payouts, bucketsSynced, rankingsChecked: rankings.checked, rankingsCorrected: rankings.corrected, olderThanSeconds, durationMs: Math.round(performance.now() - started) };
}

/** The database's clock, so that an instance's skewed clock never decides an effect's age (nor a signature's). */
export async function databaseNow(db: Db): Promise<Date> {
  const hello = await db.admin().command({ hello: 1 });
  return hello.localTime instanceof Date ? hello.localTime : new Date();
}

/** The one line `npm run repair` and the cron function log. */
export function formatRepairReport(report: RepairReport): string {
  return (
    `repair: ${report.finished} effects finished, ${report.aborted} aborted, ${report.marksCleaned} marks cleaned, ` +
    `${report.marksUndone} stale marks undone (older than ${report.olderThanSeconds} s), ${report.bucketsSynced} download buckets synced, ` +
    `${report.rankingsCorrected} of ${report.rankingsChecked} rankings corrected` +
    (report.payouts ? `, payouts ${report.payouts.sent} sent, ${report.payouts.failed} failed, ${report.payouts.retryLater} to retry` : '') +
    ` in ${report.durationMs} ms`
  );
}
