// Preview databases (one per branch, src/env.ts): demo data on first use, a last-use stamp, and pruning of the unused.
import type { Db, MongoClient } from 'mongodb';
import { PREVIEW_DB_PREFIX } from '../env.js';
import { logger } from '../logger.js';
import { seedDemoData } from '../seed.js';

/** The collection and document holding a preview database's last use. */
export const META_COLLECTION = 'meta';
export const USAGE_ID = 'usage';
/** An instance stamps last use at most this often per database: one small write per hour, not one per request. */
export const USAGE_STAMP_INTERVAL_MS = 60 * 60 * 1000;

interface UsageDoc {
  _id: string;
  lastUsedAt: Date;
}

const lastStamped = new Map<string, number>();

/** Demo data for a reviewer opening the preview URL; seedDemoData writes nothing if the demo package exists. */
export async function seedPreview(db: Db): Promise<void> {
  if (await seedDemoData(db)) logger.info({ database: db.databaseName }, 'seeded a new preview database with demo data');
}

/** Stamps the database's last use with the database clock, unless this instance did so within the hour. Never throws. */
export function recordPreviewUse(db: Db, now = Date.now()): Promise<void> | undefined {
  const last = lastStamped.get(db.databaseName);
  if (last !== undefined && now - last < USAGE_STAMP_INTERVAL_MS) return undefined;
  lastStamped.set(db.databaseName, now);
  return db
    .collection<UsageDoc>(META_COLLECTION)
    .updateOne({ _id: USAGE_ID }, { $currentDate: { lastUsedAt: true } }, { upsert: true })
    .then(
      () => undefined,
      (error: unknown) => {
        // Try again on the next request rather than in an hour.
        lastStamped.delete(db.databaseName);
        logger.warn({ err: error, database: db.databaseName }, 'could not record preview database use');
      },
    );
}

export interface PruneReport {
  dropped: string[];
  kept: string[];
  /** Preview databases seen without a stamp: stamped now, so they are dropped once unused for the whole period. */
  stamped: string[];
}

/**
 * Drops every preview database (name starting "preview_") whose last use is older than `days`. Never touches
 * `primary` (MONGODB_DB) or any database without the prefix, whatever its metadata says.
 */
export async function prunePreviewDatabases(client: MongoClient, options: { days: number; primary: string; now?: Date }): Promise<PruneReport> {
  const now = options.now ?? new Date();
  const cutoff = now.getTime() - options.days * 24 * 60 * 60 * 1000;
  const { databases } = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
  const report: PruneReport = { dropped: [], kept: [], stamped: [] };
  for (const { name } of databases as { name: string }[]) {
    if (!name.startsWith(PREVIEW_DB_PREFIX) || name === options.primary) continue;
    const db = client.db(name);
    const usage = await db.collection<UsageDoc>(META_COLLECTION).findOne({ _id: USAGE_ID });
    if (!usage) {
      await db.collection<UsageDoc>(META_COLLECTION).updateOne({ _id: USAGE_ID }, { $setOnInsert: { lastUsedAt: now } }, { upsert: true });
      report.stamped.push(name);
    } else if (usage.lastUsedAt.getTime() < cutoff) {
      await db.dropDatabase();
      report.dropped.push(name);
    } else {
      report.kept.push(name);
    }
  }
  return report;
}
