// BENCH ONLY: the schema every peer GraphQL server serves (bare Yoga, Apollo, Mercurius), shaped so the bench's documents
// are the very ones sent to the project, with resolvers calling the project's own ops: the same database work.
import { ObjectId, type Db } from 'mongodb';
import { readViewer, type Viewer } from '../../src/auth/token.js';
import { getDb } from '../../src/db/client.js';
import { findPackage } from '../../src/packages/package.ops.js';
import { addLike, addView, type PostView } from '../../src/posts/post.ops.js';
import { ensureUser } from '../../src/users/user.ops.js';

export const PEER_TYPE_DEFS = /* GraphQL */ `
  interface Error { code: String! message: String! }
  type NotFoundError implements Error { code: String! message: String! }
  type UnauthenticatedError implements Error { code: String! message: String! }
  type Post { id: ID! likeCount: Int! viewCount: Int! }
  type RecordViewSuccess { post: Post! }
  type LikePostSuccess { post: Post! }
  union RecordViewResult = RecordViewSuccess | NotFoundError
  union LikePostResult = LikePostSuccess | NotFoundError | UnauthenticatedError
  type Package { name: String! summary: String! version: Int! releaseCount: Int! }
  type Query { package(name: String!): Package }
  type Mutation { recordView(postId: ID!): RecordViewResult! likePost(postId: ID!): LikePostResult! }
`;

/** What a peer's context holds: the Authorization header, read by the resolver that needs a viewer (as the project does per request). */
export interface PeerContext {
  authorization: string | null;
}

type Outcome = { __typename: string; code?: string; message?: string; post?: { id: string; likeCount: number; viewCount: number } };

function postOutcome(typename: string, result: { ok: true; value: PostView } | { ok: false }): Outcome {
  if (!result.ok) return { __typename: 'NotFoundError', code: 'NOT_FOUND', message: 'No such post.' };
  const { _id, likeCount, viewCount } = result.value;
  return { __typename: typename, post: { id: _id.toHexString(), likeCount, viewCount } };
}

function parsePostId(postId: string): ObjectId | null {
  return ObjectId.isValid(postId) ? new ObjectId(postId) : null;
}

const notFound: Outcome = { __typename: 'NotFoundError', code: 'NOT_FOUND', message: 'No such post.' };

/** recordView, likePost and package(name), each the project's op on the project's one MongoClient. */
export const peerOps = {
  async recordView(db: Db, postId: string): Promise<Outcome> {
    const id = parsePostId(postId);
    return id ? postOutcome('RecordViewSuccess', await addView(db, id, null)) : notFound;
  },
  async likePost(db: Db, authorization: string | null, postId: string): Promise<Outcome> {
    let viewer: Viewer | null;
    try {
      viewer = await readViewer(authorization, db);
    } catch {
      viewer = null;
    }
    if (!viewer) return { __typename: 'UnauthenticatedError', code: 'UNAUTHENTICATED', message: 'Sign in first.' };
    await ensureUser(db, viewer);
    const id = parsePostId(postId);
    return id ? postOutcome('LikePostSuccess', await addLike(db, id, viewer.id)) : notFound;
  },
  async package(db: Db, name: string) {
    const doc = await findPackage(db, name);
    return doc && { name: doc._id, summary: doc.summary, version: doc.version, releaseCount: doc.releaseCount };
  },
};

/** Resolvers in graphql-tools form (Yoga's createSchema, Apollo and Mercurius take them as they are). */
export const peerResolvers = {
  Query: {
    package: (_: unknown, args: { name: string }) => peerOps.package(getDb(), args.name),
  },
  Mutation: {
    recordView: (_: unknown, args: { postId: string }) => peerOps.recordView(getDb(), args.postId),
    likePost: (_: unknown, args: { postId: string }, context: PeerContext) => peerOps.likePost(getDb(), context.authorization, args.postId),
  },
  Error: { __resolveType: (value: Outcome) => value.__typename },
  RecordViewResult: { __resolveType: (value: Outcome) => value.__typename },
  LikePostResult: { __resolveType: (value: Outcome) => value.__typename },
};
