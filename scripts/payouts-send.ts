// `npm run payouts:send [-- --loop] [--backoff-ms 30000] [--lease-ms 60000]`: sends every due PENDING payout to
// PAYOUT_PROVIDER_URL once (or keeps doing it with --loop), on MONGODB_URI / MONGODB_DB; prints one line per run.
// The same code runs as the cron function api/cron/payouts.ts, and repair runs it too (docs/credits.md).
import { parseArgs } from 'node:util';
import { sendDuePayouts } from '../src/credits/payout.ops.js';
import { closeMongoClient, getDb } from '../src/db/client.js';
import { databaseNow } from '../src/effects/repair.js';
import { readEnv } from '../src/env.js';

const { values } = parseArgs({ options: { loop: { type: 'boolean', default: false }, 'backoff-ms': { type: 'string' }, 'lease-ms': { type: 'string' } } });
const providerUrl = readEnv().PAYOUT_PROVIDER_URL;
if (!providerUrl) {
  console.error('PAYOUT_PROVIDER_URL is not set');
  process.exit(2);
}
const db = getDb();
try {
  do {
    const now = await databaseNow(db);
    const report = await sendDuePayouts(db, {
      providerUrl,
      now,
      dueBy: now,
      backoffMs: values['backoff-ms'] === undefined ? undefined : Number(values['backoff-ms']),
      leaseMs: values['lease-ms'] === undefined ? undefined : Number(values['lease-ms']),
    });
    console.log(`payouts: ${report.sent} sent, ${report.failed} failed, ${report.retryLater} to retry`);
    if (values.loop && report.sent + report.failed + report.retryLater === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  } while (values.loop);
} finally {
  await closeMongoClient();
}
