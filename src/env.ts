// Reads environment variables lazily and checks them once, so importing a module never throws.
import * as z from 'zod/mini';
import { parseOriginPatterns } from './security/origin-patterns.js';
import { parseRateLimits } from './security/rate-limit-rules.js';

const EnvSchema = z.object({
  NODE_ENV: z._default(z.string(), 'development'),
  MONGODB_URI: z.optional(z.string()),
  MONGODB_DB: z.optional(z.string()),
  AUTH_JWT_SECRET: z.optional(z.string().check(z.minLength(32, 'AUTH_JWT_SECRET must be at least 32 characters'))),
  AUTH_JWKS_URL: z.optional(z.url()),
  AUTH_ISSUER: z.optional(z.string()),
  AUTH_AUDIENCE: z.optional(z.string()),
  DB_TRACE: z.optional(z.enum(['0', '1'])),
  VERCEL_ENV: z.optional(z.string()),
  VERCEL_GIT_COMMIT_REF: z.optional(z.string()),
  LOG_LEVEL: z.optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  // Security settings (docs/security.md); unset means the documented default.
  RATE_LIMITS: z.optional(z.string().check(checkWith(parseRateLimits))),
  MAX_BODY_BYTES: positiveInt(),
  MAX_DEPTH: positiveInt(),
  MAX_ALIASES: positiveInt(),
  MAX_TOKENS: positiveInt(),
  MAX_DIRECTIVES: positiveInt(),
  MAX_COST: positiveInt(),
  GRAPHQL_INTROSPECTION: z.optional(z.enum(['0', '1'])),
  GRAPHIQL: z.optional(z.enum(['0', '1'])),
  CORS_ORIGINS: z.optional(z.string().check(checkWith(parseOriginPatterns))),
  PERSISTED_OPERATIONS: z.optional(z.enum(['optional', 'required', 'strict'])),
  // Idempotency keys (docs/idempotency.md): how long a key is remembered, the window in which clients may retry;
  // and how long a started execution holds its key before a retry may take it over after a crash.
  IDEMPOTENCY_TTL_SECONDS: z._default(positiveInt(), 24 * 60 * 60),
  IDEMPOTENCY_LEASE_SECONDS: z._default(positiveInt(), 30),
  // Vercel sends it as a Bearer token with every cron invocation (docs/deploy.md); cron functions refuse without it.
  CRON_SECRET: z.optional(z.string().check(z.minLength(16, 'CRON_SECRET must be at least 16 characters'))),
  // Preview databases unused for this many days are dropped by `npm run previews:prune` and its cron.
  PREVIEW_TTL_DAYS: z._default(positiveInt(), 14),
  // Credits (docs/credits.md): the payment provider signs its webhooks with this secret; payouts go to this API.
  PAYMENTS_WEBHOOK_SECRET: z.optional(z.string().check(z.minLength(16, 'PAYMENTS_WEBHOOK_SECRET must be at least 16 characters'))),
  PAYOUT_PROVIDER_URL: z.optional(z.url()),
});

function positiveInt() {
  return z.optional(z.pipe(z.string().check(z.regex(/^[1-9][0-9]{0,9}$/, 'must be a positive whole number')), z.transform(Number)));
}

