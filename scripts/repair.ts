// `npm run repair [-- --older-than <seconds>]`: finishes or compensates every pending effect older than the age
// (default 60) in MONGODB_URI / MONGODB_DB, prints one summary line and exits 0 (docs/effects.md).
import { parseArgs } from 'node:util';
import { closeMongoClient, getDb } from '../src/db/client.js';
import { DEFAULT_REPAIR_AGE_SECONDS, formatRepairReport, repairRegistry } from '../src/effects/repair.js';

const { values } = parseArgs({ options: { 'older-than': { type: 'string', default: String(DEFAULT_REPAIR_AGE_SECONDS) } } });
const olderThan = Number(values['older-than']);
if (!Number.isInteger(olderThan) || olderThan < 0) {
  console.error(`--older-than must be a whole number of seconds, not "${values['older-than']}"`);
  process.exit(2);
}
try {
  console.log(formatRepairReport(await repairRegistry(getDb(), olderThan)));
} finally {
  await closeMongoClient();
}
