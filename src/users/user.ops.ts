// Users: created on a user's first write by an upsert on _id, so concurrent first requests create one document.
import type { Db } from 'mongodb';
import { isDuplicateKeyError } from '../db/errors.js';
import type { Viewer } from '../auth/token.js';

export interface UserDoc {
  _id: string;
  name: string | null;
  createdAt: Date;
}

export const USER_PROJECTION = { name: 1 } as const;

function users(db: Db) {
  return db.collection<UserDoc>('users');
}

// Users this instance already upserted, so a busy instance does not repeat the upsert on every mutation.
// It is only a shortcut: the upsert itself is what guarantees one document per user.
const ensuredUsers = new Set<string>();
const MAX_ENSURED_USERS = 10_000;

/** atomic: creates the user once (upsert on _id) and keeps the name from the latest token. */
export async function ensureUser(db: Db, viewer: Viewer): Promise<void> {
  const cacheKey = `${db.databaseName}\u0000${viewer.id}\u0000${viewer.name ?? ''}`;
  if (ensuredUsers.has(cacheKey)) return;
  const upsert = () =>
    users(db).updateOne(
      { _id: viewer.id },
      viewer.name === null
        ? { $setOnInsert: { name: null, createdAt: new Date() } }
        : { $set: { name: viewer.name }, $setOnInsert: { createdAt: new Date() } },
      { upsert: true },
    );
  try {
    await upsert();
  } catch (error) {
    // A concurrent first request inserted the user between this upsert's match and insert; now it matches.
    if (!isDuplicateKeyError(error)) throw error;
    await upsert();
  }
  if (ensuredUsers.size >= MAX_ENSURED_USERS) ensuredUsers.clear();
  ensuredUsers.add(cacheKey);
}

/** Reads users by id, for the dataloader. */
export async function findUsersByIds(db: Db, ids: readonly string[]): Promise<UserDoc[]> {
  return users(db).find({ _id: { $in: [...ids] } }, { projection: USER_PROJECTION }).toArray();
}
