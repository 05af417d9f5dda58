// `npm run db:indexes`: creates every index the API relies on in the MONGODB_URI database (run once per deploy).
import { closeMongoClient, getDb } from '../src/db/client.js';
import { ensureIndexes } from '../src/db/indexes.js';

const db = getDb();
await ensureIndexes(db);
console.log(`indexes ensured in database "${db.databaseName}"`);
await closeMongoClient();
