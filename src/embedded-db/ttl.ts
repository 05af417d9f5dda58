// TTL monitor sweep: removes documents whose indexed date plus expireAfterSeconds lies in the past, like mongod's TTL thread.
import type { Document } from 'bson';
import { pathValues } from './keys.js';
import type { Store } from './store.js';

/** Returns how many documents were removed. */
export function expireTtlDocuments(store: Store, now = Date.now()): number {
  let removed = 0;
  for (const colls of store.dbs.values()) {
    for (const coll of colls.values()) {
      for (const idx of coll.indexes) {
        const seconds = idx.spec.expireAfterSeconds;
        if (typeof seconds !== 'number') continue;
        const field = idx.fields[0];
        const expired: Document[] = [];
        for (const doc of coll.docs.values()) {
          if (idx.partial && !idx.partial.test(doc)) continue;
          // For arrays mongod uses the earliest date.
          let earliest = Infinity;
          for (const v of pathValues(doc, field)) if (v instanceof Date) earliest = Math.min(earliest, v.getTime());
          if (earliest !== Infinity && earliest + seconds * 1000 <= now) expired.push(doc);
        }
        for (const doc of expired) coll.remove(doc);
        removed += expired.length;
      }
    }
  }
  return removed;
}
