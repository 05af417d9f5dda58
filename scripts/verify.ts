// `npm run verify`: recounts every derived figure in MONGODB_URI / MONGODB_DB from the primary documents, prints each
// difference, and exits 1 if there is any, 0 if none (docs/effects.md).
import { closeMongoClient, getDb } from '../src/db/client.js';
import { verifyRegistry } from '../src/stats/verify.ops.js';

try {
  const result = await verifyRegistry(getDb());
  for (const d of result.differences) {
    const note = d.inFlight > 0 ? ` (${d.inFlight} effects in flight: they close it when they end, or run repair)` : '';
    console.log(`${d.figure} of ${d.where}: kept ${d.kept}, recounted ${d.recounted}${note}`);
  }
  console.log(
    `verify: ${result.differences.length} differences in ${result.packagesChecked} packages, ${result.postsChecked} posts and ${result.balancesChecked} balances; ` +
      `${result.pendingEffects} effects pending, ${result.marks} step marks`,
  );
  process.exitCode = result.differences.length > 0 ? 1 : 0;
} finally {
  await closeMongoClient();
}
