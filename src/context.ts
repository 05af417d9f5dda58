// Builds the per-request context: the database handle, the authenticated viewer and request facts.
import type { Db } from 'mongodb';
import type { YogaInitialContext } from 'graphql-yoga';
import { getPreparedDb, getReadyDb } from './db/client.js';
import { readViewer, type Viewer } from './auth/token.js';
import type { DbOp } from './db/trace.js';
import type { EffectKeyClaim } from './idempotency/idempotency.plugin.js';
import { requestIdOf } from './security/request-id.js';
import type { TypedErrorCodes } from './security/typed-error-log.pothos-plugin.js';

export interface Context extends TypedErrorCodes {
  db: Db;
  /** The authenticated user, or null for anonymous requests. */
  viewer: Viewer | null;
  requestId: string;
  clientIp: string;
  /** Database commands this request issued, collected only when DB_TRACE=1. */
  dbOps: DbOp[];
  /**
   * A mutation field's own effect key, which its op records in the same write as its effect so that a retry after a
   * crash recognizes it (docs/idempotency.md); null without an Idempotency-Key. Replaced by the idempotency plugin,
   * whose version claims the key on the first call.
   */
  effectKeyFor: EffectKeyClaim;
}

/**
 * Synchronous for an anonymous request on a warm instance (the database prepared already): every await here would cost
 * every request a round of promise jobs. A token is verified asynchronously, and so is a first request's preparation.
 */
export function createContext({ request }: YogaInitialContext): Context | Promise<Context> {
  const authorization = request.headers.get('authorization');
  const prepared = getPreparedDb();
  if (prepared && authorization === null) return contextOf(request, prepared, null);
  return (async () => {
    const db = prepared ?? (await getReadyDb());
    // The database too: a publish token is looked up by its hash.
    return contextOf(request, db, await readViewer(authorization, db));
  })();
}

function contextOf(request: Request, db: Db, viewer: Viewer | null): Context {
  return {
    db,
    viewer,
    requestId: requestIdOf(request),
    clientIp: readClientIp(request.headers),
    dbOps: [],
    effectKeyFor: noEffectKey,
    typedErrorCodes: [],
  };
}

const noEffectKey: EffectKeyClaim = () => Promise.resolve(null);

/** Vercel puts the client address first in x-forwarded-for; the dev server sets x-real-ip itself. */
function readClientIp(headers: Headers): string {
  const forwarded = headers.get('x-forwarded-for');
  if (forwarded) return forwarded.split(',')[0]!.trim();
  return headers.get('x-real-ip') ?? 'unknown';
}
