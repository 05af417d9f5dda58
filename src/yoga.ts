// The configured GraphQL server: imported by the Vercel function, the dev server and the tests.
import { createYoga } from 'graphql-yoga';
import { createContext, type Context } from './context.js';
import { useDbTrace } from './db/db-trace.plugin.js';
import { useCacheControl } from './http/cache-control.plugin.js';
import { useIdempotencyKeys } from './idempotency/idempotency.plugin.js';
import { useLiveEvents } from './live/live-sse.plugin.js';
import { logger } from './logger.js';
import { schema } from './schema.js';
import { corsOptions } from './security/origin.plugin.js';
import { securityPlugins } from './security/security.plugins.js';
import { securitySettings } from './security/settings.js';

export const yoga = createYoga<Record<string, unknown>, Context>({
  schema,
  graphqlEndpoint: '/api/graphql',
  context: createContext,
  // Unexpected errors reach clients as "Unexpected error." and are logged in full; typed results are data.
  maskedErrors: { isDev: false },
  logging: logger,
  // Settings are read per request (src/security/settings.ts), so importing this module never reads the environment.
  graphiql: () => securitySettings().graphiql,
  landingPage: false,
  cors: corsOptions,
  // One operation per request: a batch would multiply every per-operation limit.
  batching: false,
  // Replaced by the MAX_BODY_BYTES check in securityPlugins(), which answers 413 the same way.
  maxRequestBodySize: false,
  plugins: [...securityPlugins(), useDbTrace(), useIdempotencyKeys(), useCacheControl(), useLiveEvents()],
});
