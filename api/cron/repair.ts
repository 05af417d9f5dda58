// Vercel cron function (vercel.json "crons"): the repair run of `npm run repair`, for effects a function left pending.
import { getReadyDb } from '../../src/db/client.js';
import { formatRepairReport, repairRegistry } from '../../src/effects/repair.js';
import { assertStartupConfig } from '../../src/env.js';
import { logger } from '../../src/logger.js';
import { cronRefusal, isCronRequest } from '../../src/security/cron-auth.js';

assertStartupConfig();

export async function GET(request: Request): Promise<Response> {
  if (!isCronRequest(request)) return cronRefusal();
  const report = await repairRegistry(await getReadyDb());
  logger.info(report, formatRepairReport(report));
  return Response.json(report);
}