/** Runs a parser that throws on bad syntax as a zod check, so a bad value is reported with the others at startup. */
function checkWith(parse: (value: string) => unknown) {
  return z.superRefine((value: string, ctx) => {
    try {
      parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });
}

export type Env = z.infer<typeof EnvSchema>;

let cached: Env | undefined;

/** The parsed environment; the first call validates it and throws one clear message per bad value. */
export function readEnv(): Env {
  if (cached) return cached;
  const parsed = EnvSchema.safeParse(process.env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid environment:\n  ${problems.join('\n  ')}`);
  }
  cached = parsed.data;
  return cached;
}

/** Forgets the parsed environment; for tests and the dev server, which set variables before first use. */
export function resetEnv(): void {
  cached = undefined;
}

/** Database name: production uses MONGODB_DB (default "registry"); previews get one database per branch. */
export function resolveDatabaseName(env: Env = readEnv()): string {
  if (env.VERCEL_ENV === 'preview' && env.VERCEL_GIT_COMMIT_REF) {
    return previewDatabaseName(env.VERCEL_GIT_COMMIT_REF);
  }
  return primaryDatabaseName(env);
}

/** The database that is never seeded with demo data nor pruned: MONGODB_DB, default "registry". */
export function primaryDatabaseName(env: Env = readEnv()): string {
  return env.MONGODB_DB ?? 'registry';
}

/** Every preview database name starts with this; nothing else does (MONGODB_DB may not). */
export const PREVIEW_DB_PREFIX = 'preview_';

/** True when this instance serves a preview deployment from its own branch database (never MONGODB_DB). */
export function isPreviewDatabase(name: string, env: Env = readEnv()): boolean {
  return env.VERCEL_ENV === 'preview' && name.startsWith(PREVIEW_DB_PREFIX) && name !== primaryDatabaseName(env);
}

const MAX_DB_NAME_BYTES = 63;

/** Maps a git branch to a MongoDB database name: only [A-Za-z0-9_-], at most 63 bytes, stable per branch. */
export function previewDatabaseName(branch: string): string {
  const prefix = PREVIEW_DB_PREFIX;
  const cleaned = branch.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '') || 'branch';
  const name = prefix + cleaned;
  if (Buffer.byteLength(name) <= MAX_DB_NAME_BYTES) return name;
  // Long branch names are cut and suffixed with a hash so two long branches never share a database.
  const hash = fnv1a(branch).toString(36);
  return `${name.slice(0, MAX_DB_NAME_BYTES - hash.length - 1)}_${hash}`;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Refuses to start in production without a way to verify tokens and a real database; entry points call it first. */
export function assertStartupConfig(env: Env = readEnv()): void {
  if (env.NODE_ENV !== 'production') return;
  const missing: string[] = [];
  if (!env.AUTH_JWT_SECRET && !env.AUTH_JWKS_URL) missing.push('AUTH_JWT_SECRET or AUTH_JWKS_URL');
  if (!env.MONGODB_URI) missing.push('MONGODB_URI');
  if (missing.length > 0) throw new Error(`Refusing to start in production: set ${missing.join(' and ')}.`);
  if (env.MONGODB_DB?.startsWith(PREVIEW_DB_PREFIX)) {
    throw new Error(`Refusing to start in production: MONGODB_DB must not start with "${PREVIEW_DB_PREFIX}", which marks preview databases.`);
  }
  if (env.DB_TRACE === '1') throw new Error('Refusing to start in production: DB_TRACE exposes database commands; unset it.');
  if (env.AUTH_JWKS_URL) {
    // A hosted identity provider signs tokens for many applications: without iss and aud checks any of them would do.
    if (!env.AUTH_ISSUER || !env.AUTH_AUDIENCE) {
      throw new Error('Refusing to start in production: AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE.');
    }
    if (!env.AUTH_JWKS_URL.startsWith('https://')) throw new Error('Refusing to start in production: AUTH_JWKS_URL must be https.');
  }
}

/** Outside production only: the webhook secret `npm run dev` and `npm run payments:simulate` share when none is set. */
export const DEV_PAYMENTS_WEBHOOK_SECRET = 'dev-payments-webhook-secret-not-for-production';

/**
 * The secret payment webhooks are verified with. Production refuses to start the payment functions without one
 * (the GraphQL function does not need it, so it is checked where it is used); elsewhere a fixed development secret.
 */
export function paymentsWebhookSecret(env: Env = readEnv()): string {
  if (env.PAYMENTS_WEBHOOK_SECRET) return env.PAYMENTS_WEBHOOK_SECRET;
  if (env.NODE_ENV === 'production') throw new Error('Refusing to start in production: set PAYMENTS_WEBHOOK_SECRET.');
  return DEV_PAYMENTS_WEBHOOK_SECRET;
}
