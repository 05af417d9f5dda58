// TTL monitor sweep: removes documents whose indexed date plus expireAfterSeconds lies in the past, like mongod's TTL thread.
import type { Document } from 'bson';
import { runQuery } from './planner.js';
import type { Store } from './store.js';

/**
 * Returns how many documents were removed. Each TTL index is range-scanned for dates up to the cutoff (an array
 * expires with its earliest date, which is the first of its entries the scan meets), so a sweep costs what expires.
 */
export function expireTtlDocuments(store: Store, now = Date.now()): number {
  let removed = 0;
  for (const colls of store.dbs.values()) {
    for (const coll of colls.values()) {
      for (const idx of coll.indexes) {
        const seconds = idx.spec.expireAfterSeconds;
        if (typeof seconds !== 'number') continue;
        const filter = { [idx.fields[0]]: { $lte: new Date(now - seconds * 1000) } };
        const expired: Document[] = Array.from(runQuery(coll, filter, { hint: idx.name }));
        for (const doc of expired) coll.remove(doc);
        removed += expired.length;
      }
    }
  }
  return removed;
}
