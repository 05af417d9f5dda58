// Vercel cron function (vercel.json "crons"): drops preview databases unused for PREVIEW_TTL_DAYS (docs/deploy.md).
import { getMongoClient } from '../../src/db/client.js';
import { prunePreviewDatabases } from '../../src/db/previews.js';
import { assertStartupConfig, primaryDatabaseName, readEnv } from '../../src/env.js';
import { logger } from '../../src/logger.js';
import { cronRefusal, isCronRequest } from '../../src/security/cron-auth.js';

assertStartupConfig();

export async function GET(request: Request): Promise<Response> {
  if (!isCronRequest(request)) return cronRefusal();
  const env = readEnv();
  const report = await prunePreviewDatabases(getMongoClient(), { days: env.PREVIEW_TTL_DAYS, primary: primaryDatabaseName(env) });
  logger.info({ ...report, days: env.PREVIEW_TTL_DAYS }, 'pruned preview databases');
  return Response.json(report);
}
