// Vercel cron function (vercel.json "crons"): sends due PENDING payouts to PAYOUT_PROVIDER_URL (docs/credits.md).
import { sendDuePayouts } from '../../src/credits/payout.ops.js';
import { getReadyDb } from '../../src/db/client.js';
import { databaseNow } from '../../src/effects/repair.js';
import { assertStartupConfig, readEnv } from '../../src/env.js';
import { logger } from '../../src/logger.js';
import { cronRefusal, isCronRequest } from '../../src/security/cron-auth.js';

assertStartupConfig();

export async function GET(request: Request): Promise<Response> {
  if (!isCronRequest(request)) return cronRefusal();
  const providerUrl = readEnv().PAYOUT_PROVIDER_URL;
  if (!providerUrl) return Response.json({ error: 'PAYOUT_PROVIDER_URL is not set' }, { status: 503 });
  const db = await getReadyDb();
  const now = await databaseNow(db);
  // Well inside the function's time limit; what is left waits for the next run.
  const report = await sendDuePayouts(db, { providerUrl, now, dueBy: now, limit: 500 });
  logger.info(report, `payouts: ${report.sent} sent, ${report.failed} failed, ${report.retryLater} to retry`);
  return Response.json(report);
}
