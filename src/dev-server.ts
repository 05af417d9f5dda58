// `npm run dev`: the web page at / and the API on PORT (default 4000), on MONGODB_URI or else an embedded database in .data/.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { readEnv, assertStartupConfig } from './env.js';
import { signToken } from './auth/token.js';
import { closeMongoClient, getDb } from './db/client.js';
import { ensureIndexes } from './db/indexes.js';
import { WEB_DIST } from './http/web-site.js';
import { createNodeServer } from './node-server.js';
import { DEMO_USER, seedDemoData } from './seed.js';

// Checked before anything else happens: no embedded database, no demo data, no token signed with a production secret.
if (process.env.NODE_ENV === 'production') {
  console.error('npm run dev refuses NODE_ENV=production: it seeds demo data and prints tokens; deploy with npm run build (docs/deploy.md).');
  process.exit(1);
}

let stopEmbeddedDb: (() => Promise<void>) | undefined;
if (!process.env.MONGODB_URI) {
  // Imported only here, so the Vercel function never bundles the embedded database.
  const { startEmbeddedDb } = await import('./embedded-db/server.js');
  const embedded = await startEmbeddedDb({ port: Number(process.env.DB_PORT ?? 0), dataDir: process.env.EMBEDDED_DB_DIR ?? '.data' });
  process.env.MONGODB_URI = embedded.uri;
  stopEmbeddedDb = embedded.stop;
  console.log(`embedded database: ${embedded.uri} (data in ${process.env.EMBEDDED_DB_DIR ?? '.data'})`);
}
if (!process.env.AUTH_JWT_SECRET && !process.env.AUTH_JWKS_URL) {
  process.env.AUTH_JWT_SECRET = randomBytes(32).toString('hex');
  console.log('AUTH_JWT_SECRET was not set: generated one for this run.');
}
assertStartupConfig(readEnv());

const db = getDb();
await ensureIndexes(db);
if (await seedDemoData(db)) console.log('seeded demo data (package "atomic-counter")');

// The web page, built afresh (Vite, about a second) so / always shows the current web/src.
const { build: buildWeb } = await import('vite');
await buildWeb({ configFile: fileURLToPath(new URL('../web/vite.config.ts', import.meta.url)), logLevel: 'warn' });

const port = Number(process.env.PORT ?? 4000);
const server = createNodeServer({ webDir: WEB_DIST }).listen(port, () => {
  console.log(`web page on http://localhost:${port}/ and GraphQL API on http://localhost:${port}/api/graphql`);
});
if (process.env.AUTH_JWT_SECRET) {
  console.log(`token for "${DEMO_USER.id}": ${await signToken(DEMO_USER.id, { name: DEMO_USER.name })}`);
}

async function shutdown(): Promise<void> {
  server.close();
  await closeMongoClient();
  await stopEmbeddedDb?.();
  process.exit(0);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
