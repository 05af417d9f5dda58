// Starts the real API on a fresh database and gives tests a GraphQL client, tokens and a direct db handle: over real
// HTTP (transport, concurrency and fault tests), or in-process through yoga.fetch for tests that need no socket.
import type { AddressInfo } from 'node:net';
import { MongoClient, type Db } from 'mongodb';
import { signToken } from '../../src/auth/token.js';
import { closeMongoClient } from '../../src/db/client.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { createNodeServer } from '../../src/node-server.js';
import { resetEnv } from '../../src/env.js';
import { yoga } from '../../src/yoga.js';
import { getTestMongoUri, uniqueDbName } from './db.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  extensions?: { dbOps?: { command: string; collection: string | null }[] } & Record<string, unknown>;
}

export interface TestApi {
  url: string;
  /** A direct handle on the API's database, for reading invariants. */
  db: Db;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, options?: { token?: string; headers?: Record<string, string> }): Promise<GqlResponse<T>>;
  token(userId: string, name?: string): Promise<string>;
  close(): Promise<void>;
}

export interface StartApiOptions {
  /**
   * 'http' (default): a node:http server on a loopback port, for tests of the transport, of concurrency and of faults.
   * 'in-process': requests go to yoga.fetch with what the node server adds from the socket (x-real-ip) and no socket,
   * as graphql-yoga's own examples test; `url` is then unavailable.
   */
  transport?: 'http' | 'in-process';
}

/** The request as src/node-server.ts hands it to Yoga: client-sent forwarding headers dropped, the peer address set. */
function asFromLoopbackSocket(headers: Record<string, string>): Headers {
  const result = new Headers(headers);
  result.delete('x-forwarded-for');
  result.delete('x-forwarded-proto');
  result.set('x-real-ip', '127.0.0.1');
  return result;
}

/** One API server on a database no other test file uses; env is set before the first request reads it. */
export async function startApi(prefix: string, env: Record<string, string> = {}, options: StartApiOptions = {}): Promise<TestApi> {
  const dbName = uniqueDbName(prefix);
  const mongoUri = getTestMongoUri();
  // Rate limits are off unless a test turns them on (test/security/): suites fire hundreds of calls as one user.
  Object.assign(process.env, { MONGODB_URI: mongoUri, MONGODB_DB: dbName, AUTH_JWT_SECRET: TEST_JWT_SECRET, DB_TRACE: '1', RATE_LIMITS: 'off' }, env);
  resetEnv();
  const client = new MongoClient(mongoUri);
  const db = client.db(dbName);
  await ensureIndexes(db);
  const headersOf = (request: { token?: string; headers?: Record<string, string> }) => ({
    'content-type': 'application/json',
    ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
    ...request.headers,
  });
  const token = (userId: string, name?: string) => signToken(userId, { name, secret: TEST_JWT_SECRET });
  if (options.transport === 'in-process') {
    const origin = 'http://127.0.0.1';
    return {
      get url(): string {
        throw new Error('startApi(..., { transport: "in-process" }) has no URL: start it with the default HTTP transport');
      },
      db,
      async gql(query, variables, request = {}) {
        const response = await yoga.fetch(`${origin}/api/graphql`, { method: 'POST', headers: asFromLoopbackSocket(headersOf(request)), body: JSON.stringify({ query, variables }) });
        return { status: response.status, ...((await response.json()) as object) };
      },
      token,
      async close() {
        await closeMongoClient();
        await client.close();
      },
    };
  }
  const server = createNodeServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/graphql`;
  return {
    url,
    db,
    async gql(query, variables, request = {}) {
      const response = await fetch(url, { method: 'POST', headers: headersOf(request), body: JSON.stringify({ query, variables }) });
      return { status: response.status, ...((await response.json()) as object) };
    },
    token,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeMongoClient();
      await client.close();
    },
  };
}
