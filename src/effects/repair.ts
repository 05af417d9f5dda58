// The repair run shared by `npm run repair` and the cron function: every effect of the registry left pending longer
// than the grace period is finished (or aborted), and every step mark left behind is resolved (docs/effects.md).
import type { Db } from 'mongodb';
import { repairEffects, type RepairSummary } from './effect.ops.js';

/** Documents that record effects, and documents their steps write to. */
export const EFFECT_COLLECTIONS = { primaries: ['posts'], targets: ['packages'] } as const;

/** Default grace period: effects younger than this are most likely still being finished by their own request. */
export const DEFAULT_REPAIR_AGE_SECONDS = 60;

export interface RepairReport extends RepairSummary {
  olderThanSeconds: number;
  durationMs: number;
}

/** Repairs every effect older than `olderThanSeconds` on the database's clock; safe to run concurrently with anything. */
export async function repairRegistry(db: Db, olderThanSeconds: number = DEFAULT_REPAIR_AGE_SECONDS): Promise<RepairReport> {
  const started = performance.now();
  const before = new Date((await databaseNow(db)).getTime() - olderThanSeconds * 1000);
  const summary = await repairEffects(db, EFFECT_COLLECTIONS, before);
  return { ...summary, olderThanSeconds, durationMs: Math.round(performance.now() - started) };
}

/** The database's clock, so that an instance's skewed clock never decides an effect's age. */
async function databaseNow(db: Db): Promise<Date> {
  const hello = await db.admin().command({ hello: 1 });
  return hello.localTime instanceof Date ? hello.localTime : new Date();
}

/** The one line `npm run repair` and the cron function log. */
export function formatRepairReport(report: RepairReport): string {
  return (
    `repair: ${report.finished} effects finished, ${report.aborted} aborted, ${report.marksCleaned} marks cleaned, ` +
    `${report.marksUndone} stale marks undone (older than ${report.olderThanSeconds} s) in ${report.durationMs} ms`
  );
}
