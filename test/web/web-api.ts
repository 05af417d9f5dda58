// The API and the web page on one node server, as `npm run dev` serves them, with the page built by Vite into a
// temporary folder; NODE_ENV=production so CORS and the rest run with their production defaults.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Db } from 'mongodb';
import { build } from 'vite';
import { signToken } from '../../src/auth/token.js';
import { closeMongoClient } from '../../src/db/client.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { resetEnv } from '../../src/env.js';
import { createNodeServer } from '../../src/node-server.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';

const SECRET = 'web-test-secret-that-is-long-enough-for-hs256-0123';
export const CHROMIUM = '/usr/bin/chromium';

export interface WebApi {
  /** http://127.0.0.1:<port> */
  origin: string;
  db: Db;
  token(userId: string, name?: string): Promise<string>;
  gql(query: string, variables?: Record<string, unknown>, token?: string): Promise<any>;
  close(): Promise<void>;
}

export async function startWebApi(prefix: string, env: Record<string, string> = {}): Promise<WebApi> {
  const webDir = await mkdtemp(join(tmpdir(), 'registry-web-'));
  await build({ configFile: fileURLToPath(new URL('../../web/vite.config.ts', import.meta.url)), logLevel: 'warn', build: { outDir: webDir, emptyOutDir: true } });
  const mongoUri = getTestMongoUri();
  const dbName = uniqueDbName(prefix);
  Object.assign(process.env, { NODE_ENV: 'production', MONGODB_URI: mongoUri, MONGODB_DB: dbName, AUTH_JWT_SECRET: SECRET, RATE_LIMITS: 'off' }, env);
  resetEnv();
  const client = new MongoClient(mongoUri);
  const db = client.db(dbName);
  await ensureIndexes(db);
  const server = createNodeServer({ webDir });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    db,
    token: (userId, name) => signToken(userId, { name, secret: SECRET }),
    async gql(query, variables, token) {
      const response = await fetch(`${origin}/api/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return response.json();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeMongoClient();
      await client.close();
      await rm(webDir, { recursive: true, force: true });
    },
  };
}
