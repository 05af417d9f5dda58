// `npm run migrate`: brings MONGODB_URI / MONGODB_DB up to the current code. Every migration is idempotent and safe
// while the API serves, so this runs on every deploy (and twice changes nothing the second time).
import { closeMongoClient, getDb } from '../src/db/client.js';
import { dropDeadParts } from './migrations/drop-dead-parts.js';
import { migrateReleaseSortKeys } from './migrations/release-sort-keys.js';
import { migrateTopLikedPosts } from './migrations/top-liked-posts.js';

try {
  const db = getDb();
  const rekeyed = await migrateReleaseSortKeys(db);
  const removed = await dropDeadParts(db);
  const ranked = await migrateTopLikedPosts(db);
  console.log(
    `migrate: ${rekeyed} release sort keys rewritten; ${ranked} package rankings written; removed: ${removed.length > 0 ? removed.join(', ') : 'nothing'}`,
  );
} finally {
  await closeMongoClient();
}
