// Every database operation on publish tokens. Only a secret's SHA-256 is stored, under a unique index, so the insert is
// the uniqueness check; a token authenticates only while unrevoked and unexpired, and its lastUsedAt only moves forward.
import { ObjectId, type Db } from 'mongodb';
import { isDuplicateKeyError } from '../db/errors.js';
import { fail, NotFoundError, ok, type Result } from '../errors.js';
import { cryptoSecretSource, hashPublishToken, isWellFormedPublishToken, newPublishTokenSecret, type SecretSource, shownPrefix } from './publish-token-secret.js';

export interface PublishTokenDoc {
  _id: ObjectId;
  /** SHA-256 of the secret (unique): the only form of it the registry keeps. */
  secretHash: string;
  userId: string;
  name: string;
  /** "reg_" and the next 8 characters, to tell tokens apart in a list. */
  prefix: string;
  /** Normalized names of the packages it may publish to. */
  packageNames: string[];
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** Who a valid publish token authenticates, and what for. */
export interface PublishTokenGrant {
  tokenId: string;
  userId: string;
  packageNames: string[];
}

/** Draws of a new secret before giving up: with 256 random bits a second draw is already never needed. */
export const MAX_SECRET_ATTEMPTS = 5;

/** lastUsedAt is written at most once per this many milliseconds per token, so a CI burst is not a hot write. */
export const LAST_USED_RESOLUTION_MS = 60_000;

export const PUBLISH_TOKEN_PROJECTION = { userId: 1, name: 1, prefix: 1, packageNames: 1, createdAt: 1, expiresAt: 1, lastUsedAt: 1 } as const;

function tokens(db: Db) {
  return db.collection<PublishTokenDoc>('publishTokens');
}

/**
 * Inserts a token for a new secret and returns the secret, once. The unique index on secretHash is the uniqueness
 * check: on a duplicate key the insert draws a new secret, at most MAX_SECRET_ATTEMPTS times, so two users never share
 * a token and no request fails while fewer collisions than that occur.
 */
export async function insertPublishToken(
  db: Db,
  input: { userId: string; name: string; packageNames: string[]; expiresInDays: number | null },
  source: SecretSource = cryptoSecretSource,
): Promise<{ secret: string; token: PublishTokenDoc }> {
  const createdAt = new Date();
  const expiresAt = input.expiresInDays === null ? null : new Date(createdAt.getTime() + input.expiresInDays * 86_400_000);
  for (let attempt = 1; attempt <= MAX_SECRET_ATTEMPTS; attempt++) {
    const secret = newPublishTokenSecret(source);
    const token: PublishTokenDoc = {
      _id: new ObjectId(),
      secretHash: hashPublishToken(secret),
      userId: input.userId,
      name: input.name,
      prefix: shownPrefix(secret),
      packageNames: input.packageNames,
      createdAt,
      expiresAt,
      revokedAt: null,
      lastUsedAt: null,
    };
    try {
      await tokens(db).insertOne(token);
      return { secret, token };
    } catch (error) {
      // _id is fresh, so a duplicate key is the secret's hash: draw again.
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
  throw new Error(`no unique publish-token secret in ${MAX_SECRET_ATTEMPTS} draws: the secret source is broken`);
}

/** atomic: revokes the viewer's own token (idempotent); NOT_FOUND for anyone else's, so it never tells they exist. */
export async function revokePublishToken(db: Db, input: { id: ObjectId; userId: string }): Promise<Result<PublishTokenDoc>> {
  const revoked = await tokens(db).findOneAndUpdate(
    { _id: input.id, userId: input.userId, revokedAt: null },
    { $currentDate: { revokedAt: true } },
    { returnDocument: 'after', projection: PUBLISH_TOKEN_PROJECTION },
  );
  if (revoked) return ok(revoked);
  const already = await tokens(db).findOne({ _id: input.id, userId: input.userId }, { projection: PUBLISH_TOKEN_PROJECTION });
  return already ? ok(already) : fail(new NotFoundError(`You have no publish token with id "${input.id.toHexString()}".`));
}

/** The grant of a secret that is well formed, known, unrevoked and unexpired; null otherwise, whichever it is. */
export async function findPublishTokenGrant(db: Db, secret: string): Promise<PublishTokenGrant | null> {
  if (!isWellFormedPublishToken(secret)) return null;
  const token = await tokens(db).findOne(
    { secretHash: hashPublishToken(secret), revokedAt: null, $or: [{ expiresAt: null }, { expiresAt: { $gt: new Date() } }] },
    { projection: { userId: 1, packageNames: 1, lastUsedAt: 1 } },
  );
  if (!token) return null;
  // Written at most once a minute: the read above already says whether this minute has its write.
  if (token.lastUsedAt === null || Date.now() - token.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) await touchPublishToken(db, token._id);
  return { tokenId: token._id.toHexString(), userId: token.userId, packageNames: token.packageNames };
}

/**
 * atomic: moves lastUsedAt to the database clock, never backwards ($max with $$NOW, whatever the instances' clocks),
 * and only when it is at least a minute old, so concurrent uses of one token write it once per minute.
 */
export async function touchPublishToken(db: Db, id: ObjectId): Promise<boolean> {
  const { modifiedCount } = await tokens(db).updateOne(
    { _id: id, $expr: { $lte: [{ $ifNull: ['$lastUsedAt', new Date(0)] }, { $subtract: ['$$NOW', LAST_USED_RESOLUTION_MS] }] } },
    [{ $set: { lastUsedAt: { $max: ['$lastUsedAt', '$$NOW'] } } }],
  );
  return modifiedCount === 1;
}

/** The user's unrevoked tokens, newest first (expired ones too, so their owner sees why CI stopped). */
export async function findPublishTokens(db: Db, userId: string): Promise<PublishTokenDoc[]> {
  return tokens(db).find({ userId, revokedAt: null }, { projection: PUBLISH_TOKEN_PROJECTION }).sort({ createdAt: -1, _id: -1 }).limit(100).toArray();
}
