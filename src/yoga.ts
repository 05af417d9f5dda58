// The configured GraphQL server: imported by the Vercel function, the dev server and the tests.
import { createYoga } from 'graphql-yoga';
import { createContext, type Context } from './context.js';
import { useDbTrace } from './db/db-trace.plugin.js';
import { useIdempotencyKeys } from './idempotency/idempotency.plugin.js';
import { logger } from './logger.js';
import { schema } from './schema.js';

const production = process.env.NODE_ENV === 'production';

export const yoga = createYoga<Record<string, unknown>, Context>({
  schema,
  graphqlEndpoint: '/api/graphql',
  context: createContext,
  // Unexpected errors reach clients as "Unexpected error." and are logged in full; typed results are data.
  maskedErrors: { isDev: false },
  logging: logger,
  graphiql: !production,
  landingPage: false,
  plugins: [useDbTrace(), useIdempotencyKeys()],
});
