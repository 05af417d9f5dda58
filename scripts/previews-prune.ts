// `npm run previews:prune [-- --days N]`: drops preview databases unused for N days (default PREVIEW_TTL_DAYS, 14) on
// MONGODB_URI; never MONGODB_DB. The same job runs daily as the cron function api/cron/previews-prune.ts.
import { parseArgs } from 'node:util';
import { closeMongoClient, getMongoClient } from '../src/db/client.js';
import { prunePreviewDatabases } from '../src/db/previews.js';
import { primaryDatabaseName, readEnv } from '../src/env.js';

const { values } = parseArgs({ options: { days: { type: 'string' } } });
const env = readEnv();
const days = values.days === undefined ? env.PREVIEW_TTL_DAYS : Number(values.days);
if (!Number.isInteger(days) || days < 1) {
  console.error('--days must be a positive whole number');
  process.exit(2);
}
try {
  const report = await prunePreviewDatabases(getMongoClient(), { days, primary: primaryDatabaseName(env) });
  console.log(`unused for ${days} days: dropped ${report.dropped.length} [${report.dropped.join(', ')}]`);
  console.log(`kept ${report.kept.length}; stamped ${report.stamped.length} seen for the first time [${report.stamped.join(', ')}]`);
} finally {
  await closeMongoClient();
}
