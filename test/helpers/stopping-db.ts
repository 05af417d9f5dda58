// A database handle whose caller stops (throws) instead of sending its write number `limit + 1`: the database is real,
// only the caller stops, as a killed process would. Used to cut multi-document effects after each of their writes.
import type { Collection, Db } from 'mongodb';

const WRITE_METHODS = new Set(['insertOne', 'updateOne', 'deleteOne', 'findOneAndUpdate', 'findOneAndDelete']);

export class Stopped extends Error {}

export function stoppingAfter(db: Db, limit: number): Db {
  let writes = 0;
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== 'collection') return Reflect.get(target, prop, receiver);
      return (name: string) =>
        new Proxy(target.collection(name), {
          get(collection: Collection, method, inner) {
            const value = Reflect.get(collection, method, inner) as unknown;
            if (typeof value !== 'function') return value;
            if (!WRITE_METHODS.has(String(method))) return value.bind(collection);
            return (...args: unknown[]) => {
              if (writes >= limit) throw new Stopped(`stopped before write ${writes + 1}`);
              writes += 1;
              return (value as (...a: unknown[]) => unknown).apply(collection, args);
            };
          },
        });
    },
  });
}
