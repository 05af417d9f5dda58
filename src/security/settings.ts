// Every security setting resolved from the environment with its documented default (README "Security",
// docs/security.md); resolved once per parsed environment, so tests and the dev server can change variables first.
import { readEnv, type Env } from '../env.js';
import { type OriginMatcher, parseOriginPatterns } from './origin-patterns.js';

/** The defaults, also listed in README.md and docs/security.md. */
export const DEFAULT_LIMITS = {
  /** MAX_BODY_BYTES: request bodies above this are refused with 413 before parsing. */
  maxBodyBytes: 100_000,
  /** MAX_DEPTH: nesting of selections; fragments do not add levels. */
  maxDepth: 8,
  /** MAX_ALIASES: aliases per operation. */
  maxAliases: 15,
  /** MAX_TOKENS: lexical tokens per document. */
  maxTokens: 1000,
  /** MAX_DIRECTIVES: directives per operation. */
  maxDirectives: 50,
  /**
   * MAX_COST: GraphQL Armor's estimate (objects 2, scalars 1, times 1.5 per level, times a literal first/last).
   * A page of 100 posts with every post field costs about 7,000.
   */
  maxCost: 10_000,
} as const;

export type PersistedOperationsMode = 'optional' | 'required' | 'strict';

export interface SecuritySettings {
  limits: { [K in keyof typeof DEFAULT_LIMITS]: number };
  /** Introspection, and with it "Did you mean" suggestions, which reveal the schema just as much. */
  introspection: boolean;
  graphiql: boolean;
  /** Origins (besides the API's own) browsers may call from; CORS_ORIGINS, else any in development and none in production. */
  allowedOrigin: OriginMatcher;
  persistedOperations: PersistedOperationsMode;
}

let cached: { env: Env; settings: SecuritySettings } | undefined;

export function securitySettings(env: Env = readEnv()): SecuritySettings {
  if (cached?.env === env) return cached.settings;
  const production = env.NODE_ENV === 'production';
  const settings: SecuritySettings = {
    limits: {
      maxBodyBytes: env.MAX_BODY_BYTES ?? DEFAULT_LIMITS.maxBodyBytes,
      maxDepth: env.MAX_DEPTH ?? DEFAULT_LIMITS.maxDepth,
      maxAliases: env.MAX_ALIASES ?? DEFAULT_LIMITS.maxAliases,
      maxTokens: env.MAX_TOKENS ?? DEFAULT_LIMITS.maxTokens,
      maxDirectives: env.MAX_DIRECTIVES ?? DEFAULT_LIMITS.maxDirectives,
      maxCost: env.MAX_COST ?? DEFAULT_LIMITS.maxCost,
    },
    introspection: env.GRAPHQL_INTROSPECTION === undefined ? !production : env.GRAPHQL_INTROSPECTION === '1',
    graphiql: env.GRAPHIQL === undefined ? !production : env.GRAPHIQL === '1',
    allowedOrigin: env.CORS_ORIGINS === undefined ? () => !production : parseOriginPatterns(env.CORS_ORIGINS),
    persistedOperations: env.PERSISTED_OPERATIONS ?? 'optional',
  };
  cached = { env, settings };
  return settings;
}
