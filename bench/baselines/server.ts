// BASELINE ONLY, started by the bench and its test, never by the API: plain JSON over node:http (no GraphQL) serving
// likePost and recordView three ways — the API's own atomic ops, read-modify-write, and optimistic locking with retry.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ObjectId } from 'mongodb';
import { readViewer } from '../../src/auth/token.js';
import { getDb } from '../../src/db/client.js';
import { addLike, addView } from '../../src/posts/post.ops.js';
import { ensureUser } from '../../src/users/user.ops.js';
import { naiveLikePost, naiveRecordView } from '../../test/concurrency/naive-ops.js';
import { optimisticLikePost, optimisticRecordView } from './optimistic-ops.js';

export const BASELINE_VARIANTS = ['atomic', 'rmw', 'occ'] as const;
export type BaselineVariant = (typeof BASELINE_VARIANTS)[number];
export type BaselineOp = 'like' | 'view';

/** The path a variant's op is served on, e.g. /occ/view. */
export function baselinePath(variant: BaselineVariant, op: BaselineOp): string {
  return `/${variant}/${op}`;
}

/** The JSON every baseline answers with; status 200 for every outcome the caller can act on, like the API's typed results. */
export interface BaselineReply {
  ok: boolean;
  code?: 'NOT_FOUND' | 'UNAUTHENTICATED' | 'BAD_REQUEST' | 'GAVE_UP';
  retries?: number;
  post?: { id: string; likeCount: number; viewCount: number };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

async function handle(req: IncomingMessage): Promise<BaselineReply> {
  const [, variant, op] = (req.url ?? '').split('/') as [string, BaselineVariant, BaselineOp];
  let postId: ObjectId;
  try {
    postId = new ObjectId(String((JSON.parse(await readBody(req)) as { postId?: unknown }).postId));
  } catch {
    return { ok: false, code: 'BAD_REQUEST' };
  }
  const db = getDb();
  // The same identity work as the API: likes verify the bearer token and upsert the user; views are anonymous.
  let userId = '';
  if (op === 'like') {
    const viewer = await readViewer(req.headers.authorization ?? null).catch(() => null);
    if (!viewer) return { ok: false, code: 'UNAUTHENTICATED' };
    await ensureUser(db, viewer);
    userId = viewer.id;
  }
  if (variant === 'atomic') {
    const result = op === 'like' ? await addLike(db, postId, userId) : await addView(db, postId, null);
    if (!result.ok) return { ok: false, code: 'NOT_FOUND' };
    const { _id, likeCount, viewCount } = result.value;
    return { ok: true, post: { id: _id.toHexString(), likeCount, viewCount } };
  }
  if (variant === 'rmw') {
    await (op === 'like' ? naiveLikePost(db, postId, userId) : naiveRecordView(db, postId));
    return { ok: true };
  }
  const outcome = op === 'like' ? await optimisticLikePost(db, postId, userId) : await optimisticRecordView(db, postId);
  if (outcome.status === 'applied') return { ok: true, retries: outcome.retries };
  return { ok: false, code: outcome.status === 'not-found' ? 'NOT_FOUND' : 'GAVE_UP', retries: outcome.retries };
}

function isRoute(url: string | undefined): boolean {
  const [, variant, op] = (url ?? '').split('/');
  return (BASELINE_VARIANTS as readonly string[]).includes(variant ?? '') && (op === 'like' || op === 'view');
}

/** A node:http server for the baselines on the database named by MONGODB_URI / MONGODB_DB (the API's own client). */
export function createBaselineServer(): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || !isRoute(req.url)) {
      res.writeHead(404).end();
      return;
    }
    handle(req).then(
      (reply) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply)),
      (error: unknown) => {
        console.error('baseline request failed', error);
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"ok":false}');
      },
    );
  });
}
